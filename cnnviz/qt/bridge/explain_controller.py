"""Drives the compute thread's explain job from the Why panel: the latest choice wins.

An explanation is asked for the network exactly as the last forward saw it
(its stack, the input tensor it ran on, the document's seed, weights file and
hand-set kernels), so the map explains the prediction on screen. It is asked
again, debounced like forwards, whenever a new forward result arrives (the
network, image or weights changed: an edit, a training epoch) or the person
changes the choice (method, layer, class, settings), but only while the Why
panel can be seen (`set_active`): a hidden panel costs nothing, and catches up
when shown. Results, progress and failures of any but the latest request are
dropped (the compute thread drops them too; this is the GUI's own check).
"""

from __future__ import annotations

import logging
from dataclasses import asdict

from PySide6.QtCore import QObject, Signal

from cnnviz.core.explain_display import ExplainChoice
from cnnviz.core.explain_jobs import ExplainRequest
from cnnviz.qt.bridge.controller import ComputeController, ComputedView
from cnnviz.qt.bridge.result_follower import ResultFollower

log = logging.getLogger(__name__)

# Explain ids have a range of their own: never taken for a forward's or a training's.
FIRST_ID = 2_000_000


class ExplainController(ResultFollower):
    explanation_ready = Signal(object)  # Explanation of the latest request
    progress = Signal(object)  # ExplainProgress of the latest request
    failed = Signal(str)  # why the latest request gave no map, one line
    submitted = Signal(object)  # the ExplainRequest just handed to the thread
    cancelled = Signal()

    def __init__(self, compute: ComputeController, parent: QObject | None = None):
        super().__init__(compute, None, FIRST_ID, parent)  # no choice until the panel's
        self._thread = None  # the thread whose signals are connected

    # -- what the panel says ---------------------------------------------------------

    def cancel(self) -> None:
        """Stop the running explanation; the same choice is not asked again by itself."""
        thread = self._connected_thread()
        if thread is not None and hasattr(thread, "cancel_explain"):
            thread.cancel_explain()
        self.latest_id = None
        self.cancelled.emit()

    # -- the request ---------------------------------------------------------------

    def submit_now(self) -> int | None:
        """Ask for the current choice on the latest result, unless that is asked already."""
        asked = self._next_question()
        if asked is None:
            return None
        view, choice = asked
        problem = self._problem(view)
        if problem:
            self.latest_id = None
            self.failed.emit(problem)
            return None
        thread = self._connected_thread()
        if thread is None or not hasattr(thread, "submit_explain"):
            self.failed.emit("the compute engine is not available")
            return None
        request = self._request(self._next_id(), view, choice)
        self.latest_id = request.request_id
        thread.submit_explain(request)
        self.submitted.emit(request)
        return request.request_id

    def _problem(self, view: ComputedView) -> str | None:
        if view.computed_layers < len(view.analysis.top_level):
            first = view.analysis.first_error
            where = f" ({first.name}: {first.error})" if first is not None else ""
            return f"the stack has an invalid layer{where}; fix it to explain the prediction"
        if view.result.probabilities is None:
            return "the last layer gives no class scores, so there is no class to explain"
        return None

    def _request(self, request_id: int, view: ComputedView, choice: ExplainChoice):
        doc = self.compute.doc
        weights = None if view.weights_withheld else doc.weights_path
        return ExplainRequest(
            request_id=request_id,
            architecture=view.architecture,
            image=view.result.input,  # the tensor the forward ran on
            seed=doc.seed,
            weights_path=weights,
            kernel_edits=tuple(doc.kernel_edits),
            device=self.compute.device,
            **asdict(choice),
        )

    # -- answers ---------------------------------------------------------------------

    def _connected_thread(self):
        thread = self.compute.thread
        if thread is not None and thread is not self._thread:
            self._thread = thread
            for name, slot in (
                ("explain_ready", self._on_ready),
                ("explain_progress", self._on_progress),
                ("failed", self._on_failure),
            ):
                if hasattr(thread, name):
                    getattr(thread, name).connect(slot)
        return thread

    def _on_ready(self, explanation) -> None:
        if explanation.request_id == self.latest_id:
            self.explanation_ready.emit(explanation)

    def _on_progress(self, progress) -> None:
        if progress.request_id == self.latest_id:
            self.progress.emit(progress)

    def _on_failure(self, failure) -> None:
        if self.latest_id is not None and failure.request_id == self.latest_id:
            self.failed.emit(failure.message)
