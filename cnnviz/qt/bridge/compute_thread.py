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

Training (``start_training``) runs in the same thread through
``cnnviz.compute.train.train``. Forward requests submitted meanwhile are
served between training steps, with the weights of the last finished epoch
(``TrainProgress.weights``; before the first, those from before training);
when training ends the best weights become the model's weights, and the next
forward shows them. ``shutdown()`` stops everything and waits; it is
idempotent, and runs by itself when the application quits.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import weakref
from collections.abc import Callable
from typing import Any, ClassVar

from PySide6.QtCore import QCoreApplication, QObject, QThread, QTimer, Signal, Slot

from cnnviz.core.display_maps import prepare_result
from cnnviz.core.jobs import ComputeFailure, ForwardRequest, TrainRequest
from cnnviz.qt.bridge.mailbox import Call, HeldForward, Mailbox

log = logging.getLogger(__name__)

# How long a newer request waits for the running forward before stopping it.
# Without the wait, each edit of a burst (slower on the GUI than the debounce)
# started its own forward: 100 edits, ~100 forwards, each stopped by the next.
HOLD_MS = 1000

# Workers that are still running, kept alive even if their ComputeThread is
# collected: destroying a running QThread aborts the whole process.
_RUNNING: set[_Worker] = set()


class _Worker(QThread):
    """The thread itself; signals are emitted from it and queued to the GUI."""

    result = Signal(object)
    failure = Signal(object)
    training_failure = Signal(object)
    progress = Signal(object)
    trained = Signal(object)
    busy = Signal(bool)
    device = Signal(str)
    forward_done = Signal(int)  # a forward's id once it ended: result, failure or cancelled

    def __init__(self, mailbox: Mailbox, num_threads: int, runner_factory, train_function):
        super().__init__()
        self.mailbox = mailbox
        self.num_threads = num_threads
        self.runner_factory = runner_factory
        self.train_function = train_function
        self.forwards_started = 0
        self.forwards_finished = 0
        self.forwards_cancelled = 0
        self._busy = False
        self._device = ""
        self._runner: Any = None

    def run(self) -> None:
        try:
            self._runner = self._start_torch()
        except Exception as exc:
            log.exception("the compute engine could not start")
            self.failure.emit(ComputeFailure(-1, f"torch could not be loaded: {exc}"))
            self._runner = None
        while True:
            job = self.mailbox.wait_for_job(self._set_idle)
            if job is None:
                break
            if isinstance(job, Call):
                job(self._runner)
                continue
            self._set_busy(True)
            if self._runner is None:
                self.failure.emit(
                    ComputeFailure(job.request_id, "the compute engine is not running")
                )
                if isinstance(job, ForwardRequest):
                    self.forward_done.emit(job.request_id)
            elif isinstance(job, TrainRequest):
                self._train(job)
            else:
                self._forward(job)
        self._set_busy(False)

    def _start_torch(self):
        # Imported here, in this thread: the window must not wait for torch.
        from cnnviz.compute.device import set_cpu_threads

        set_cpu_threads(self.num_threads)
        if self.runner_factory is None:
            from cnnviz.compute.runner import ForwardRunner

            self.runner_factory = ForwardRunner
        return self.runner_factory()

    def _set_idle(self) -> None:
        self._set_busy(False)

    def _set_busy(self, busy: bool) -> None:
        if busy != self._busy:
            self._busy = busy
            self.busy.emit(busy)

    # -- forwards ----------------------------------------------------------------
    def _forward(self, request: ForwardRequest) -> None:
        self.forwards_started += 1
        try:
            result = self._run_forward(request)
        finally:
            # Before the result: whoever waits for the result may submit at once,
            # and must find this forward ended (no longer holding the next).
            self.forward_done.emit(request.request_id)
        if result is not None and result is not False:
            if result.device != self._device:
                self._device = result.device
                self.device.emit(result.device)
            self.result.emit(result)
        if result is not False:
            self.forwards_finished += 1

    def _run_forward(self, request: ForwardRequest):
        """The result; None after a failure (reported); False when cancelled."""
        from cnnviz.compute.forward import Cancelled
        from cnnviz.compute.runner import ComputeError

        try:
            result = self._runner.run(request, self.mailbox.superseded)
        except Cancelled:
            self.forwards_cancelled += 1
            return False
        except ComputeError as exc:
            self.failure.emit(ComputeFailure(request.request_id, str(exc)))
            return None
        except Exception as exc:  # a bug must not end the thread
            log.exception("forward %s failed", request.request_id)
            self.failure.emit(ComputeFailure(request.request_id, _unexpected(exc)))
            return None
        # Every pass over all values is done here, so that the GUI thread finds the
        # statistics and screen-sized pictures ready however large the result.
        prepare_result(result, self.mailbox.superseded)
        return result

    # -- training ----------------------------------------------------------------
    def _train(self, request: TrainRequest) -> None:
        try:
            train = self.train_function or _default_train_function()
            initial = _initial_state(request)
            result = train(
                request.architecture,
                request.config,
                request_id=request.request_id,
                initial_state=initial,
                on_progress=lambda progress: self._training_progress(request, progress),
                should_stop=self._training_should_stop,
            )
        except Exception as exc:
            if not isinstance(exc, ValueError):  # ValueErrors are the user's: one line
                log.exception("training %s failed", request.request_id)
            message = _out_of_memory(exc) or _first_line(exc)
            self.training_failure.emit(ComputeFailure(request.request_id, message))
            return
        superseded = self.mailbox.training is not None or self.mailbox.stopping
        if result.state_dict and not superseded:
            self._install(request, result.state_dict)
        self.trained.emit(result)

    def _training_progress(self, request: TrainRequest, progress) -> None:
        """Report; at each epoch's end also make the weights learnt so far the model's,
        so the forwards served during training show the network as it learns."""
        weights = getattr(progress, "weights", None)
        if weights is not None:
            self._install(request, weights)
        self.progress.emit(progress)

    def _training_should_stop(self) -> bool:
        mailbox = self.mailbox
        if mailbox.stopping or mailbox.training_cancelled or mailbox.training is not None:
            return True
        while (call := mailbox.take_call()) is not None:
            call(self._runner)  # e.g. a save waiting for the weights
        # Between training steps, serve the newest forward so the panels follow edits.
        request = mailbox.take_forward()
        if request is not None:
            self._forward(request)
        return mailbox.stopping or mailbox.training_cancelled or mailbox.training is not None

    def _install(self, request: TrainRequest, state: dict) -> None:
        try:
            self._runner.install_state(request.architecture, state, request.config.seed)
        except Exception as exc:
            log.exception("trained weights could not be installed")
            self.training_failure.emit(ComputeFailure(request.request_id, _first_line(exc)))


def _default_train_function():
    from cnnviz.compute.train import train

    return train


def _initial_state(request: TrainRequest) -> dict | None:
    if not request.weights_path:
        return None
    from cnnviz.compute.weights import read_weights

    return read_weights(request.weights_path)


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def _out_of_memory(exc: BaseException) -> str | None:
    """A failed allocation in plain words (torch's own is an enforce trace), else None."""
    from cnnviz.compute.memory_check import failure_message, is_allocation_failure

    return failure_message(exc) if is_allocation_failure(exc) else None


def _unexpected(exc: BaseException) -> str:
    if (message := _out_of_memory(exc)) is not None:
        return message
    return f"unexpected error ({type(exc).__name__}: {_first_line(exc)}); details are in the log"


class ComputeThread(QObject):
    """The GUI's handle on the compute thread (create and use it on the GUI thread)."""

    result_ready = Signal(object)  # ForwardResult of the latest forward request
    failed = Signal(object)  # ComputeFailure (latest forward, a training, or id -1)
    busy_changed = Signal(bool)
    device_changed = Signal(str)  # e.g. "CPU", "CUDA: NVIDIA H100 80GB HBM3"
    training_progress = Signal(object)  # TrainProgress
    training_finished = Signal(object)  # TrainResult
    training_failed = Signal(object)  # ComputeFailure of a TrainRequest (also sent on failed)

    _instances: ClassVar[weakref.WeakSet] = weakref.WeakSet()

    def __init__(
        self,
        parent: QObject | None = None,
        *,
        num_threads: int = 1,
        runner_factory: Callable[[], Any] | None = None,
        train_function: Callable[..., Any] | None = None,
        hold_ms: int | None = HOLD_MS,
    ):
        """``runner_factory`` and ``train_function`` replace the real compute (tests).
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
        self._stopped = False
        self.stale_dropped = 0
        self._worker = _Worker(self._mailbox, num_threads, runner_factory, train_function)
        self._worker.result.connect(self._on_result)
        self._worker.failure.connect(self._on_failure)
        self._worker.training_failure.connect(self._on_training_failure)
        self._worker.progress.connect(self._on_progress)
        self._worker.trained.connect(self._on_trained)
        self._worker.busy.connect(self._on_busy)
        self._worker.device.connect(self._on_device)
        self._worker.forward_done.connect(self._on_forward_done)
        self._worker.finished.connect(self._forget_worker)
        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.shutdown)
        ComputeThread._instances.add(self)
        _RUNNING.add(self._worker)
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
            raise RuntimeError(_first_line(call.error))
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
        _stop_and_wait(self._worker)

    def is_running(self) -> bool:
        return self._worker.isRunning()

    @property
    def latest_request_id(self) -> int | None:
        return self._latest_forward_id

    @property
    def forwards_started(self) -> int:
        """Forwards begun (cancelled ones included): a burst of submissions adds a few."""
        return self._worker.forwards_started

    @property
    def forwards_finished(self) -> int:
        return self._worker.forwards_finished

    @property
    def forwards_cancelled(self) -> int:
        return self._worker.forwards_cancelled

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
        _RUNNING.discard(self._worker)


def _stop_and_wait(worker: _Worker) -> None:
    worker.mailbox.stop()
    if not worker.wait(5000):
        log.warning("the compute thread is finishing a long step; waiting for it")
        worker.wait()
    _RUNNING.discard(worker)


@atexit.register
def _stop_all() -> None:
    """A thread nobody shut down must still not outlive the interpreter."""
    for worker in list(_RUNNING):
        _stop_and_wait(worker)
