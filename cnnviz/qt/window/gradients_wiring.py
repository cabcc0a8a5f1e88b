"""Connects the Gradients panel to the compute thread and the document.

The panel builds its GradientRequests from a Context (the stack the latest
forward computed, the document's seed and weights file, whether the weights
were learnt); this hands them to the compute thread, lane by lane, and routes
the norms and one-line failures back to the panel, which keeps only its own
newest ones.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cnnviz.core.jobs import ComputeFailure
from cnnviz.qt.panels.gradients import Context

if TYPE_CHECKING:
    from cnnviz.qt.window.main_window import MainWindow

NO_ENGINE = "the compute engine is not available"


class GradientsWiring:
    def __init__(self, window: MainWindow, panel) -> None:
        self.window = window
        self.panel = panel
        self._thread = None
        panel.context_source = self.context
        panel.gradients_requested.connect(self.submit)

    def context(self) -> Context:
        latest = self.window.controller.latest
        if latest is None:
            return Context(None)
        doc = self.window.doc
        weights = None if latest.weights_withheld else doc.weights_path
        return Context(latest.architecture, doc.seed, weights, latest.trained)

    def submit(self, wanted) -> None:
        controller = self.window.controller
        controller.ensure_thread()
        thread = controller.thread
        if thread is None or not hasattr(thread, "submit_gradients"):
            for _lane, request in wanted:
                self.panel.show_failure(ComputeFailure(request.request_id, NO_ENGINE))
            return
        if thread is not self._thread:
            self._thread = thread
            thread.gradients_ready.connect(self.panel.show_norms)
            thread.gradients_failed.connect(self.panel.show_failure)
        for lane, request in wanted:
            thread.submit_gradients(request, lane)
