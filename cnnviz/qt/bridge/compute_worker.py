"""The compute thread itself: a QThread that owns torch and runs one job at a time.

It takes jobs from the mailbox (forwards, a training, calls such as a weights
snapshot, other kinds such as an explanation) and hands them to ForwardJob,
TrainingJob and the job registered for the request's type; its signals are
emitted from this thread and queued to the GUI's ComputeThread. Torch is
imported here, in this thread, so the window appears before torch has loaded,
and runs on `num_threads` intra-op threads (``torch.set_num_threads`` is per
calling thread), leaving the other core to the GUI.
"""

from __future__ import annotations

import logging
from typing import Any

from PySide6.QtCore import QThread, Signal

from cnnviz.core.explain_jobs import ExplainRequest
from cnnviz.core.jobs import ComputeFailure, ForwardRequest, TrainRequest
from cnnviz.qt.bridge.compute_explain import ExplainJob
from cnnviz.qt.bridge.compute_forward import ForwardJob
from cnnviz.qt.bridge.compute_training import TrainingJob
from cnnviz.qt.bridge.mailbox import Call, Mailbox

log = logging.getLogger(__name__)

# Workers that are still running, kept alive even if their ComputeThread is
# collected: destroying a running QThread aborts the whole process.
RUNNING: set[Worker] = set()


class Worker(QThread):
    """The thread itself; signals are emitted from it and queued to the GUI."""

    result = Signal(object)
    failure = Signal(object)
    training_failure = Signal(object)
    progress = Signal(object)
    trained = Signal(object)
    busy = Signal(bool)
    device = Signal(str)
    forward_done = Signal(int)  # a forward's id once it ended: result, failure or cancelled
    # Other kinds of job (see `jobs`): a result, progress, a failure (ComputeFailure).
    job_result = Signal(object)
    job_progress = Signal(object)
    job_failure = Signal(object)

    def __init__(
        self, mailbox: Mailbox, num_threads: int, runner_factory, train_function,
        explain_function=None,
    ):  # fmt: skip
        super().__init__()
        self.mailbox = mailbox
        self.num_threads = num_threads
        self.runner_factory = runner_factory
        self.forwards = ForwardJob(self)
        self.training = TrainingJob(self, train_function)
        # The job for each other kind of request, by the request's type.
        self.jobs: dict[type, Any] = {ExplainRequest: ExplainJob(self, explain_function)}
        self._busy = False
        self.runner: Any = None

    def run(self) -> None:
        try:
            self.runner = self._start_torch()
        except Exception as exc:
            log.exception("the compute engine could not start")
            self.failure.emit(ComputeFailure(-1, f"torch could not be loaded: {exc}"))
            self.runner = None
        while True:
            job = self.mailbox.wait_for_job(self._set_idle)
            if job is None:
                break
            if isinstance(job, Call):
                job(self.runner)
                continue
            self._set_busy(True)
            if self.runner is None:
                failure = ComputeFailure(job.request_id, "the compute engine is not running")
                (self.job_failure if type(job) in self.jobs else self.failure).emit(failure)
                if isinstance(job, ForwardRequest):
                    self.forward_done.emit(job.request_id)
            elif isinstance(job, TrainRequest):
                self.training.run(job)
            elif type(job) in self.jobs:
                self.jobs[type(job)].run(job)
            else:
                self.forwards.run(job)
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


def stop_and_wait(worker: Worker) -> None:
    """Stop `worker` after its current step and wait for it."""
    worker.mailbox.stop()
    if not worker.wait(5000):
        log.warning("the compute thread is finishing a long step; waiting for it")
        worker.wait()
    RUNNING.discard(worker)
