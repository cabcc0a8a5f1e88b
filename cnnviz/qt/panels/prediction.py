"""Prediction: the class probabilities as bars, and the top guesses in words.

Bars are horizontal, one per class with its name (when the preset has class
names), the winner highlighted. With many classes (ImageNet's 1000) the
chart keeps the 20 most probable. The top five are listed with percentages.
Clicking a bar picks its class (`class_picked`: the Why panel explains it).
A network whose weights are still random says so above the bars: its
"prediction" is noise, however confident the chart looks.

Standalone: ``python -m cnnviz.qt.panels.prediction``.
"""

from __future__ import annotations

import html

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from cnnviz.qt.panels.base import (
    CURVE,
    DEAD,
    SELECTED,
    Panel,
    PanelInput,
    graphics_widget,
    info_label,
    style_plot,
    title_label,
)

MAX_BARS = 20
TOP_K = 5
UNTRAINED_NOTICE = (
    "Random weights: this network has not been trained, so these outputs mean nothing "
    "yet. Train it in the Training tab, or load trained weights with File > Load Weights…"
)


def class_names(count: int, classes: tuple[str, ...] | None) -> list[str]:
    """The preset's names when they match the output size, else 'class i'."""
    if classes is not None and len(classes) == count:
        return list(classes)
    return [f"class {i}" for i in range(count)]


def top_k(probabilities: np.ndarray, k: int = TOP_K) -> list[int]:
    """Class indices by falling probability (ties: lower index first)."""
    order = np.argsort(-np.asarray(probabilities), kind="stable")
    return [int(i) for i in order[:k]]


class PredictionPanel(Panel):
    """Softmax probabilities as a bar chart, top-k listed."""

    class_picked = QtCore.Signal(int)  # a bar was clicked: its class index

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.shown: list[int] = []  # class index of each bar, top bar first
        self.probabilities: np.ndarray | None = None
        self._build()

    def _build(self) -> None:
        self.title = title_label("Prediction")
        self.untrained = info_label(UNTRAINED_NOTICE, f"color: {DEAD}; font-weight: 600;", 13)
        self.untrained.hide()
        self.widget = graphics_widget()
        self.plot = self.widget.addPlot()
        style_plot(self.plot, x_label="probability")
        self.plot.invertY(True)
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.setXRange(0, 1, padding=0.02)
        self.bars = pg.BarGraphItem(x0=[], y=[], height=[], width=[])
        self.plot.addItem(self.bars)
        self.widget.scene().sigMouseClicked.connect(self._clicked)
        self.widget.setToolTip("Click a bar to explain that class in the Why panel (Ctrl+7)")
        self.top_list = info_label("", "", 13)
        self.note = info_label()
        layout = QtWidgets.QVBoxLayout(self.content)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.title)
        layout.addWidget(self.untrained)
        layout.addWidget(self.widget, 1)
        layout.addWidget(self.top_list)
        layout.addWidget(self.note)

    def draw(self, data: PanelInput) -> str | None:
        probabilities = data.result.probabilities
        if probabilities is None:
            return (
                "No prediction: the last layer does not give a vector of class scores. "
                "End the stack with Flatten and Linear (out_features = number of classes)."
            )
        self.probabilities = np.asarray(probabilities, dtype=np.float64).ravel()
        count = self.probabilities.size
        names = class_names(count, data.classes)
        self.shown = top_k(self.probabilities, MAX_BARS) if count > MAX_BARS else list(range(count))
        values = self.probabilities[self.shown]
        best = int(np.argmax(self.probabilities))
        brushes = [pg.mkBrush(SELECTED if i == best else CURVE) for i in self.shown]
        self.bars.setOpts(
            x0=np.zeros(len(self.shown)),
            y=np.arange(len(self.shown)),
            height=0.7,
            width=values,
            brushes=brushes,
            pens=[pg.mkPen(None)] * len(self.shown),
        )
        self.plot.getAxis("left").setTicks([[(row, names[i]) for row, i in enumerate(self.shown)]])
        self.plot.setYRange(-0.6, len(self.shown) - 0.4, padding=0)
        # Room for every class name: in a low dock the labels would overlap.
        self.widget.setMinimumHeight(min(60 + 15 * len(self.shown), 420))
        self.plot.setXRange(0, max(1e-6, float(values.max())) * 1.05, padding=0.02)
        self.untrained.setVisible(data.trained is False)
        random = " with random weights" if data.trained is False else ""
        self.title.setText(f"Prediction{random} · {names[best]} ({self.probabilities[best]:.1%})")
        self._list_top(names)
        note = f"Softmax over {count} classes"
        if count > MAX_BARS:
            note += f"; the chart shows the {MAX_BARS} most probable"
        if data.classes is None or len(data.classes) != count:
            note += "; this network has no class names"
        self.note.setText(note + ".")
        return None

    def _clicked(self, event) -> None:
        view = self.plot.getViewBox()
        if not view.sceneBoundingRect().contains(event.scenePos()):
            return
        self.pick_row(round(view.mapSceneToView(event.scenePos()).y()))

    def pick_row(self, row: int) -> None:
        """Pick the class of bar `row` (0: the top bar), if there is one."""
        if 0 <= row < len(self.shown):
            self.class_picked.emit(self.shown[row])

    def _list_top(self, names: list[str]) -> None:
        rows = "".join(
            f"<tr><td>{rank}.</td><td>{html.escape(names[i])}</td>"
            f"<td align='right'><b>{self.probabilities[i]:.1%}</b></td></tr>"
            for rank, i in enumerate(top_k(self.probabilities), start=1)
        )
        self.top_list.setText(f"<table cellspacing='0' cellpadding='2'>{rows}</table>")


def main(argv=None) -> int:
    from cnnviz.qt.panels._samples import run_standalone

    return run_standalone(PredictionPanel, default_layer=12, argv=argv, size=(520, 560))


if __name__ == "__main__":
    raise SystemExit(main())
