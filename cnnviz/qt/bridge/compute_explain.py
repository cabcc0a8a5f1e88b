"""The compute thread's explain job: one ExplainRequest in, one Explanation out.

It runs on the compute thread with the model the forwards use (same stack,
seed, weights file and hand-set kernels: ``ForwardRunner.model_for``), so the
map explains exactly the network whose prediction is on screen. Occlusion and
integrated gradients report progress; the job stops at the next check when a
newer explain request waits or the user cancelled (``Mailbox.job_superseded``),
and reports nothing. A forward waiting stops it too, and it starts again after
that forward (unless a newer request replaced it meanwhile): edits are never
held up by a long occlusion. A failure is one line.

``run_explain`` never modifies the model (cnnviz.compute.explain); this job
only applies the hand-set kernels for the run, as a forward does.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from cnnviz.core.explain_jobs import ExplainProgress, ExplainRequest
from cnnviz.core.jobs import ComputeFailure
from cnnviz.qt.bridge.compute_failures import first_line, unexpected

log = logging.getLogger(__name__)

# (runner, request, should_cancel, progress(done, total)) -> Explanation
ExplainFunction = Callable[..., Any]


def explain_with_runner(runner: Any, request: ExplainRequest, should_cancel, progress):
    """The real explanation, with the runner's model for the request's network (run_explain
    checks the request: a wrong image size or layer is a ComputeError of one line)."""
    from cnnviz.compute.explain import run_explain
    from cnnviz.compute.runner import kernel_edits_applied
    from cnnviz.core.analysis import analyze

    model = runner.model_for(request)  # builds or keeps the forwards' model
    analysis = _analysis(runner, request.architecture, analyze)
    notices: list[str] = []
    with kernel_edits_applied(model, request.kernel_edits, notices):
        return run_explain(model, analysis, request, should_cancel, progress)


def _analysis(runner: Any, arch, analyze):
    # The app sends the same stack object until it is edited: analyse it once.
    cached = getattr(runner, "_explain_analysis", None)
    if cached is not None and cached[0] is arch:
        return cached[1]
    analysis = analyze(arch)
    runner._explain_analysis = (arch, analysis)
    return analysis


class ExplainJob:
    """Runs ExplainRequests for `worker` (its runner, mailbox and signals)."""

    def __init__(self, worker: Any, function: ExplainFunction | None = None) -> None:
        self.worker = worker
        self.function = function or explain_with_runner
        self.started = 0
        self.finished = 0
        self.cancelled = 0

    def run(self, request: ExplainRequest) -> None:
        from cnnviz.compute.forward import Cancelled

        worker = self.worker
        self.started += 1

        def should_cancel() -> bool:
            # A forward waiting goes first (an edit must not wait for an occlusion);
            # this explanation then starts again after it (resume_later).
            mailbox = worker.mailbox
            return mailbox.job_superseded(ExplainRequest) or mailbox.forward is not None

        def progress(done: int, total: int) -> None:
            worker.job_progress.emit(ExplainProgress(request.request_id, int(done), int(total)))

        try:
            explanation = self.function(worker.runner, request, should_cancel, progress)
        except Cancelled:
            self.cancelled += 1
            worker.mailbox.resume_later(request)
            return
        except ValueError as exc:  # ComputeError, a layer that is not a conv, ...
            worker.job_failure.emit(ComputeFailure(request.request_id, first_line(exc)))
        except Exception as exc:  # a bug must not end the thread
            log.exception("explanation %s failed", request.request_id)
            worker.job_failure.emit(ComputeFailure(request.request_id, unexpected(exc)))
        else:
            worker.job_result.emit(explanation)
        self.finished += 1
