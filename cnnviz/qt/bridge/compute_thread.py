"""The compute thread: one long-lived QThread owns torch; the latest request wins.

The GUI calls ``submit(request)`` as often as it likes (every slider step).
The request goes into a one-slot mailbox: a newer request replaces one that
has not started, and a forward that is running notices between layers that a
newer one is waiting and stops (``Cancelled``). Every result carries its
request id, and results or failures for anything but the latest submission are
dropped here, on the GUI thread, so a stale picture is never shown. Errors
arrive as ``failed(ComputeFailure)`` with a one-line message; the thread
survives them.

Torch is imported inside the thread, so the window appears before torch has
loaded, and torch runs on one intra-op thread there (``torch.set_num_threads``
is per calling thread), leaving the other core to the GUI; see
tests/benchmarks/bench_gui_responsiveness.py for the measurement.

Training (``start_training``) runs in the same thread; forwards submitted
meanwhile are served between training steps. ``shutdown()`` stops everything
and waits; it is idempotent, and runs by itself when the application quits.

Other kinds of job (an explanation: ``submit_explain``) have a slot of their
own in the mailbox, with the same rule: the latest of each kind wins, and
only its result, progress or failure reaches the GUI.

This module is the GUI's side; the thread is in compute_worker, its jobs in
compute_forward, compute_training and compute_explain.
"""

from __future__ import annotations

import atexit
import contextlib
import weakref
from collections.abc import Callable
from typing import Any, ClassVar

from PySide6.QtCore import QCoreApplication, QObject, QTimer, Signal, Slot

from cnnviz.core.explain_jobs import ExplainProgress, ExplainRequest, Explanation
from cnnviz.core.jobs import ComputeFailure, ForwardRequest, TrainRequest
from cnnviz.qt.bridge.compute_failures import first_line
from cnnviz.qt.bridge.compute_gradients import MAIN, GradientLanes
from cnnviz.qt.bridge.compute_worker import RUNNING, Worker, stop_and_wait
from cnnviz.qt.bridge.mailbox import Call, HeldForward, Mailbox

# How long a newer request waits for the running forward before stopping it.
# Without the wait, each edit of a burst (slower on the GUI than the debounce)
# started its own forward: 100 edits, ~100 forwards, each stopped by the next.
HOLD_MS = 1000

# Other kinds of job: result type -> (request type, signal for the latest's result).
JOB_RESULTS = {Explanation: (ExplainRequest, "explain_ready")}
JOB_PROGRESS = {ExplainProgress: (ExplainRequest, "explain_progress")}


class ComputeThread(QObject):
    """The GUI's handle on the compute thread (create and use it on the GUI thread)."""

    result_ready = Signal(object)  # ForwardResult of the latest forward request
    failed = Signal(object)  # ComputeFailure (latest forward, a training, or id -1)
    busy_changed = Signal(bool)
    device_changed = Signal(str)  # e.g. "CPU", "CUDA: NVIDIA H100 80GB HBM3"
    training_progress = Signal(object)  # TrainProgress
    training_finished = Signal(object)  # TrainResult
    training_failed = Signal(object)  # ComputeFailure of a TrainRequest (also sent on failed)
    gradients_ready = Signal(object)  # GradientNorms, the newest of its lane
    gradients_failed = Signal(object)  # ComputeFailure of the newest GradientRequest of its lane
    explain_ready = Signal(object)  # Explanation of the latest explain request
    explain_progress = Signal(object)  # ExplainProgress of the latest explain request

    _instances: ClassVar[weakref.WeakSet] = weakref.WeakSet()

    def __init__(
        self,
        parent: QObject | None = None,
        *,
        num_threads: int = 1,
        runner_factory: Callable[[], Any] | None = None,
        train_function: Callable[..., Any] | None = None,
        hold_ms: int | None = HOLD_MS,
        explain_function: Callable[..., Any] | None = None,
    ):
        """``runner_factory``, ``train_function`` and ``explain_function`` (see
        compute_explain) replace the real compute (tests).
        ``hold_ms``: how long a request waits for the running forward before it
        stops it (0: at once; None: never, it waits for the end)."""
        super().__init__(parent)
        self._mailbox = Mailbox()
        self._held = HeldForward()
        self._hold_ms = hold_ms
        self._hold_timer = QTimer(self)
        self._hold_timer.setSingleShot(True)
        self._hold_timer.timeout.connect(self._stop_waiting)
        self._latest_forward_id: int | None = None
        self._latest_job: dict[type, int] = {}  # request type -> the latest id submitted
        self._stopped = False
        self.stale_dropped = 0
        self._worker = Worker(
            self._mailbox, num_threads, runner_factory, train_function, explain_function
        )
        self._worker.result.connect(self._on_result)
        self._worker.failure.connect(self._on_failure)
        self._worker.training_failure.connect(self._on_training_failure)
        self._worker.progress.connect(self._on_progress)
        self._worker.trained.connect(self._on_trained)
        self._worker.busy.connect(self._on_busy)
        self._worker.device.connect(self._on_device)
        self._worker.forward_done.connect(self._on_forward_done)
        self._worker.job_result.connect(self._on_job_result)
        self._worker.job_progress.connect(self._on_job_progress)
        self._worker.job_failure.connect(self._on_job_failure)
        self._worker.finished.connect(self._forget_worker)
        # Gradient norms travel as mailbox calls, in lanes of their own (compute_gradients).
        self.gradients = GradientLanes(self._mailbox, self)
        self.gradients.ready.connect(self.gradients_ready)
        self.gradients.failed.connect(self.gradients_failed)
        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.shutdown)
        ComputeThread._instances.add(self)
        RUNNING.add(self._worker)
        self._worker.start()

    # -- GUI thread API ----------------------------------------------------------
    def submit(self, request: ForwardRequest) -> None:
        """Compute ``request``, superseding every earlier one. While a forward
        runs, the newest request waits (see HOLD_MS) instead of stopping it."""
        if self._stopped:
            return
        self._latest_forward_id = request.request_id
        ready = self._held.offer(request, hold=self._hold_ms != 0)
        if ready is not None:
            self._mailbox.put_forward(ready)
        elif self._hold_ms is not None and not self._hold_timer.isActive():
            self._hold_timer.start(self._hold_ms)

    @Slot(int)
    def _on_forward_done(self, request_id: int) -> None:
        ready = self._held.done(request_id)
        if ready is not None and not self._stopped:
            self._hold_timer.stop()
            self._mailbox.put_forward(ready)

    @Slot()
    def _stop_waiting(self) -> None:
        """The running forward took too long: the held request supersedes it."""
        ready = self._held.release()
        if ready is not None and not self._stopped:
            self._mailbox.put_forward(ready)

    def submit_explain(self, request: ExplainRequest) -> None:
        """Explain `request` (an attribution map), superseding every earlier one:
        a running explanation stops at its next check."""
        self._submit_job(request)

    def cancel_explain(self) -> None:
        """Stop the running explanation (the user pressed Cancel); nothing arrives for it."""
        self._latest_job.pop(ExplainRequest, None)
        self._mailbox.cancel_job(ExplainRequest)

    def _submit_job(self, request: Any) -> None:
        if not self._stopped:
            self._latest_job[type(request)] = request.request_id
            self._mailbox.put_job(request)

    def put_call(self, function: Callable[[Any], None]) -> None:
        """Run `function(runner)` on the compute thread between jobs, without waiting
        (a lab's job that keeps its own latest-wins slot, as GradientLanes do)."""
        if not self._stopped:
            self._mailbox.put_call(Call(function))

    def submit_gradients(self, request, lane: str = MAIN) -> None:
        """Compute a GradientRequest's norms (compute_gradients): latest wins per lane."""
        if not self._stopped:
            self.gradients.submit(request, lane)

    def start_training(self, request: TrainRequest) -> None:
        if not self._stopped:
            self._mailbox.put_training(request)

    def cancel_training(self) -> None:
        """Stop the running training at its next step (it keeps its best weights)."""
        self._mailbox.cancel_training()

    def weights_snapshot(
        self, request: ForwardRequest, known: int | None = None, timeout_s: float = 60.0
    ) -> tuple[int, dict | None, bool] | None:
        """(token, numpy state dict, fresh) of the model for `request`: the weights
        the network holds now, for saving (see ForwardRunner.weights_snapshot);
        None without a running engine. Blocks until the compute thread hands them
        over (between forwards or training steps); RuntimeError with a plain
        reason when it cannot within `timeout_s`."""
        if self._stopped or not self._worker.isRunning():
            return None  # no model, nothing beyond the document's own references
        call = Call(lambda runner: runner and runner.weights_snapshot(request, known))
        self._mailbox.put_call(call)
        if not call.done.wait(timeout_s):
            raise RuntimeError(f"the compute engine did not answer within {timeout_s:g} s")
        if call.error is not None:
            raise RuntimeError(first_line(call.error))
        return call.result

    def forget_model(self) -> None:
        """A new document: the next forward builds or loads its own model, keeping
        nothing of the last one (whose weights may have been trained)."""
        if not self._stopped:
            self._mailbox.put_call(Call(lambda runner: runner and runner.forget()))

    def shutdown(self) -> None:
        """Stop the thread and wait for it; safe to call more than once."""
        if self._stopped:
            return
        self._stopped = True
        self._hold_timer.stop()
        app = QCoreApplication.instance()
        if app is not None:
            with contextlib.suppress(RuntimeError, TypeError):  # already disconnected
                app.aboutToQuit.disconnect(self.shutdown)
        stop_and_wait(self._worker)

    def is_running(self) -> bool:
        return self._worker.isRunning()

    @property
    def latest_request_id(self) -> int | None:
        return self._latest_forward_id

    @property
    def forwards_started(self) -> int:
        """Forwards begun (cancelled ones included): a burst of submissions adds a few."""
        return self._worker.forwards.started

    @property
    def forwards_finished(self) -> int:
        return self._worker.forwards.finished

    @property
    def forwards_cancelled(self) -> int:
        return self._worker.forwards.cancelled

    # -- relays, on the GUI thread -----------------------------------------------
    @Slot(object)
    def _on_result(self, result) -> None:
        if self._stopped or result.request_id != self._latest_forward_id:
            self.stale_dropped += 1
            return
        self.result_ready.emit(result)

    @Slot(object)
    def _on_failure(self, failure: ComputeFailure) -> None:
        if self._stopped:
            return
        if failure.request_id != -1 and failure.request_id != self._latest_forward_id:
            self.stale_dropped += 1
            return
        self.failed.emit(failure)

    def _is_latest(self, kind: type, request_id: int) -> bool:
        if self._stopped or self._latest_job.get(kind) != request_id:
            self.stale_dropped += 1
            return False
        return True

    @Slot(object)
    def _on_job_result(self, result) -> None:
        kind, signal = JOB_RESULTS[type(result)]
        if self._is_latest(kind, result.request_id):
            getattr(self, signal).emit(result)

    @Slot(object)
    def _on_job_progress(self, progress) -> None:
        kind, signal = JOB_PROGRESS[type(progress)]
        if self._is_latest(kind, progress.request_id):
            getattr(self, signal).emit(progress)

    @Slot(object)
    def _on_job_failure(self, failure: ComputeFailure) -> None:
        # Its id is the latest of one kind: the one asking knows its own ids.
        latest = self._latest_job.values()
        if not self._stopped and any(failure.request_id == i for i in latest):
            self.failed.emit(failure)

    @Slot(object)
    def _on_training_failure(self, failure: ComputeFailure) -> None:
        if not self._stopped:
            self.training_failed.emit(failure)
            self.failed.emit(failure)

    @Slot(object)
    def _on_progress(self, progress) -> None:
        if not self._stopped:
            self.training_progress.emit(progress)

    @Slot(object)
    def _on_trained(self, result) -> None:
        if not self._stopped:
            self.training_finished.emit(result)

    @Slot(bool)
    def _on_busy(self, busy: bool) -> None:
        if not self._stopped:
            self.busy_changed.emit(busy)

    @Slot(str)
    def _on_device(self, name: str) -> None:
        if not self._stopped:
            self.device_changed.emit(name)

    @Slot()
    def _forget_worker(self) -> None:
        RUNNING.discard(self._worker)


@atexit.register
def _stop_all() -> None:
    """A thread nobody shut down must still not outlive the interpreter."""
    for worker in list(RUNNING):
        stop_and_wait(worker)
