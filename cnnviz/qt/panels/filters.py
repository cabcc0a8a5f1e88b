"""Filters: every kernel of a conv layer, its biases, and a filter set by hand.

The grid has one row per output channel (filter) and one column per input
channel, all in one image on a blue–white–red scale centred on zero (red
adds, blue subtracts). For the first layer of a colour network a column of
RGB composites shows what colour each filter responds to. Biases are bars
beside their rows. Below, a filter can be replaced by a textbook kernel
(Sobel, blur, …) or typed numbers: the panel emits ``kernel_edit_requested``
and the main window applies it through its undo stack.

Standalone: ``python -m cnnviz.qt.panels.filters``.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from cnnviz.core import kernels
from cnnviz.core.jobs import KernelEdit
from cnnviz.core.mosaic import MosaicLayout, assemble, layer_levels
from cnnviz.qt import colormaps
from cnnviz.qt.panels._kernel_editor import ALL_INPUTS, KernelEditor
from cnnviz.qt.panels._overlays import cell_marker
from cnnviz.qt.panels.base import (
    Panel,
    PanelInput,
    colour_bar,
    fit_view,
    format_value,
    graphics_widget,
    info_label,
    shape_text,
    style_axis,
    title_label,
)

_MAX_TICKS = 16
_POSITIVE, _NEGATIVE = "#c0392b", "#2f62d8"  # the ends of the blue–white–red scale


def kernel_grid_layout(out_channels: int, in_channels: int, kernel_hw) -> MosaicLayout:
    """Rows are output channels, columns input channels: tile o·I + i is weight[o, i]."""
    kh, kw = kernel_hw
    gap = max(1, round(0.15 * max(kh, kw)))
    return MosaicLayout(out_channels * in_channels, kh, kw, out_channels, in_channels, gap)


def is_colour_input_layer(data: PanelInput) -> bool:
    """The first conv layer of a network fed 3 channels: its filters have colours."""
    info = data.info()
    if info is None or info.input_shape is None or info.input_shape[0] != 3:
        return False
    return all(data.analysis.layers[i].layer.type != "Conv2d" for i in range(info.index))


def _ticks(count: int, pitch: int, size: int, offset: float = 0.0):
    step = max(1, math.ceil(count / _MAX_TICKS))
    return [(offset + i * pitch + size / 2, str(i)) for i in range(0, count, step)]


class FiltersPanel(Panel):
    """All kernels of the selected Conv2d layer; set one by hand for teaching."""

    kernel_edit_requested = QtCore.Signal(object)  # KernelEdit

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.weight: np.ndarray | None = None
        self.bias: np.ndarray | None = None
        self.layout_: MosaicLayout | None = None
        self.grid: np.ndarray | None = None
        self.rgb: np.ndarray | None = None
        self._build()

    def _build(self) -> None:
        self.title = title_label()
        self.widget = graphics_widget()
        self.plot = self.widget.addPlot(row=0, col=0)
        self.plot.invertY(True)
        self.plot.setAspectLocked(True)
        self.plot.hideButtons()
        self.plot.setMenuEnabled(False)
        self.plot.showAxis("top")
        self.plot.hideAxis("bottom")
        style_axis(self.plot.getAxis("left"), "output channel (filter)")
        style_axis(self.plot.getAxis("top"), "input channel")
        self.grid_item = pg.ImageItem()
        self.rgb_item = pg.ImageItem()
        self.plot.addItem(self.grid_item)
        self.plot.addItem(self.rgb_item)
        self.marker = cell_marker(self.plot.getViewBox())
        self.bias_plot = self.widget.addPlot(row=0, col=1)
        self.bias_plot.invertY(True)  # rows top-down like the grid it is linked to
        self.bias_plot.setYLink(self.plot)
        self.bias_plot.hideAxis("left")
        self.bias_plot.hideButtons()
        self.bias_plot.setMenuEnabled(False)
        self.bias_plot.setMouseEnabled(x=False, y=True)
        style_axis(self.bias_plot.getAxis("bottom"), "bias")
        self.bias_plot.showGrid(x=True, alpha=0.2)
        self.bias_bars = pg.BarGraphItem(x0=[], y=[], height=[], width=[])
        self.bias_plot.addItem(self.bias_bars)
        self.bias_plot.addItem(pg.InfiniteLine(0, angle=90, pen=pg.mkPen(width=1)))
        self.widget.ci.layout.setColumnStretchFactor(0, 5)
        self.widget.ci.layout.setColumnStretchFactor(1, 1)
        self.bar = colour_bar(colormaps.colormap(colormaps.DEFAULT_DIVERGING), "weight")
        self.widget.addItem(self.bar, row=0, col=2)
        self.widget.scene().sigMouseMoved.connect(self._hovered)
        self.widget.scene().sigMouseClicked.connect(self._clicked)
        self.hover_label = info_label("Hover a kernel for its weights; click it to edit it.", "")
        self.editor = KernelEditor()
        self.editor.apply_requested.connect(self._apply)
        # The grid is tall (one row per filter): the editor goes beside it.
        splitter = QtWidgets.QSplitter(QtCore.Qt.Orientation.Horizontal)
        splitter.addWidget(self.widget)
        splitter.addWidget(self.editor)
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 0)
        layout = QtWidgets.QVBoxLayout(self.content)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.title)
        layout.addWidget(splitter, 1)
        layout.addWidget(self.hover_label)

    # ----- drawing ---------------------------------------------------------

    def draw(self, data: PanelInput) -> str | None:
        info = data.info()
        if info is None or info.layer.type != "Conv2d":
            return "Select a Conv2d layer to see its filters."
        if data.layer_index not in data.result.filters:
            return f"{data.layer_title()} has no weights yet: fix the first invalid layer."
        weight, bias = data.result.filters[data.layer_index]
        self.weight, self.bias = weight, bias
        out_c, in_c, kh, kw = weight.shape
        layout = kernel_grid_layout(out_c, in_c, (kh, kw))
        relayout = layout != self.layout_
        self.layout_ = layout
        levels = layer_levels(weight, symmetric=True)
        shown_levels, gap = colormaps.gapped_levels(levels)
        tiles = weight.reshape(out_c * in_c, kh, kw)
        self.grid = assemble(tiles, layout, self.grid, gap=gap)
        self.grid_item.setImage(self.grid, autoLevels=False, levels=shown_levels)
        self.grid_item.setLookupTable(colormaps.gapped_lookup_table(colormaps.DEFAULT_DIVERGING))
        self.bar.setLevels(levels, update_items=False)
        self._draw_rgb(data, weight)
        self._draw_bias(bias)
        self._set_ticks()
        if relayout:  # the pictures alone: a marked cell may lie beyond a smaller grid
            fit_view(self.plot.getViewBox(), self.grid_item, self.rgb_item)
        self.editor.configure(out_c, in_c, (kh, kw))
        groups = info.layer.get("groups")
        grouped = f", {groups} groups" if groups > 1 else ""
        self.title.setText(
            f"{data.layer_title()} · weights {shape_text(weight.shape)}{grouped} · "
            f"{weight.size + (0 if bias is None else bias.size):,} parameters · "
            f"range ±{format_value(levels[1])}"
        )
        return None

    def _draw_rgb(self, data: PanelInput, weight: np.ndarray) -> None:
        """A column of colour composites right of the grid for a colour input layer."""
        if not is_colour_input_layer(data):
            self.rgb = None
            self.rgb_item.hide()
            return
        assert self.layout_ is not None
        colours = kernels.rgb_composite(weight)  # (O, kh, kw, 3)
        column = MosaicLayout(
            weight.shape[0], *weight.shape[2:], weight.shape[0], 1, self.layout_.gap
        )
        planes = [assemble(np.ascontiguousarray(colours[..., c]), column) for c in range(3)]
        rgba = np.empty((*planes[0].shape, 4), dtype=np.uint8)
        for c, plane in enumerate(planes):
            rgba[..., c] = np.nan_to_num(plane * 255 + 0.5).clip(0, 255).astype(np.uint8)
        rgba[..., 3] = np.where(np.isnan(planes[0]), 0, 255)
        self.rgb = rgba
        self.rgb_item.setImage(rgba, autoLevels=False)
        self.rgb_item.setPos(self._rgb_left(), 0)
        self.rgb_item.show()

    def _rgb_left(self) -> float:
        assert self.layout_ is not None
        return self.layout_.shape[1] + 2 * self.layout_.pitch[1] - self.layout_.tile_width

    def _draw_bias(self, bias: np.ndarray | None) -> None:
        assert self.layout_ is not None
        pitch, tile = self.layout_.pitch[0], self.layout_.tile_height
        if bias is None:
            self.bias_bars.setOpts(x0=[], y=[], height=[], width=[])
            self.bias_plot.setTitle("no bias", size="9pt")
            return
        self.bias_plot.setTitle("")
        centres = np.arange(bias.size) * pitch + tile / 2
        brushes = [pg.mkBrush(_POSITIVE if b >= 0 else _NEGATIVE) for b in bias]
        self.bias_bars.setOpts(
            x0=np.zeros(bias.size), y=centres, height=tile * 0.8, width=bias, brushes=brushes
        )
        bound = float(np.abs(bias).max()) or 1.0
        self.bias_plot.setXRange(-bound * 1.1, bound * 1.1, padding=0)

    def _set_ticks(self) -> None:
        assert self.layout_ is not None
        layout = self.layout_
        left = _ticks(layout.rows, layout.pitch[0], layout.tile_height)
        top = _ticks(layout.cols, layout.pitch[1], layout.tile_width)
        if self.rgb is not None:
            top.append((self._rgb_left() + layout.tile_width / 2, "RGB"))
        self.plot.getAxis("left").setTicks([left, []])
        self.plot.getAxis("top").setTicks([top, []])

    # ----- interaction -----------------------------------------------------

    def _kernel_at(self, scene_pos) -> tuple[int, int, int, int] | None:
        """(out, in, row, col) under the mouse, or None."""
        if self.layout_ is None or self.showing_hint:
            return None
        if not self.plot.getViewBox().sceneBoundingRect().contains(scene_pos):
            return None
        point = self.grid_item.mapFromScene(scene_pos)
        tile = self.layout_.locate(point.y(), point.x())
        if tile is None:
            return None
        out_c, in_c = divmod(tile.channel, self.layout_.cols)
        return out_c, in_c, tile.row, tile.col

    def _hovered(self, scene_pos) -> None:
        found = self._kernel_at(scene_pos)
        if found is None or self.weight is None:
            return
        o, i, r, c = found
        y, x = self.layout_.origin(o * self.layout_.cols + i)
        self.marker.setRect(QtCore.QRectF(x + c, y + r, 1, 1))
        self.marker.show()
        weight = format_value(float(self.weight[o, i, r, c]))
        text = f"filter {o}, input {i}, tap ({r}, {c}): weight <b>{weight}</b>"
        if self.bias is not None:
            text += f" · bias of filter {o}: {format_value(float(self.bias[o]))}"
        self.hover_label.setText(text)

    def _clicked(self, event) -> None:
        if event.button() != QtCore.Qt.MouseButton.LeftButton:
            return
        found = self._kernel_at(event.scenePos())
        if found is not None:
            self.edit_kernel(found[0], found[1])

    def edit_kernel(self, out_channel: int, in_channel: int) -> None:
        """Load filter `out_channel`'s kernel on `in_channel` into the editor."""
        if self.weight is None:
            return
        in_target = in_channel if self.weight.shape[1] > 1 else None
        self.editor.set_target(out_channel, in_target)
        self.editor.set_values(self.weight[out_channel, in_channel])

    def _apply(self, out_channel: int, kernel: np.ndarray, in_channel: int, zero_bias: bool):
        data = self.current
        if data is None or self.weight is None:
            return
        only = None if in_channel == ALL_INPUTS else in_channel
        try:
            weights = kernels.spread_over_inputs(kernel, self.weight.shape[1], only)
        except kernels.KernelError as exc:
            self.hover_label.setText(str(exc))
            return
        bias = 0.0 if zero_bias and self.bias is not None else None
        self.kernel_edit_requested.emit(
            KernelEdit(data.layer_index, out_channel, weights, bias=bias)
        )
        self.hover_label.setText(
            f"Filter {out_channel} of layer {data.layer_index} set by hand; undo restores it."
        )


def main(argv=None) -> int:
    from cnnviz.qt.panels._samples import run_standalone

    return run_standalone(FiltersPanel, default_layer=0, argv=argv, size=(1000, 820))


if __name__ == "__main__":
    raise SystemExit(main())
