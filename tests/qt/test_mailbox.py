"""The compute thread's mailbox on its own: latest wins, forwards before training, stop."""

from __future__ import annotations

import threading

import numpy as np

from cnnviz.core.jobs import ForwardRequest, TrainConfig, TrainRequest
from cnnviz.qt.bridge.mailbox import HeldForward, Mailbox
from tests.tiny_net import TINY


def forward(request_id: int) -> ForwardRequest:
    return ForwardRequest(request_id, TINY, np.zeros((1, 8, 8), np.float32))


def training(request_id: int) -> TrainRequest:
    return TrainRequest(request_id, TINY, TrainConfig(epochs=1))


def never_idle() -> None:
    raise AssertionError("there was a job waiting")


def test_a_newer_forward_replaces_one_not_started():
    box = Mailbox()
    for request_id in range(1, 101):
        box.put_forward(forward(request_id))
    assert box.wait_for_job(never_idle).request_id == 100
    assert box.take_forward() is None  # the 99 others are gone, not queued


def test_a_waiting_forward_supersedes_the_running_one():
    box = Mailbox()
    box.put_forward(forward(1))
    running = box.take_forward()
    assert running.request_id == 1 and not box.superseded()
    box.put_forward(forward(2))
    assert box.superseded()
    assert box.take_forward().request_id == 2 and not box.superseded()


def test_forwards_are_served_before_waiting_training():
    box = Mailbox()
    box.put_training(training(7))
    box.put_forward(forward(8))
    assert isinstance(box.wait_for_job(never_idle), ForwardRequest)
    job = box.wait_for_job(never_idle)
    assert isinstance(job, TrainRequest) and job.request_id == 7


def test_cancelled_training_is_dropped_and_flagged():
    box = Mailbox()
    box.put_training(training(3))
    box.cancel_training()
    assert box.training is None and box.training_cancelled
    box.put_training(training(4))  # a new run clears the flag
    assert not box.training_cancelled


def test_an_idle_worker_waits_until_a_job_arrives_and_stop_ends_the_wait():
    box = Mailbox()
    idle = threading.Event()
    jobs = []

    def worker():
        while (job := box.wait_for_job(idle.set)) is not None:
            jobs.append(job.request_id)

    thread = threading.Thread(target=worker)
    thread.start()
    assert idle.wait(5)  # nothing to do: it said so and waits
    idle.clear()
    box.put_forward(forward(5))
    assert idle.wait(5)  # served it, idle again
    box.stop()
    thread.join(5)
    assert not thread.is_alive() and jobs == [5]
    assert box.superseded()  # a running forward stops when the thread stops


def test_a_request_offered_while_one_runs_is_held_and_the_newest_goes_next():
    held = HeldForward()
    assert held.offer(forward(1)).request_id == 1
    assert held.offer(forward(2)) is None
    assert held.offer(forward(3)) is None  # replaces 2
    assert held.done(99) is None  # not the one running
    assert held.done(1).request_id == 3
    assert held.done(3) is None and held.in_flight is None
    assert held.offer(forward(4), hold=False).request_id == 4
    assert held.offer(forward(5)) is None
    assert held.release().request_id == 5 and held.in_flight == 5
