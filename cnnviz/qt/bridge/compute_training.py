"""The compute thread's training job: train, report, serve forwards between steps.

Training runs in the compute thread through ``cnnviz.compute.train.train``.
Forward requests submitted meanwhile are served between training steps, with
the weights of the last finished epoch (``TrainProgress.weights``; before the
first, those from before training); when training ends the best weights
become the model's weights, and the next forward shows them.

The GUI thread stays fluid while it runs because of two things done here:
- The interpreter's switch interval is shortened while training. The
  training loop's Python work between torch calls holds the GIL, and the GUI
  thread, which needs the GIL for every Python slot and pyqtgraph paint call,
  waited up to the default 5 ms at each of them: a repaint of the Training
  panel took 3-4 times longer than on an idle machine.
- Progress within an epoch reaches the GUI at most every
  PROGRESS_MIN_INTERVAL_S (the first, and an epoch's last, with its
  validation and weights, always do): each report repaints the panel's plots
  and filters.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import time
from collections.abc import Iterator
from typing import Any

from cnnviz.core.jobs import ComputeFailure, TrainRequest
from cnnviz.core.layers.hooked import READ_ONLY, is_hooked_metadata
from cnnviz.qt.bridge.compute_failures import first_line, out_of_memory

log = logging.getLogger(__name__)

# The switch interval while training (Python's default is 0.005 s); None leaves it.
# 1 ms: measured against 5 ms in alternating 0.3 s slices of one training (load
# 7-9), the 99th percentile of GUI gaps was 2-5 ms lower in each of three runs;
# 0.5 and 2 ms did no better than 1 ms.
TRAINING_SWITCH_INTERVAL_S: float | None = 0.001
# The shortest time between two progress reports within an epoch (0: every one).
PROGRESS_MIN_INTERVAL_S = 0.25


@contextlib.contextmanager
def switch_interval(seconds: float | None) -> Iterator[None]:
    """The interpreter's GIL switch interval set to `seconds` for the block, then
    given back (it is process-wide: the GUI thread gets the GIL sooner too)."""
    previous = sys.getswitchinterval()
    if seconds is not None:
        sys.setswitchinterval(seconds)
    try:
        yield
    finally:
        sys.setswitchinterval(previous)


class TrainingJob:
    """Runs trainings for `worker` (its runner, mailbox, forward job and signals)."""

    def __init__(self, worker: Any, train_function=None) -> None:
        self.worker = worker
        self.train_function = train_function
        self._last_report = 0.0

    def run(self, request: TrainRequest) -> None:
        worker = self.worker
        self._last_report = 0.0
        if is_hooked_metadata(request.architecture.metadata):  # no network cnnviz built
            worker.training_failure.emit(ComputeFailure(request.request_id, READ_ONLY))
            return
        try:
            train = self.train_function or _default_train_function()
            initial = _initial_state(request)
            with switch_interval(TRAINING_SWITCH_INTERVAL_S):
                result = train(
                    request.architecture,
                    request.config,
                    request_id=request.request_id,
                    initial_state=initial,
                    on_progress=lambda progress: self._progress(request, progress),
                    should_stop=self._should_stop,
                )
        except Exception as exc:
            if not isinstance(exc, ValueError):  # ValueErrors are the user's: one line
                log.exception("training %s failed", request.request_id)
            message = out_of_memory(exc) or first_line(exc)
            worker.training_failure.emit(ComputeFailure(request.request_id, message))
            return
        mailbox = worker.mailbox
        superseded = mailbox.training is not None or mailbox.stopping
        if result.state_dict and not superseded:
            self._install(request, result.state_dict)
        worker.trained.emit(result)

    def _progress(self, request: TrainRequest, progress) -> None:
        """Report; at each epoch's end also make the weights learnt so far the model's,
        so the forwards served during training show the network as it learns."""
        weights = getattr(progress, "weights", None)
        if weights is not None:
            self._install(request, weights)
        epoch_end = weights is not None or progress.step >= progress.steps
        now = time.perf_counter()
        if not epoch_end and now - self._last_report < PROGRESS_MIN_INTERVAL_S:
            return  # the next report carries this one's running figures on
        self._last_report = now
        self.worker.progress.emit(progress)

    def _should_stop(self) -> bool:
        worker = self.worker
        mailbox = worker.mailbox
        if mailbox.stopping or mailbox.training_cancelled or mailbox.training is not None:
            return True
        while (call := mailbox.take_call()) is not None:
            call(worker.runner)  # e.g. a save waiting for the weights
        # Between training steps, serve the newest forward so the panels follow edits.
        request = mailbox.take_forward()
        if request is not None:
            worker.forwards.run(request)
        return mailbox.stopping or mailbox.training_cancelled or mailbox.training is not None

    def _install(self, request: TrainRequest, state: dict) -> None:
        try:
            self.worker.runner.install_state(request.architecture, state, request.config.seed)
        except Exception as exc:
            log.exception("trained weights could not be installed")
            self.worker.training_failure.emit(ComputeFailure(request.request_id, first_line(exc)))


def _default_train_function():
    from cnnviz.compute.train import train

    return train


def _initial_state(request: TrainRequest) -> dict | None:
    if not request.weights_path:
        return None
    from cnnviz.compute.weights import read_weights

    return read_weights(request.weights_path)
