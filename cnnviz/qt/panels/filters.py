"""Filters: every kernel of a conv layer, its biases, and a filter set by hand.

Each filter is a strip of its kernels, one per input channel, all in one
image on a blue–white–red scale centred on zero (red adds, blue subtracts).
The strips are one per row (a table of filters × input channels) or, for a
layer with few input channels, wrapped into as many columns as make the
kernels largest in the panel (cnnviz.core.filter_grid): VGG-16's 64 filters
× 3 channels fill the width instead of a column of 6-pixel kernels. For the
first layer of a colour network each strip ends in the RGB composite of the
filter, the colour it responds to. Biases are bars beside their rows (one
filter per row) or a chart under the grid. Beside, a filter can be replaced
by a textbook kernel (Sobel, blur, …) or typed numbers: the panel emits
``kernel_edit_requested`` and the main window applies it through its undo
stack.

Standalone: ``python -m cnnviz.qt.panels.filters``.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from cnnviz.core import kernels
from cnnviz.core.filter_grid import FilterGrid, plan_filter_grid
from cnnviz.core.jobs import KernelEdit
from cnnviz.core.layer_flow import upstream
from cnnviz.core.mosaic import layer_levels
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
from cnnviz.qt.style import colormaps

_MAX_TICKS = 16
_POSITIVE, _NEGATIVE = "#c0392b", "#2f62d8"  # the ends of the blue–white–red scale
_RGB = 1  # extra slot per filter for the colour composite of a colour layer
_BIAS_CHART_HEIGHT = 130  # pixels of the chart of biases by filter number
_REPLAN_GAIN = 1.05  # a resize adds columns only for kernels 5 % larger (no flicker)


def is_colour_input_layer(data: PanelInput) -> bool:
    """A conv layer with no conv between it and a 3-channel input: its filters have
    colours. (Not "no conv before it in the list": a branch's conv does not see
    its sibling branch's conv, which comes before it in the flat order.)"""
    info = data.info()
    if info is None or info.input_shape is None or info.input_shape[0] != 3:
        return False
    layers = data.analysis.layers
    return all(layers[i].layer.type != "Conv2d" for i in upstream(data.analysis, info.index))


def _every(count: int, limit: int) -> range:
    return range(0, count, max(1, math.ceil(count / max(1, limit))))


def grid_ticks(grid: FilterGrid) -> tuple[list, list]:
    """(left, top) axis ticks: filter numbers by row, input channels (and RGB) by slot."""
    kh, kw = grid.kernel_height, grid.kernel_width
    left = []
    for row in _every(grid.rows, _MAX_TICKS):
        first = row * grid.block_cols
        last = min(first + grid.block_cols, grid.filters) - 1
        label = str(first) if last == first else f"{first}–{last}"
        left.append((row * grid.pitch[0] + kh / 2, label))
    top = []
    names = [str(i) for i in range(grid.inputs)] + ["RGB"] * grid.extra
    slots = [*_every(grid.inputs, _MAX_TICKS // grid.block_cols), *range(grid.inputs, grid.slots)]
    for block in range(grid.block_cols):
        x0 = block * grid.block_pitch + kw / 2
        top.extend((x0 + grid.slot_x(slot), names[slot]) for slot in slots)
    return left, top


def _bars(plot: pg.PlotItem, angle: int) -> pg.BarGraphItem:
    """Bars from a zero line at `angle` (90: horizontal bars beside the grid's rows)."""
    bars = pg.BarGraphItem(x0=[], y0=[], height=[], width=[])
    plot.addItem(bars)
    plot.addItem(pg.InfiniteLine(0, angle=angle, pen=pg.mkPen(width=1)))
    return bars


def _scale(grid: FilterGrid, size: QtCore.QSizeF) -> float:
    """Screen pixels per weight when `grid` is fitted into `size`."""
    return min(size.height() / grid.shape[0], size.width() / grid.shape[1])


def kernel_pixels(panel: FiltersPanel) -> float:
    """How wide one kernel is on screen now (the readability the layout is for)."""
    grid = panel.layout_
    if grid is None:
        return 0.0
    box = panel.plot.getViewBox()
    left = box.mapViewToDevice(QtCore.QPointF(0, 0))
    right = box.mapViewToDevice(QtCore.QPointF(grid.kernel_width, 0))
    return abs(right.x() - left.x())


class FiltersPanel(Panel):
    """All kernels of the selected Conv2d layer; set one by hand for teaching."""

    kernel_edit_requested = QtCore.Signal(object)  # KernelEdit

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.weight: np.ndarray | None = None
        self.bias: np.ndarray | None = None
        self.layout_: FilterGrid | None = None
        self.grid: np.ndarray | None = None
        self.rgb: np.ndarray | None = None
        self._colour = False
        self._levels = (-1.0, 1.0)
        # After the resize has been laid out (axes settle first), in the same event loop turn.
        self._replan = QtCore.QTimer(self, singleShot=True, interval=0)
        self._replan.timeout.connect(self._resized)
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
        self.bias_plot.setMouseEnabled(x=False, y=True)
        style_axis(self.bias_plot.getAxis("bottom"), "bias")
        self.bias_plot.showGrid(x=True, alpha=0.2)
        self.bias_bars = _bars(self.bias_plot, angle=90)
        self.bias_beside = True
        self.widget.ci.layout.setColumnStretchFactor(0, 5)
        self.widget.ci.layout.setColumnStretchFactor(1, 1)
        # Several filters per row: no row of the grid is one filter's, so the biases
        # go to a chart by filter number under the editor (where the grid's height
        # is not needed).
        self.bias_widget = graphics_widget()
        self.bias_widget.setMinimumHeight(_BIAS_CHART_HEIGHT)
        self.bias_widget.setMaximumHeight(2 * _BIAS_CHART_HEIGHT)
        # As wide as the editor above it, whatever a plot would like.
        self.bias_widget.setSizePolicy(
            QtWidgets.QSizePolicy.Policy.Ignored, QtWidgets.QSizePolicy.Policy.Preferred
        )
        self.bias_chart = self.bias_widget.addPlot()
        self.bias_chart.setMouseEnabled(x=False, y=False)
        style_axis(self.bias_chart.getAxis("bottom"))
        style_axis(self.bias_chart.getAxis("left"))
        self.bias_chart.showGrid(y=True, alpha=0.2)
        self.bias_chart_bars = _bars(self.bias_chart, angle=0)
        self.bias_widget.hide()
        self.bar = colour_bar(colormaps.colormap(colormaps.DEFAULT_DIVERGING), "weight")
        self.widget.addItem(self.bar, row=0, col=2)
        self.plot.getViewBox().sigResized.connect(lambda *_: self._replan.start())
        self.widget.scene().sigMouseMoved.connect(self._hovered)
        self.widget.scene().sigMouseClicked.connect(self._clicked)
        self.hover_label = info_label("Hover a kernel for its weights; click it to edit it.", "")
        self.editor = KernelEditor()
        self.editor.apply_requested.connect(self._apply)
        splitter = QtWidgets.QSplitter(QtCore.Qt.Orientation.Horizontal)
        side = QtWidgets.QWidget()
        column = QtWidgets.QVBoxLayout(side)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.editor, 1)
        column.addWidget(self.bias_widget)
        splitter.addWidget(self.widget)
        splitter.addWidget(side)
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 0)
        splitter.setSizes([10_000, 1])  # the editor at its narrowest: the kernels need room
        layout = QtWidgets.QVBoxLayout(self.content)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.title)
        layout.addWidget(splitter, 1)
        layout.addWidget(self.hover_label)

    def _place_bias(self, beside: bool) -> None:
        """Biases beside their rows (one filter per row) or in the chart by filter."""
        if beside == self.bias_beside:
            return
        self.bias_beside = beside
        if beside:
            self.widget.addItem(self.bias_plot, row=0, col=1)
        else:
            self.widget.ci.removeItem(self.bias_plot)
        self.widget.ci.layout.setColumnStretchFactor(1, 1 if beside else 0)  # no empty column
        self.bias_widget.setVisible(not beside)

    # ----- drawing ---------------------------------------------------------

    def draw(self, data: PanelInput) -> str | None:
        info = data.info()
        if info is None or info.layer.type != "Conv2d":
            return "Select a Conv2d layer to see its filters."
        if data.layer_index not in data.result.filters:
            reason = data.analysis.not_computed_reason(data.layer_index)
            return f"{data.layer_title()} has no weights yet: {reason}."
        weight, bias = data.result.filters[data.layer_index]
        self.weight, self.bias = weight, bias
        self._colour = is_colour_input_layer(data)
        self._levels = layer_levels(weight, symmetric=True)
        self._lay_out(self._plan(), force=True)
        out_c, in_c, kh, kw = weight.shape
        self.editor.configure(out_c, in_c, (kh, kw))
        groups = info.layer.get("groups")
        grouped = f", {groups} groups" if groups > 1 else ""
        self.title.setText(
            f"{data.layer_title()} · weights {shape_text(weight.shape)}{grouped} · "
            f"{weight.size + (0 if bias is None else bias.size):,} parameters · "
            f"range ±{format_value(self._levels[1])}"
        )
        return None

    def _plan(self) -> FilterGrid:
        """The grid that shows this layer's kernels largest in the plot's current area."""
        out_c, in_c, kh, kw = self.weight.shape
        size = self.plot.getViewBox().size()
        area = (size.height(), size.width())
        return plan_filter_grid(out_c, in_c, (kh, kw), area, _RGB if self._colour else 0)

    def _resized(self) -> None:
        if self.weight is None or self.layout_ is None or self.showing_hint:
            return
        plan, now = self._plan(), self.layout_
        size = self.plot.getViewBox().size()
        gain = _scale(plan, size) / _scale(now, size)
        # More columns only for clearly larger kernels, fewer when no smaller: a change
        # of axis labels (a few pixels) can never switch the grid back and forth.
        wider = plan.block_cols > now.block_cols and gain > _REPLAN_GAIN
        narrower = plan.block_cols < now.block_cols and gain >= 1.0
        if wider or narrower:
            self._lay_out(plan)

    def _lay_out(self, grid: FilterGrid, force: bool = False) -> None:
        relayout = grid != self.layout_
        self.layout_ = grid
        weight = self.weight
        shown_levels, gap = colormaps.gapped_levels(self._levels)
        self.grid = grid.assemble(weight, self.grid, gap=gap)
        self.grid_item.setImage(self.grid, autoLevels=False, levels=shown_levels)
        self.grid_item.setLookupTable(colormaps.gapped_lookup_table(colormaps.DEFAULT_DIVERGING))
        self.bar.setLevels(self._levels, update_items=False)
        self._draw_rgb(weight)
        self._place_bias(beside=grid.block_cols == 1)
        self._draw_bias(self.bias)
        left, top = grid_ticks(grid)
        self.plot.getAxis("left").setTicks([left, []])
        self.plot.getAxis("top").setTicks([top, []])
        self.plot.getAxis("left").setLabel(
            "output channel (filter)" if grid.block_cols == 1 else "filters in the row"
        )
        if relayout or force:  # the picture alone: a marked cell may lie beyond a smaller grid
            self.marker.hide()
            fit_view(self.plot.getViewBox(), self.grid_item)

    def _draw_rgb(self, weight: np.ndarray) -> None:
        """The colour composite of each filter in its block, for a colour input layer."""
        grid = self.layout_
        if not self._colour or grid is None or not grid.extra:
            self.rgb = None
            self.rgb_item.hide()
            return
        colours = kernels.rgb_composite(weight)  # (O, kh, kw, 3) in [0, 1]
        tiles = np.empty((*colours.shape[:3], 4), dtype=np.uint8)
        tiles[..., :3] = np.nan_to_num(colours * 255 + 0.5).clip(0, 255).astype(np.uint8)
        tiles[..., 3] = 255
        rgba = np.zeros((*grid.shape, 4), dtype=np.uint8)  # transparent between composites
        grid.write_slot(rgba, grid.inputs, tiles)
        self.rgb = rgba
        self.rgb_item.setImage(rgba, autoLevels=False)
        self.rgb_item.show()

    def _draw_bias(self, bias: np.ndarray | None) -> None:
        plot = self.bias_plot if self.bias_beside else self.bias_chart
        if bias is None:
            for bars in (self.bias_bars, self.bias_chart_bars):
                bars.setOpts(x0=[], y0=[], height=[], width=[])
            plot.setTitle("no bias", size="9pt")
            return
        plot.setTitle("" if self.bias_beside else "bias of each filter", size="9pt")
        brushes = [pg.mkBrush(_POSITIVE if b >= 0 else _NEGATIVE) for b in bias]
        bound = float(np.abs(bias).max()) or 1.0
        if self.bias_beside:
            grid = self.layout_
            centres = np.arange(bias.size) * grid.pitch[0] + grid.kernel_height / 2
            thickness = grid.kernel_height * 0.8
            self.bias_bars.setOpts(x0=np.zeros(bias.size), y0=centres - thickness / 2,
                                   height=thickness, width=bias, brushes=brushes)  # fmt: skip
            plot.setXRange(-bound * 1.1, bound * 1.1, padding=0)
            return
        self.bias_chart_bars.setOpts(x0=np.arange(bias.size) - 0.4, y0=np.zeros(bias.size),
                                     width=0.8, height=bias, brushes=brushes)  # fmt: skip
        plot.setYRange(-bound * 1.1, bound * 1.1, padding=0)
        plot.setXRange(-0.5, bias.size - 0.5, padding=0.01)

    # ----- interaction -----------------------------------------------------

    def _kernel_at(self, scene_pos) -> tuple[int, int, int, int] | None:
        """(filter, slot, row, col) under the mouse, or None; slot `inputs` is RGB."""
        if self.layout_ is None or self.showing_hint:
            return None
        if not self.plot.getViewBox().sceneBoundingRect().contains(scene_pos):
            return None
        point = self.grid_item.mapFromScene(scene_pos)
        found = self.layout_.locate(point.y(), point.x())
        return None if found is None else (found.filter, found.slot, found.row, found.col)

    def _hovered(self, scene_pos) -> None:
        found = self._kernel_at(scene_pos)
        if found is None or self.weight is None:
            return
        o, i, r, c = found
        y, x = self.layout_.origin(o, i)
        self.marker.setRect(QtCore.QRectF(x + c, y + r, 1, 1))
        self.marker.show()
        if i >= self.layout_.inputs:
            text = f"filter {o}: the colour its red, green and blue kernels respond to"
        else:
            weight = format_value(float(self.weight[o, i, r, c]))
            text = f"filter {o}, input {i}, tap ({r}, {c}): weight <b>{weight}</b>"
        if self.bias is not None:
            text += f" · bias of filter {o}: {format_value(float(self.bias[o]))}"
        self.hover_label.setText(text)

    def _clicked(self, event) -> None:
        if event.button() != QtCore.Qt.MouseButton.LeftButton:
            return
        found = self._kernel_at(event.scenePos())
        if found is not None and found[1] < self.layout_.inputs:
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
            f"Filter {out_channel} of {data.info().name} set by hand; undo restores it."
        )


def main(argv=None) -> int:
    from cnnviz.qt.panels._samples import run_standalone

    return run_standalone(FiltersPanel, default_layer=0, argv=argv, size=(1000, 820))


if __name__ == "__main__":
    raise SystemExit(main())
