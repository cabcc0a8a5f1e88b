"""The translation lab's plot: each layer's invariance and equivariance error.

One point per layer (the input first); a vertical line marks each pooling layer
(solid) and each other layer that makes the grid coarser (dashed, a strided
convolution), labelled with how many cells the shift is there: k / stride.
After a pooling the map moves by fewer cells, and where that is not a whole
number the equivariance error is undefined: its point is missing.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore

from cnnviz.core.translation import LayerShift, TranslationReport
from cnnviz.qt.panels.base import ACCENT, graphics_widget, style_plot

INVARIANCE_PEN = "#d9534f"
EQUIVARIANCE_PEN = "#2a7ab0"
MOST_TICKS = 16  # more layers than this: label every n-th


LEGEND = (
    f"<span style='color:{INVARIANCE_PEN}'>●</span> invariance ‖f(shifted x) − f(x)‖ / ‖f(x)‖, "
    f"same positions &nbsp; <span style='color:{EQUIVARIANCE_PEN}'>■</span> equivariance: "
    "the map moved back k / stride cells, on the interior (missing where that is not whole) "
    "&nbsp; │ pooling &nbsp; ┆ strided layer"
)


def cells_text(row: LayerShift) -> str:
    """ "2 cells", "0.5 cells": how far the shift moves the map at this layer."""
    if row.cells is None:
        return ""
    moved = max(row.cells, key=abs)
    return f"{moved:.3g} cell" + ("" if abs(moved) == 1 else "s")


class TranslationPlot:
    """A plot canvas (`widget`) redrawn with `show(report, selected)`."""

    def __init__(self) -> None:
        self.widget = graphics_widget()
        self.plot = self.widget.addPlot()
        style_plot(self.plot, "layer", "relative error")
        self.invariance = self.plot.plot(
            pen=pg.mkPen(INVARIANCE_PEN, width=2),
            symbol="o",
            symbolSize=7,
            symbolBrush=INVARIANCE_PEN,
        )
        self.equivariance = self.plot.plot(
            pen=None,
            symbol="s",
            symbolSize=7,
            symbolBrush=EQUIVARIANCE_PEN,
        )
        self.selected = pg.ScatterPlotItem(
            size=15, pen=pg.mkPen(ACCENT, width=2), brush=None, symbol="o"
        )
        self.plot.addItem(self.selected)
        self.markers: list[pg.InfiniteLine] = []
        self.rows: tuple[LayerShift, ...] = ()

    def show(self, report: TranslationReport, selected: str | None = None) -> None:
        rows = report.layers
        self.rows = rows
        x = np.arange(len(rows), dtype=float)
        self.invariance.setData(x, [row.invariance for row in rows])
        known = [
            (i, row.equivariance) for i, row in enumerate(rows) if row.equivariance is not None
        ]
        self.equivariance.setData([i for i, _ in known], [e for _, e in known])
        self._mark_grid_changes(rows)
        self._ticks(rows)
        self.select(selected)
        top = max([row.invariance for row in rows] + [e for _, e in known] + [1e-3])
        # Headroom above the points for the pooling lines' labels.
        self.plot.setRange(xRange=(-0.5, len(rows) - 0.5), yRange=(-0.04 * top, 1.3 * top))

    def select(self, address: str | None) -> None:
        """Ring the selected layer's invariance point."""
        found = [i for i, row in enumerate(self.rows) if row.address == address]
        if not found:
            self.selected.setData([], [])
            return
        i = found[0]
        self.selected.setData([i], [self.rows[i].invariance])

    def _mark_grid_changes(self, rows) -> None:
        for line in self.markers:
            self.plot.removeItem(line)
        self.markers = []
        for i, row in enumerate(rows):
            if not (row.pooling or row.downsamples):
                continue
            style = QtCore.Qt.PenStyle.SolidLine if row.pooling else QtCore.Qt.PenStyle.DashLine
            label = ("pool" if row.pooling else "stride") + (
                f"\n{cells_text(row)}" if row.cells else ""
            )
            line = pg.InfiniteLine(
                pos=i,
                angle=90,
                pen=pg.mkPen("#7a7a7a", width=1, style=style),
                label=label,
                labelOpts={
                    "position": 0.9,
                    "color": self._label_colour(),
                    "anchors": [(0, 0.5), (0, 0.5)],
                },
            )
            self.plot.addItem(line, ignoreBounds=True)
            self.markers.append(line)

    def _label_colour(self):
        # The axes' own text colour: it follows the theme, as the tick labels do.
        return self.plot.getAxis("left").textPen().color()

    def _ticks(self, rows) -> None:
        every = max(1, int(np.ceil(len(rows) / MOST_TICKS)))
        ticks = [(i, row.address) for i, row in enumerate(rows) if i % every == 0]
        self.plot.getAxis("bottom").setTicks([ticks])
