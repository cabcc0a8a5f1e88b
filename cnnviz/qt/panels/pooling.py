"""Pooling: a channel before and after, every window outlined, the winners marked.

Left, the pooling layer's input channel with each window outlined; for max
pooling a dot marks the cell each window keeps. Right, the output. Hover an
output cell: its window lights up on the input and the panel spells out the
maximum or the mean that produced it. Both sides share one colour scale, so
"max pooling keeps the brightest cell" can be seen.

Standalone: ``python -m cnnviz.qt.panels.pooling``.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from cnnviz.core.mosaic import layer_levels
from cnnviz.core.pooling_view import (
    POOLING_TYPES,
    adaptive_boxes,
    box_outline_segments,
    flat_windows,
    max_pool_winners,
    pool_geometry,
    window_boxes,
)
from cnnviz.core.thumbnails import strongest_channel
from cnnviz.qt.panels._overlays import Spotlight, cell_marker
from cnnviz.qt.panels.base import (
    ACCENT,
    Panel,
    PanelInput,
    colour_bar,
    float_c,
    format_value,
    graphics_widget,
    image_view_box,
    info_label,
    set_picture,
    shape_text,
    title_label,
)
from cnnviz.qt.style import colormaps

_LISTED_VALUES = 9  # windows up to 3×3 get their values written out
_WIN_BRUSH, _WIN_PEN = pg.mkBrush("w"), pg.mkPen(0, 0, 0, 160, width=0.5)
_TIE_BRUSH, _TIE_PEN = pg.mkBrush(200, 200, 200, 120), pg.mkPen(None)


class PoolingPanel(Panel):
    """Input channel with windows and winners beside the pooled output."""

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.channel = 0
        self.boxes: np.ndarray | None = None  # (out_h, out_w, 4)
        self.winners: np.ndarray | None = None  # (out_h, out_w, 2), max pooling only
        self.input_map: np.ndarray | None = None
        self.output_map: np.ndarray | None = None
        self.kind = ""
        self.tied: np.ndarray | None = None
        self._geometry = None  # PoolGeometry; None for adaptive pooling
        self._layer_index: int | None = None
        self._build()

    def _build(self) -> None:
        self.title = title_label()
        self.channel_spin = QtWidgets.QSpinBox()
        self.channel_spin.setToolTip("The channel to show (pooling works on each separately)")
        self.channel_spin.valueChanged.connect(self.set_channel)
        top = QtWidgets.QHBoxLayout()
        top.addWidget(self.title, 1)
        top.addWidget(QtWidgets.QLabel("channel"))
        top.addWidget(self.channel_spin)
        self.widget = graphics_widget()
        self.input_caption = self.widget.addLabel("input", row=0, col=0)
        self.output_caption = self.widget.addLabel("output", row=0, col=1)
        self.input_view = image_view_box()
        self.output_view = image_view_box()
        self.widget.addItem(self.input_view, row=1, col=0)
        self.widget.addItem(self.output_view, row=1, col=1)
        self.input_item, self.output_item = pg.ImageItem(), pg.ImageItem()
        self.input_view.addItem(self.input_item)
        self.output_view.addItem(self.output_item)
        self.outlines = pg.PlotCurveItem(pen=pg.mkPen(255, 255, 255, 110, width=1))
        self.outlines.setZValue(5)
        self.input_view.addItem(self.outlines)
        # Sized in data units (half a cell), so dots scale with the zoom.
        self.winner_dots = pg.ScatterPlotItem(symbol="o", size=0.5, pxMode=False)
        self.winner_dots.setZValue(11.5)  # above the spotlight's shade, below its outline
        self.input_view.addItem(self.winner_dots)
        self.spotlight = Spotlight(self.input_view, dim=90)
        self.output_marker = cell_marker(self.output_view)
        self.bar = colour_bar(colormaps.colormap(colormaps.DEFAULT), "value")
        self.widget.addItem(self.bar, row=1, col=2)
        self.widget.ci.layout.setColumnStretchFactor(0, 3)
        self.widget.ci.layout.setColumnStretchFactor(1, 2)
        self.widget.scene().sigMouseMoved.connect(self._hovered)
        self.explain = info_label("", f"color: {ACCENT}; font-weight: 600;", 13)
        self.legend = info_label()
        layout = QtWidgets.QVBoxLayout(self.content)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(top)
        layout.addWidget(self.widget, 1)
        layout.addWidget(self.explain)
        layout.addWidget(self.legend)

    # ----- drawing ---------------------------------------------------------

    def draw(self, data: PanelInput) -> str | None:
        info = data.info()
        if info is None or info.layer.type not in POOLING_TYPES:
            return (
                "Select a pooling layer (MaxPool2d, AvgPool2d, AdaptiveAvgPool2d) "
                "to see its windows."
            )
        layer = data.activation()
        source = data.layer_input()
        if layer is None or source is None:
            reason = data.analysis.not_computed_reason(data.layer_index)
            return f"{data.layer_title()} was not computed: {reason}."
        self.kind = info.layer.type
        channels = source.shape[0]
        if data.layer_index != self._layer_index:
            # A new layer opens on its most active channel, not on a blank one.
            self.channel = strongest_channel(source)
            self._layer_index = data.layer_index
        self.channel_spin.blockSignals(True)
        self.channel_spin.setRange(0, channels - 1)
        self.channel = min(self.channel, channels - 1)
        self.channel_spin.setValue(self.channel)
        self.channel_spin.blockSignals(False)
        self._source, self._output = source, layer.output
        in_hw = source.shape[1:]
        if self.kind == "AdaptiveAvgPool2d":
            self.boxes = adaptive_boxes(in_hw, layer.output.shape[1:])
            self._geometry = None
        else:
            self._geometry = pool_geometry(info.layer)
            self.boxes = window_boxes(self._geometry, in_hw)
        xs, ys = box_outline_segments(self.boxes)
        self.outlines.setData(xs, ys, connect="pairs")
        self.title.setText(
            f"{data.layer_title()} · {shape_text(source.shape)} → {shape_text(layer.output.shape)}"
        )
        self._draw_channel()
        self.highlight(0, 0)
        return None

    def _draw_channel(self) -> None:
        """Images, winners and captions of the chosen channel."""
        self.input_map = float_c(self._source[self.channel])
        self.output_map = float_c(self._output[self.channel])
        levels = layer_levels(self.input_map[None])
        lut = colormaps.lookup_table(colormaps.DEFAULT)
        for view, item, picture, *others in (
            (self.input_view, self.input_item, self.input_map, self.outlines),
            (self.output_view, self.output_item, self.output_map),
        ):
            # Fitted to a new size only: a zoom survives edits and other channels.
            set_picture(view, item, picture, *others, autoLevels=False, levels=levels)
            item.setLookupTable(lut)
        self.bar.setLevels(levels, update_items=False)
        if self.kind == "MaxPool2d":
            self.winners = max_pool_winners(self.input_map, self._geometry)
            rows, cols = self.winners[..., 0].ravel(), self.winners[..., 1].ravel()
            self.tied = flat_windows(self.input_map, self._geometry).ravel()
            real = rows >= 0  # a dilated window wholly in the padding has no winner
            tied = self.tied[real]
            self.winner_dots.setData(
                cols[real] + 0.5,
                rows[real] + 0.5,
                brush=[_TIE_BRUSH if tie else _WIN_BRUSH for tie in tied],
                pen=[_TIE_PEN if tie else _WIN_PEN for tie in tied],
                size=np.where(tied, 0.2, 0.45),
            )
            self.legend.setText(
                "Lines: the pooling windows. ● the cell each window keeps (its maximum); "
                "everything else is dropped. Small grey dots: all cells equal (e.g. all 0), "
                "the first is kept. Hover the output to see where a value came from."
            )
        else:
            self.winners = self.tied = None
            self.winner_dots.setData([], [])
            self.legend.setText(
                "Lines: the pooling windows. Each output cell is the mean of its window: "
                "nothing is dropped, everything is smoothed. Hover the output to see the sum."
            )
        h, w = self.input_map.shape
        self.input_caption.setText(f"channel {self.channel} before pooling ({h}×{w})", size="10pt")
        oh, ow = self.output_map.shape
        self.output_caption.setText(f"after ({oh}×{ow})", size="10pt")

    def set_channel(self, channel: int) -> None:
        if self.input_map is None or channel == self.channel:
            return
        self.channel = channel
        self.channel_spin.blockSignals(True)
        self.channel_spin.setValue(channel)
        self.channel_spin.blockSignals(False)
        self._draw_channel()
        self.highlight(0, 0)

    # ----- interaction -----------------------------------------------------

    def highlight(self, row: int, col: int) -> tuple[int, int, int, int] | None:
        """Light up output (row, col)'s window on the input; returns the window box."""
        if self.boxes is None or self.output_map is None:
            return None
        out_h, out_w = self.output_map.shape
        if not (0 <= row < out_h and 0 <= col < out_w):
            return None
        box = tuple(int(v) for v in self.boxes[row, col])
        self.spotlight.show_box(box, self.input_map.shape)
        self.output_marker.setRect(QtCore.QRectF(col, row, 1, 1))
        self.output_marker.show()
        self.explain.setText(self._explanation(row, col, box))
        return box

    def _explanation(self, row: int, col: int, box) -> str:
        top, left, bottom, right = box
        value = format_value(float(self.output_map[row, col]))
        where = f"rows {top}–{bottom - 1}, cols {left}–{right - 1}"
        if self.winners is not None:
            r, c = (int(v) for v in self.winners[row, col])
            if r < 0:
                return f"output ({row}, {col}) = {value}: its window lies wholly in the padding"
            return (
                f"output ({row}, {col}) = {value}: the largest value in input {where}, "
                f"found at ({r}, {c})"
            )
        cells = self.input_map[top:bottom, left:right].ravel()
        text = f"output ({row}, {col}) = {value}: the mean of input {where}"
        divisor = self._divisor(cells.size)
        if cells.size <= _LISTED_VALUES:
            listed = " + ".join(format_value(float(v)) for v in cells)
            text += f" = ({listed}) / {divisor}"
        elif divisor != cells.size:
            text += f" (sum / {divisor}: padding counts as zeros)"
        return text

    def _divisor(self, real_cells: int) -> int:
        """What AvgPool2d divided by: padding cells count when count_include_pad."""
        geom = self._geometry
        if geom is None or not geom.count_include_pad or geom.padding == (0, 0):
            return real_cells
        return geom.kernel[0] * geom.kernel[1]

    def _hovered(self, scene_pos) -> None:
        if self.output_map is None or self.showing_hint:
            return
        if self.output_view.sceneBoundingRect().contains(scene_pos):
            point = self.output_item.mapFromScene(scene_pos)
            self.highlight(int(np.floor(point.y())), int(np.floor(point.x())))
        elif self.input_view.sceneBoundingRect().contains(scene_pos):
            point = self.input_item.mapFromScene(scene_pos)
            window = self._window_containing(int(np.floor(point.y())), int(np.floor(point.x())))
            if window is not None:
                self.highlight(*window)

    def _window_containing(self, row: int, col: int) -> tuple[int, int] | None:
        """The first output cell whose window covers input (row, col)."""
        boxes = self.boxes
        inside = (
            (boxes[..., 0] <= row)
            & (row < boxes[..., 2])
            & (boxes[..., 1] <= col)
            & (col < boxes[..., 3])
        )
        found = np.argwhere(inside)
        return (int(found[0][0]), int(found[0][1])) if found.size else None


def main(argv=None) -> int:
    from cnnviz.qt.panels._samples import run_standalone

    return run_standalone(PoolingPanel, default_layer=4, argv=argv, size=(1000, 600))


if __name__ == "__main__":
    raise SystemExit(main())
