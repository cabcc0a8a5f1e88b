"""The quiz panel in the window: its history kept in the settings, the network's
name, a revealed layer selected in the stack, and the stepper opened at a cell."""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING

from cnnviz.qt.window import settings

if TYPE_CHECKING:
    from cnnviz.qt.window.main_window import MainWindow

log = logging.getLogger(__name__)

HISTORY_KEY = "quiz/history"


def load_history() -> list[dict]:
    """The finished quizzes, newest first; [] when none or unreadable."""
    raw = settings.settings().value(HISTORY_KEY, "")
    try:
        history = json.loads(raw) if raw else []
    except (TypeError, ValueError):
        log.warning("the saved quiz history is unreadable; starting a new one")
        return []
    return [h for h in history if isinstance(h, dict)] if isinstance(history, list) else []


def save_history(history: list[dict]) -> None:
    settings.settings().setValue(HISTORY_KEY, json.dumps(history))


class QuizWiring:
    def __init__(self, window: MainWindow, panel) -> None:
        self.window, self.panel = window, panel
        panel.set_history(load_history())
        panel.history_changed.connect(save_history)
        panel.layer_selected.connect(window.select_layer)
        panel.cell_requested.connect(self.open_stepper)
        window.doc.changed.connect(self._name)
        self._name()

    def _name(self, *_args) -> None:
        self.panel.network_name = self.window.doc.architecture.name or "network"

    def open_stepper(self, index: int, channel: int, row: int, col: int) -> None:
        """The conv stepper in front, on layer `index`, at output cell (channel, row, col)."""
        from cnnviz.qt.window.menus import bring_forward

        panels = self.window.panels
        self.window.select_layer(index)
        bring_forward(panels.docks["conv_stepper"])
        if panels.latest is not None:  # fed now: the layer may already have been selected
            panels._feed_conv_stepper(panels.latest, index, force=True)
        stepper = panels.widget("conv_stepper")
        if stepper is not None and getattr(stepper, "real", None) is not None:
            # The stepper's own region signal: a 1×1 region at that cell.
            stepper.real_controls.region_changed.emit(channel, row, col, 1, 1)
