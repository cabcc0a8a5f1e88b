"""A label whose new text does not lay its window out again.

A label in a layout asks for a new layout at every setText. Inside a dock that
lays out the whole main window again (every dock, with their animations):
~2 ms of the GUI thread for each edit's totals or each training report. Held
in a widget without a layout, the label's request stops there; the box keeps
a height of `lines` lines and clips what does not fit.
"""

from __future__ import annotations

from PySide6.QtCore import QSize
from PySide6.QtWidgets import QLabel, QSizePolicy, QWidget


class QuietBox(QWidget):
    """Holds `label` (reparented here) at a fixed height of `lines` lines."""

    def __init__(self, label: QLabel, lines: int = 1, parent: QWidget | None = None):
        super().__init__(parent)
        self.label = label
        self.lines = lines
        label.setParent(self)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)

    def _height(self) -> int:
        self.label.ensurePolished()  # a style sheet's font size counts
        margins = self.label.contentsMargins()
        text = self.lines * self.label.fontMetrics().lineSpacing() + 2 * self.label.margin()
        return text + margins.top() + margins.bottom() + 2

    def sizeHint(self) -> QSize:
        return QSize(self.label.sizeHint().width(), self._height())

    def minimumSizeHint(self) -> QSize:
        return QSize(0, self._height())

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self.label.setGeometry(self.rect())
