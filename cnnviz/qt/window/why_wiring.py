"""Connects the Why panel to the compute thread (through an ExplainController) and
to the Prediction panel, whose clicked bar becomes the class to explain.

Built with the Why panel (docks build panels on first use); explanations are
computed only while its dock can be seen.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cnnviz.core.explain_display import SLOW_METHODS
from cnnviz.qt.bridge.explain_controller import ExplainController
from cnnviz.qt.window import docks

if TYPE_CHECKING:
    from cnnviz.qt.window.main_window import MainWindow


class WhyWiring:
    def __init__(self, window: MainWindow, panel_dock: docks.PanelDock, panel) -> None:
        self.panel = panel
        self.dock = panel_dock
        self.explainer = ExplainController(window.controller, parent=window)
        explainer = self.explainer
        panel.choice_changed.connect(explainer.set_choice)
        panel.cancel_requested.connect(explainer.cancel)
        explainer.explanation_ready.connect(panel.show_explanation)
        explainer.progress.connect(lambda p: panel.set_progress(p.done, p.total))
        explainer.failed.connect(panel.show_failure)
        explainer.cancelled.connect(panel.show_cancelled)
        explainer.submitted.connect(
            lambda request: panel.set_computing(True, request.method in SLOW_METHODS)
        )
        panel_dock.dock.visibilityChanged.connect(self._visibility)
        explainer.set_active(docks.can_be_seen(panel_dock) or panel_dock.dock.isVisible())
        if panel.choice is not None:  # it drew before it was wired
            explainer.set_choice(panel.choice)

    def _visibility(self, visible: bool) -> None:
        self.explainer.set_active(visible)

    def pick_class(self, index: int) -> None:
        """A bar clicked in the Prediction panel: explain that class."""
        self.panel.set_target(index)
