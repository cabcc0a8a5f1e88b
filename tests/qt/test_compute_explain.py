"""The compute thread's explain job: latest wins, progress, cancel, one-line failures.

The explanation itself is replaced by a stand-in (``explain_function``): these
tests are about the thread's rules, not about attribution (tests/compute/).
"""

from __future__ import annotations

import threading

import numpy as np
import pytest

from cnnviz.core.architecture import InputShape
from cnnviz.core.explain_jobs import ExplainRequest, Explanation
from cnnviz.core.presets import load_preset
from cnnviz.qt.bridge.compute_thread import ComputeThread
from cnnviz.qt.bridge.mailbox import Mailbox

WAIT_MS = 20_000
ARCH = load_preset("tinyvgg").with_input(InputShape(3, 24, 24))


def explain_request(request_id: int, **changes) -> ExplainRequest:
    image = np.zeros(ARCH.input.as_tuple(), np.float32)
    return ExplainRequest(request_id, ARCH, image, changes.pop("method", "saliency"), **changes)


def answer(request: ExplainRequest) -> Explanation:
    picture = np.full((24, 24), float(request.request_id), np.float32)
    return Explanation(request.request_id, request.method, request.target or 0, 1.5, picture)


class Recorder:
    """A stand-in explanation: reports progress, may wait until told or cancelled."""

    def __init__(self):
        self.release = threading.Event()
        self.started: list[int] = []
        self.wait_for: set[int] = set()
        self.saw_cancel: list[int] = []
        # Held clear, a cancelled job waits before it stops: the test decides when the
        # thread may pick its next request (not the speed of the machine).
        self.cancel_gate = threading.Event()
        self.cancel_gate.set()

    def __call__(self, runner, request, should_cancel, progress):
        from cnnviz.compute.forward import Cancelled

        self.started.append(request.request_id)
        progress(1, 4)
        while request.request_id in self.wait_for and not self.release.is_set():
            if should_cancel():
                self.cancel_gate.wait(WAIT_MS / 1000)
                self.saw_cancel.append(request.request_id)
                raise Cancelled()
            self.release.wait(0.005)
        if request.method == "occlusion" and request.window > 64:
            raise ValueError("the window is larger than the image\nsecond line")
        progress(4, 4)
        return answer(request)


@pytest.fixture
def thread_with():
    threads = []

    def make(function) -> ComputeThread:
        thread = ComputeThread(runner_factory=object, explain_function=function)
        threads.append(thread)
        return thread

    yield make
    for thread in threads:
        thread.shutdown()


def collect(signal) -> list:
    seen = []
    signal.connect(seen.append)
    return seen


def test_an_explanation_and_its_progress_arrive(qtbot, thread_with):
    thread = thread_with(Recorder())
    progress = collect(thread.explain_progress)
    with qtbot.waitSignal(thread.explain_ready, timeout=WAIT_MS) as ready:
        thread.submit_explain(explain_request(7, target=3))
    assert ready.args[0].request_id == 7 and ready.args[0].target == 3
    qtbot.waitUntil(lambda: len(progress) == 2, timeout=WAIT_MS)
    assert [(p.request_id, p.done, p.total) for p in progress] == [(7, 1, 4), (7, 4, 4)]


def test_a_newer_request_stops_the_running_one_and_only_its_result_arrives(qtbot, thread_with):
    recorder = Recorder()
    recorder.wait_for = {1}
    thread = thread_with(recorder)
    results = collect(thread.explain_ready)
    thread.submit_explain(explain_request(1))
    qtbot.waitUntil(lambda: recorder.started == [1], timeout=WAIT_MS)
    recorder.cancel_gate.clear()  # job 1 stops only once all three are waiting
    for request_id in (2, 3, 4):  # the waiting ones replace each other: latest wins
        thread.submit_explain(explain_request(request_id))
    recorder.cancel_gate.set()
    qtbot.waitUntil(lambda: len(results) == 1, timeout=WAIT_MS)
    qtbot.wait(50)
    assert recorder.saw_cancel == [1]
    assert recorder.started == [1, 4]
    assert [r.request_id for r in results] == [4]


def test_cancel_stops_the_running_explanation_and_nothing_arrives(qtbot, thread_with):
    recorder = Recorder()
    recorder.wait_for = {5}
    thread = thread_with(recorder)
    results, failures = collect(thread.explain_ready), collect(thread.failed)
    thread.submit_explain(explain_request(5))
    qtbot.waitUntil(lambda: recorder.started == [5], timeout=WAIT_MS)
    thread.cancel_explain()
    qtbot.waitUntil(lambda: recorder.saw_cancel == [5], timeout=WAIT_MS)
    # The next request runs as usual: the cancel was for the running one only.
    with qtbot.waitSignal(thread.explain_ready, timeout=WAIT_MS):
        thread.submit_explain(explain_request(6))
    assert [r.request_id for r in results] == [6] and failures == []


def test_a_stale_result_is_dropped_on_the_gui_thread(qtbot, thread_with):
    recorder = Recorder()
    recorder.wait_for = {1}
    thread = thread_with(recorder)
    results = collect(thread.explain_ready)
    thread.submit_explain(explain_request(1))
    qtbot.waitUntil(lambda: recorder.started == [1], timeout=WAIT_MS)
    thread._latest_job[ExplainRequest] = 2  # as if 2 were submitted, not yet in the mailbox
    recorder.release.set()  # 1 ends without noticing
    qtbot.waitUntil(lambda: thread.stale_dropped >= 1, timeout=WAIT_MS)
    qtbot.wait(50)
    assert results == []


def test_a_failure_is_one_line_with_the_request_id(qtbot, thread_with):
    thread = thread_with(Recorder())
    with qtbot.waitSignal(thread.failed, timeout=WAIT_MS) as failed:
        thread.submit_explain(explain_request(9, method="occlusion", window=100))
    assert failed.args[0].request_id == 9
    assert failed.args[0].message == "the window is larger than the image"
    # The thread survives it.
    with qtbot.waitSignal(thread.explain_ready, timeout=WAIT_MS):
        thread.submit_explain(explain_request(10))


def test_a_forward_waiting_goes_before_an_explanation():
    from cnnviz.core.jobs import ForwardRequest

    box = Mailbox()
    box.put_job(explain_request(1))
    box.put_job(explain_request(2))
    box.put_forward(ForwardRequest(3, ARCH, np.zeros((3, 24, 24), np.float32)))
    assert box.wait_for_job(lambda: None).request_id == 3
    assert box.job_superseded(ExplainRequest)  # 2 waits
    assert box.wait_for_job(lambda: None).request_id == 2
    assert not box.job_superseded(ExplainRequest)


def test_a_forward_stops_a_running_explanation_which_then_starts_again(qtbot, thread_with):
    from cnnviz.core.jobs import ForwardRequest

    recorder = Recorder()
    recorder.wait_for = {1}
    thread = thread_with(recorder)
    results, failures = collect(thread.explain_ready), collect(thread.failed)
    thread.submit_explain(explain_request(1))
    qtbot.waitUntil(lambda: recorder.started == [1], timeout=WAIT_MS)
    # The stand-in runner cannot run forwards: the forward fails, and that is all it does.
    thread.submit(ForwardRequest(2, ARCH, np.zeros((3, 24, 24), np.float32)))
    # The failure crosses to this thread as a queued signal: wait for it, not only for
    # the compute thread's restart of 1 (which can come first).
    qtbot.waitUntil(lambda: recorder.started == [1, 1] and len(failures) == 1, timeout=WAIT_MS)
    assert recorder.saw_cancel == [1] and [f.request_id for f in failures] == [2]
    recorder.release.set()
    qtbot.waitUntil(lambda: len(results) == 1, timeout=WAIT_MS)
    assert results[0].request_id == 1


def test_a_job_put_back_after_a_forward_never_replaces_a_newer_one():
    box = Mailbox()
    box.put_job(explain_request(2))
    assert not box.resume_later(explain_request(1))
    assert box.wait_for_job(lambda: None).request_id == 2
    box.cancel_job(ExplainRequest)  # the person pressed Cancel while 2 ran
    assert not box.resume_later(explain_request(2))
    assert not box.jobs
