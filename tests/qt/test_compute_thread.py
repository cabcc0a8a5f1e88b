"""The compute thread: latest wins, stale results dropped, errors survived, clean stop."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from cnnviz.compute.model import build_model
from cnnviz.compute.runner import ForwardRunner
from cnnviz.compute.weights import save_weights
from cnnviz.core.architecture import Architecture, InputShape, Layer
from cnnviz.core.jobs import ForwardRequest, TrainConfig, TrainProgress, TrainRequest, TrainResult
from cnnviz.core.presets import load_preset
from cnnviz.qt.bridge import compute_training
from cnnviz.qt.bridge.compute_thread import ComputeThread

WAIT_MS = 20_000
ARCH = load_preset("tinyvgg").with_input(InputShape(3, 24, 24))


def request(request_id: int, arch: Architecture = ARCH, **changes) -> ForwardRequest:
    image = np.random.default_rng(request_id).random(arch.input.as_tuple(), dtype=np.float32)
    return ForwardRequest(request_id=request_id, architecture=arch, image=image, **changes)


def failing_request(request_id: int) -> ForwardRequest:
    """Batch norm in training mode over one value per channel: torch refuses at layer 2."""
    layers = (
        Layer.make("Conv2d", out_channels=2, kernel_size=3),
        Layer.make("AdaptiveAvgPool2d", output_size=1),
        Layer.make("BatchNorm2d"),
    )
    arch = Architecture("fails", InputShape(1, 6, 6), layers)
    return request(request_id, arch, train_mode=True)


@pytest.fixture
def make_thread():
    threads = []

    def make(**kwargs) -> ComputeThread:
        thread = ComputeThread(**kwargs)
        threads.append(thread)
        return thread

    yield make
    for thread in threads:
        thread.shutdown()


def collect(signal) -> list:
    seen = []
    signal.connect(seen.append)
    return seen


def warm_up(qtbot, thread: ComputeThread) -> None:
    """torch loaded and the model built, so later timings are the mailbox's."""
    with qtbot.waitSignal(thread.result_ready, timeout=WAIT_MS):
        thread.submit(request(10_000))


def settle(qtbot, thread: ComputeThread) -> None:
    """Wait until the worker has nothing left, then deliver what it emitted."""
    qtbot.waitUntil(
        lambda: (
            thread.forwards_finished + thread.forwards_cancelled == thread.forwards_started
            and thread._mailbox.forward is None
        ),
        timeout=WAIT_MS,
    )
    qtbot.wait(50)


def test_a_result_arrives_with_device_and_busy_signals(qtbot, make_thread):
    thread = make_thread()
    busy, devices = collect(thread.busy_changed), collect(thread.device_changed)
    with qtbot.waitSignal(thread.result_ready, timeout=WAIT_MS) as blocker:
        thread.submit(request(1))
    result = blocker.args[0]
    assert result.request_id == 1
    assert len(result.layers) == len(ARCH.layers)
    qtbot.waitUntil(lambda: busy[-1:] == [False], timeout=WAIT_MS)
    assert busy[0] is True
    assert devices == ["CPU"]


def test_a_result_finished_after_a_newer_submission_is_dropped(qtbot, make_thread):
    thread = make_thread()
    warm_up(qtbot, thread)
    results = collect(thread.result_ready)
    finished = thread.forwards_finished
    thread.submit(request(1))
    deadline = time.monotonic() + WAIT_MS / 1000
    while thread.forwards_finished == finished and time.monotonic() < deadline:
        time.sleep(0.001)  # no event processing: result 1 waits in the queue
    thread.submit(request(2))
    qtbot.waitUntil(lambda: any(r.request_id == 2 for r in results), timeout=WAIT_MS)
    settle(qtbot, thread)
    assert [r.request_id for r in results] == [2]
    assert thread.stale_dropped == 1


class GatedRunner(ForwardRunner):
    """Holds its first forward at the first layer boundary until released."""

    def __init__(self) -> None:
        super().__init__()
        self.entered, self.release = threading.Event(), threading.Event()

    def run(self, request, should_cancel=None):
        def gate() -> bool:
            if not self.entered.is_set():
                self.entered.set()
                self.release.wait(WAIT_MS / 1000)
            return should_cancel()

        return super().run(request, gate)


def test_a_running_forward_stops_between_layers_when_superseded(qtbot, make_thread):
    runners = []
    thread = make_thread(
        runner_factory=lambda: runners.append(GatedRunner()) or runners[-1], hold_ms=0
    )
    results = collect(thread.result_ready)
    thread.submit(request(1))
    qtbot.waitUntil(lambda: bool(runners) and runners[0].entered.is_set(), timeout=WAIT_MS)
    thread.submit(request(2))
    runners[0].release.set()
    qtbot.waitUntil(lambda: bool(results), timeout=WAIT_MS)
    settle(qtbot, thread)
    assert [r.request_id for r in results] == [2]
    assert (thread.forwards_started, thread.forwards_cancelled) == (2, 1)


def test_100_submissions_in_a_burst_give_one_result_the_last(qtbot, make_thread):
    # The first forward is held at a layer boundary while 99 more arrive: the
    # one-slot mailbox keeps only the newest, so exactly two forwards start (the
    # held one, then cancelled, and the last). How many start without the hold
    # depends on timing: tests/benchmarks/bench_gui_responsiveness.py reports it.
    runners = []
    thread = make_thread(
        runner_factory=lambda: runners.append(GatedRunner()) or runners[-1], hold_ms=0
    )
    results = collect(thread.result_ready)
    thread.submit(request(1))
    qtbot.waitUntil(lambda: bool(runners) and runners[0].entered.is_set(), timeout=WAIT_MS)
    for request_id in range(2, 101):
        thread.submit(request(request_id))
    runners[0].release.set()
    qtbot.waitUntil(lambda: any(r.request_id == 100 for r in results), timeout=WAIT_MS)
    settle(qtbot, thread)
    assert [r.request_id for r in results] == [100]
    assert (thread.forwards_started, thread.forwards_cancelled) == (2, 1)


class HoldingRunner(ForwardRunner):
    """Holds every forward at its first layer boundary until released, as a slow
    network would; a newer request still stops a held forward."""

    def __init__(self) -> None:
        super().__init__()
        self.entered, self.release = threading.Event(), threading.Event()

    def run(self, request, should_cancel=None):
        def gate() -> bool:
            self.entered.set()
            while not self.release.is_set() and not should_cancel():
                time.sleep(0.001)
            return should_cancel()

        return super().run(request, gate)


def holding_thread(make_thread, **kwargs) -> tuple[ComputeThread, list]:
    runners = []
    thread = make_thread(
        runner_factory=lambda: runners.append(HoldingRunner()) or runners[-1], **kwargs
    )
    return thread, runners


def test_a_burst_of_edits_while_a_forward_runs_starts_two_forwards(qtbot, make_thread):
    # Each submission comes after the worker could take the last one, as edits
    # do when the GUI spends longer on each than the debounce. Stopping the
    # running forward for each started 100 forwards; held, the newest waits for
    # the running one to end: two forwards, and the result is the last request's.
    thread, runners = holding_thread(make_thread, hold_ms=None)
    results = collect(thread.result_ready)
    thread.submit(request(1))
    qtbot.waitUntil(lambda: bool(runners) and runners[0].entered.is_set(), timeout=WAIT_MS)
    for request_id in range(2, 101):
        thread.submit(request(request_id))
        qtbot.waitUntil(lambda: thread._mailbox.forward is None, timeout=WAIT_MS)
    runners[0].release.set()
    qtbot.waitUntil(lambda: any(r.request_id == 100 for r in results), timeout=WAIT_MS)
    settle(qtbot, thread)
    assert [r.request_id for r in results] == [100]
    assert (thread.forwards_started, thread.forwards_cancelled) == (2, 0)


def test_a_held_request_stops_a_forward_that_runs_too_long(qtbot, make_thread):
    thread, runners = holding_thread(make_thread, hold_ms=20)
    results = collect(thread.result_ready)
    thread.submit(request(1))
    qtbot.waitUntil(lambda: bool(runners) and runners[0].entered.is_set(), timeout=WAIT_MS)
    thread.submit(request(2))  # held 20 ms, then it stops forward 1
    qtbot.waitUntil(lambda: thread.forwards_cancelled == 1, timeout=WAIT_MS)
    runners[0].release.set()
    qtbot.waitUntil(lambda: bool(results), timeout=WAIT_MS)
    settle(qtbot, thread)
    assert [r.request_id for r in results] == [2]
    assert thread.forwards_started == 2


def test_a_failing_layer_reports_and_the_next_request_works(qtbot, make_thread):
    thread = make_thread()
    with qtbot.waitSignal(thread.failed, timeout=WAIT_MS) as blocker:
        thread.submit(failing_request(1))
    failure = blocker.args[0]
    assert failure.request_id == 1
    assert failure.message.startswith("layer 2 BatchNorm2d failed: Expected more than 1 value")
    with qtbot.waitSignal(thread.result_ready, timeout=WAIT_MS) as blocker:
        thread.submit(request(2))
    assert blocker.args[0].request_id == 2
    assert thread.is_running()


class BrokenOnceRunner(ForwardRunner):
    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def run(self, request, should_cancel=None):
        self.calls += 1
        if self.calls == 1:
            raise KeyError("a bug")
        return super().run(request, should_cancel)


def test_an_unexpected_error_is_a_failure_not_a_crash(qtbot, make_thread):
    thread = make_thread(runner_factory=BrokenOnceRunner)
    with qtbot.waitSignal(thread.failed, timeout=WAIT_MS) as blocker:
        thread.submit(request(1))
    assert blocker.args[0].message.startswith("unexpected error (KeyError: 'a bug')")
    with qtbot.waitSignal(thread.result_ready, timeout=WAIT_MS):
        thread.submit(request(2))


def test_an_engine_that_cannot_start_says_so(qtbot, make_thread):
    def no_torch():
        raise ImportError("No module named 'torch'")

    failures = []
    thread = make_thread(runner_factory=no_torch)
    thread.failed.connect(failures.append)
    qtbot.waitUntil(lambda: bool(failures), timeout=WAIT_MS)
    assert failures[0].request_id == -1
    assert "torch could not be loaded: No module named 'torch'" in failures[0].message
    thread.submit(request(3))
    qtbot.waitUntil(lambda: len(failures) == 2, timeout=WAIT_MS)
    assert failures[1].message == "the compute engine is not running"


def test_shutdown_stops_the_thread_and_is_idempotent(qtbot, make_thread):
    thread = make_thread()
    results = collect(thread.result_ready)
    thread.submit(request(1))
    thread.shutdown()
    thread.shutdown()
    assert not thread.is_running()
    thread.submit(request(2))  # ignored, no crash
    qtbot.wait(50)
    assert results == []


def test_torch_is_not_imported_with_the_qt_side():
    code = "import sys, cnnviz.qt.bridge.compute_thread; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# -- training plumbing, with a stand-in for cnnviz.compute.train.train ------------


def trained_state(arch: Architecture, value: float) -> dict[str, np.ndarray]:
    return {
        k: np.full(v.shape, value, np.float32) for k, v in build_model(arch).state_dict().items()
    }


def progress(request_id: int, step: int) -> TrainProgress:
    return TrainProgress(request_id, 1, 1, step, 3, train_loss=1.0 / step, train_accuracy=0.5)


def quick_train(arch, config, *, request_id, initial_state, on_progress, should_stop):
    for step in (1, 2, 3):
        on_progress(progress(request_id, step))
        if should_stop():
            return TrainResult(request_id, {}, 0.0, None, 0, True, 0.0)
    return TrainResult(request_id, trained_state(arch, 0.02), 0.9, 0.85, 1, False, 0.01)


def endless_train(arch, config, *, request_id, initial_state, on_progress, should_stop):
    step = 0
    while not should_stop():
        step += 1
        time.sleep(0.002)
        if step > 10_000:
            break
    return TrainResult(request_id, trained_state(arch, 0.5), 0.5, None, 1, True, 0.1)


def test_training_reports_progress_then_its_weights_are_used(qtbot, make_thread, monkeypatch):
    monkeypatch.setattr(compute_training, "PROGRESS_MIN_INTERVAL_S", 0.0)
    thread = make_thread(train_function=quick_train)
    steps = collect(thread.training_progress)
    with qtbot.waitSignal(thread.training_finished, timeout=WAIT_MS) as blocker:
        thread.start_training(TrainRequest(7, ARCH, TrainConfig()))
    assert blocker.args[0].test_accuracy == 0.85
    assert [p.step for p in steps] == [1, 2, 3]
    with qtbot.waitSignal(thread.result_ready, timeout=WAIT_MS) as blocker:
        thread.submit(request(8))
    assert np.all(blocker.args[0].filters[0][0] == np.float32(0.02))


def test_training_thins_progress_and_gives_the_switch_interval_back(
    qtbot, make_thread, monkeypatch
):
    # Within an epoch, reports closer than PROGRESS_MIN_INTERVAL_S are dropped (each
    # repaints the Training panel); the first and the epoch's last always arrive.
    # While training, the GIL is handed over sooner, and afterwards as before.
    monkeypatch.setattr(compute_training, "PROGRESS_MIN_INTERVAL_S", 3600.0)
    monkeypatch.setattr(compute_training, "TRAINING_SWITCH_INTERVAL_S", 0.0007)
    during = []

    def train(arch, config, **kwargs):
        during.append(sys.getswitchinterval())
        return quick_train(arch, config, **kwargs)

    before = sys.getswitchinterval()
    thread = make_thread(train_function=train)
    steps = collect(thread.training_progress)
    with qtbot.waitSignal(thread.training_finished, timeout=WAIT_MS):
        thread.start_training(TrainRequest(7, ARCH, TrainConfig()))
    assert [p.step for p in steps] == [1, 3]
    assert during == [pytest.approx(0.0007)]
    assert sys.getswitchinterval() == before


def test_forwards_are_served_during_training_and_cancel_stops_it(qtbot, make_thread):
    thread = make_thread(train_function=endless_train)
    finished = collect(thread.training_finished)
    thread.start_training(TrainRequest(7, ARCH, TrainConfig()))
    qtbot.waitUntil(lambda: thread._mailbox.training is None, timeout=WAIT_MS)  # it started
    with qtbot.waitSignal(thread.result_ready, timeout=WAIT_MS) as blocker:
        thread.submit(request(9))
    assert blocker.args[0].request_id == 9
    assert finished == []  # still training
    thread.cancel_training()
    qtbot.waitUntil(lambda: bool(finished), timeout=WAIT_MS)
    assert finished[0].cancelled


def test_a_training_error_is_reported_and_the_thread_goes_on(qtbot, make_thread):
    def refuse(arch, config, **_):
        raise ValueError("the stack ends in 7 outputs but digits has 10 classes")

    thread = make_thread(train_function=refuse)
    also_failed = collect(thread.failed)
    with qtbot.waitSignal(thread.training_failed, timeout=WAIT_MS) as blocker:
        thread.start_training(TrainRequest(7, ARCH, TrainConfig()))
    assert blocker.args[0].message == "the stack ends in 7 outputs but digits has 10 classes"
    assert blocker.args[0].request_id == 7
    qtbot.waitUntil(lambda: bool(also_failed), timeout=WAIT_MS)
    with qtbot.waitSignal(thread.result_ready, timeout=WAIT_MS):
        thread.submit(request(8))


def test_training_starts_from_the_requested_weights_file(qtbot, make_thread, tmp_path):
    seen = {}

    def record(arch, config, *, request_id, initial_state, on_progress, should_stop):
        seen.update(initial_state)
        return TrainResult(request_id, {}, 0.0, None, 0, True, 0.0)

    path = tmp_path / "start.safetensors"
    save_weights(build_model(ARCH, 3), path)
    thread = make_thread(train_function=record)
    with qtbot.waitSignal(thread.training_finished, timeout=WAIT_MS):
        thread.start_training(TrainRequest(7, ARCH, TrainConfig(), weights_path=str(path)))
    assert set(seen) == set(build_model(ARCH).state_dict())
