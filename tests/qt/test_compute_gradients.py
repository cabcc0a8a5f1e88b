"""The gradient job on the compute thread: end to end on a small network, latest wins
per lane, one-line failures, the user's model as the forwards left it."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from cnnviz.compute.gradient_norms import run_gradients
from cnnviz.core.explain_jobs import GradientNorms, GradientRequest
from cnnviz.core.gradient_configs import deep_stack
from cnnviz.core.jobs import ForwardRequest
from cnnviz.qt.bridge.compute_gradients import GradientLanes
from cnnviz.qt.bridge.compute_thread import ComputeThread
from cnnviz.qt.bridge.mailbox import Call, Mailbox

WAIT_MS = 30_000
ARCH = deep_stack("Sigmoid")


@pytest.fixture
def thread():
    made = ComputeThread()
    yield made
    made.shutdown()


def test_norms_of_a_small_network_arrive_end_to_end(qtbot, thread):
    image = np.random.default_rng(0).random((1, 28, 28), dtype=np.float32)
    request = GradientRequest(2_000_001, ARCH, image, seed=3)
    with qtbot.waitSignal(thread.gradients_ready, timeout=WAIT_MS) as ready:
        thread.submit_gradients(request)
    norms = ready.args[0]
    assert isinstance(norms, GradientNorms)
    assert norms.request_id == request.request_id
    assert norms == run_gradients(request)  # what the compute function gives, unchanged


def test_the_current_network_uses_the_forwards_model(qtbot, thread):
    image = np.zeros((1, 28, 28), np.float32)
    with qtbot.waitSignal(thread.result_ready, timeout=WAIT_MS):
        thread.submit(ForwardRequest(1, ARCH, image, seed=3))
    request = GradientRequest(2_000_002, ARCH, image, seed=3)
    with qtbot.waitSignal(thread.gradients_ready, timeout=WAIT_MS) as ready:
        thread.submit_gradients(request)
    assert ready.args[0].activation_grad == run_gradients(request).activation_grad


def test_a_bad_request_fails_in_one_line(qtbot, thread):
    request = GradientRequest(2_000_003, ARCH, None, target=40, batch=2)
    with qtbot.waitSignal(thread.gradients_failed, timeout=WAIT_MS) as failed:
        thread.submit_gradients(request)
    failure = failed.args[0]
    assert failure.request_id == request.request_id
    assert failure.message == "there is no class 40 (0 to 9)"


def test_latest_wins_in_each_lane_and_lanes_do_not_replace_each_other(qtbot):
    mailbox = Mailbox()
    seen: list[int] = []
    lanes = GradientLanes(
        mailbox, compute=lambda _runner, r: GradientNorms(r.request_id, (), (), (), 0.0)
    )
    lanes.ready.connect(lambda norms: seen.append(norms.request_id))
    for request_id, lane in ((1, "main"), (2, "comparison"), (3, "main"), (4, "main")):
        lanes.submit(GradientRequest(request_id, ARCH, None), lane)
    worker = threading.Thread(target=lambda: [call(None) for call in _drain(mailbox)])
    worker.start()
    worker.join()
    qtbot.waitUntil(lambda: sorted(seen) == [2, 4], timeout=WAIT_MS)
    assert lanes.computed == 2  # requests 1 and 3 were replaced before they started
    assert lanes.latest("main") == 4


def _drain(mailbox: Mailbox) -> list[Call]:
    calls = []
    while (call := mailbox.take_call()) is not None:
        calls.append(call)
    return calls
