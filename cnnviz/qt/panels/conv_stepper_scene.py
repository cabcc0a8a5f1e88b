"""The picture of the step-through panel, in a QGraphicsScene.

Grids are single items that paint all their cells (and are cached as
pixmaps); the window, the chosen-value marker and the output cursor are small
items on top. Playing moves only those (``glide``), so a frame at 60 fps costs
a few ``setPos`` calls; the products, sums and the filling output change once
per step (``show_step``). Left to right as in the GIF: input (one row per input
channel: the window is a stack), kernel, products, sums, output maps.
"""

from __future__ import annotations

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from cnnviz.core.conv_gif import shade
from cnnviz.core.conv_steps import INPUT, OUTSIDE, Step, Walkthrough
from cnnviz.core.conv_text import format_value, result_lines, sum_terms, window_text
from cnnviz.qt.panels.conv_stepper_backward import PoolGradView
from cnnviz.qt.panels.conv_stepper_layout import (
    ARROW,
    INDEX,
    LABEL,
    NOTE,
    RESULT,
    SIGN,
    TERMS,
    TITLE,
    TOTAL,
    SceneLayout,
    _font,
    line_height,
    text_width,
)

WINDOW = QtGui.QColor(230, 120, 0)
CHOSEN = QtGui.QColor(20, 150, 60)
PAD_FILL = QtGui.QColor(232, 232, 232)
PAD_HATCH = QtGui.QColor(200, 200, 200)
GRID_LINE = QtGui.QColor(140, 140, 140)
DARK_TEXT, LIGHT_TEXT = QtGui.QColor(25, 25, 25), QtGui.QColor(255, 255, 255)
PAD_TEXT = QtGui.QColor(125, 125, 125)


class GridItem(QtWidgets.QGraphicsItem):
    """A matrix of shaded cells with their values; NaN cells are empty (not computed yet)."""

    def __init__(self, cell: float, text: float = 1.0, parent=None):
        super().__init__(parent)
        self.cell = cell
        # Row and column numbers beside the grid, as large as the scene's other text.
        self._label_font = _font(INDEX * text)
        self._margin = text_width("000", INDEX * text) + 6
        self._label_height = line_height(INDEX * text)
        self.values = np.zeros((0, 0))
        self._colours: list[QtGui.QColor] = []
        self._texts: list[str] = []
        self._kinds = np.zeros((0, 0), dtype=np.int8)
        self._font = _font(cell * 0.36)
        self._labels: tuple[list, list] | None = None
        self.setCacheMode(QtWidgets.QGraphicsItem.CacheMode.DeviceCoordinateCache)

    def set_data(self, values: np.ndarray, scale: float, kinds=None, labels=None) -> None:
        values = np.asarray(values, dtype=np.float64)
        if values.shape != self.values.shape or (labels is None) != (self._labels is None):
            self.prepareGeometryChange()
        self.values = values
        self._kinds = np.zeros(values.shape, np.int8) if kinds is None else np.asarray(kinds)
        rgb = shade(np.nan_to_num(values, nan=0.0, posinf=0.0, neginf=0.0), scale)
        self._colours = [QtGui.QColor(*map(int, c)) for c in rgb.reshape(-1, 3)]
        self._texts = ["" if np.isnan(v) else format_value(v) for v in values.ravel()]
        self._labels = labels
        self._fit_font()
        self.update()

    def _fit_font(self) -> None:
        longest = max(self._texts, key=len, default="")
        size = self.cell * 0.4
        while (
            size > 6 and QtGui.QFontMetricsF(_font(size)).horizontalAdvance(longest) > self.cell - 5
        ):
            size -= 1
        self._font = _font(size)

    def boundingRect(self) -> QtCore.QRectF:
        rows, cols = self.values.shape
        left, top = (self._margin, self._label_height + 2) if self._labels is not None else (2, 2)
        return QtCore.QRectF(-left, -top, cols * self.cell + left + 2, rows * self.cell + top + 2)

    def cell_rect(self, i: int, j: int) -> QtCore.QRectF:
        return QtCore.QRectF(j * self.cell, i * self.cell, self.cell, self.cell)

    def paint(self, painter: QtGui.QPainter, option, widget=None) -> None:
        lod = option.levelOfDetailFromTransform(painter.worldTransform())
        show_text = self._font.pixelSize() * lod >= 6
        painter.setFont(self._font)
        cols = self.values.shape[1] if self.values.ndim == 2 else 0
        for n, text in enumerate(self._texts):
            i, j = divmod(n, cols)
            self._paint_cell(painter, i, j, text if show_text else "")
        if self._labels is not None and lod * self._label_font.pixelSize() >= 6:
            self._paint_labels(painter)

    def _paint_cell(self, painter: QtGui.QPainter, i: int, j: int, text: str) -> None:
        rect, kind = self.cell_rect(i, j), self._kinds[i, j]
        empty = np.isnan(self.values[i, j])
        if kind == OUTSIDE or empty:
            painter.setPen(QtGui.QPen(PAD_HATCH, 1))
            painter.setBrush(QtGui.QColor(255, 255, 255))
            painter.drawRect(rect)
            return
        if kind != INPUT:  # padding: hatched, grey values
            painter.setPen(QtGui.QPen(PAD_HATCH, 1))
            painter.setBrush(PAD_FILL)
            painter.drawRect(rect)
            painter.setBrush(QtGui.QBrush(PAD_HATCH, QtCore.Qt.BrushStyle.BDiagPattern))
            painter.drawRect(rect)
            ink = PAD_TEXT
        else:
            colour = self._colours[i * self.values.shape[1] + j]
            painter.setPen(QtGui.QPen(GRID_LINE, 1))
            painter.setBrush(colour)
            painter.drawRect(rect)
            ink = DARK_TEXT if colour.lightness() > 150 else LIGHT_TEXT
        if text:
            painter.setPen(ink)
            painter.drawText(rect, QtCore.Qt.AlignmentFlag.AlignCenter, text)

    def _paint_labels(self, painter: QtGui.QPainter) -> None:
        rows, cols = self._labels
        painter.setFont(self._label_font)
        painter.setPen(PAD_TEXT)
        right = QtCore.Qt.AlignmentFlag.AlignRight | QtCore.Qt.AlignmentFlag.AlignVCenter
        width, height = self._margin - 4, self._label_height
        for i, label in enumerate(rows):
            painter.drawText(QtCore.QRectF(-width - 4, i * self.cell, width, self.cell), right,
                             str(label))  # fmt: skip
        bottom = QtCore.Qt.AlignmentFlag.AlignHCenter | QtCore.Qt.AlignmentFlag.AlignBottom
        for j, label in enumerate(cols):
            painter.drawText(QtCore.QRectF(j * self.cell, -height - 2, self.cell, height), bottom,
                             str(label))  # fmt: skip


class WindowItem(QtWidgets.QGraphicsItem):
    """The kernel's footprint: a dashed span, and the cells it reads (dilation leaves gaps)."""

    def __init__(self, kernel: tuple[int, int], dilation: tuple[int, int], cell: float):
        super().__init__()
        self.kernel, self.dilation, self.cell = kernel, dilation, cell
        self.setZValue(10)

    def span(self) -> QtCore.QSizeF:
        (kh, kw), (dh, dw) = self.kernel, self.dilation
        return QtCore.QSizeF((dw * (kw - 1) + 1) * self.cell, (dh * (kh - 1) + 1) * self.cell)

    def boundingRect(self) -> QtCore.QRectF:
        size = self.span()
        return QtCore.QRectF(-4, -4, size.width() + 8, size.height() + 8)

    def paint(self, painter: QtGui.QPainter, option, widget=None) -> None:
        (kh, kw), (dh, dw), cell = self.kernel, self.dilation, self.cell
        dashed = QtGui.QPen(WINDOW, 2, QtCore.Qt.PenStyle.DashLine)
        painter.setPen(dashed)
        painter.setBrush(QtCore.Qt.BrushStyle.NoBrush)
        painter.drawRect(QtCore.QRectF(QtCore.QPointF(-2, -2), self.span() + QtCore.QSizeF(4, 4)))
        painter.setPen(QtGui.QPen(WINDOW, 3.5))
        painter.setBrush(QtGui.QColor(230, 120, 0, 30))
        for i in range(kh):
            for j in range(kw):
                painter.drawRect(QtCore.QRectF(j * dw * cell + 1.5, i * dh * cell + 1.5,
                                               cell - 3, cell - 3))  # fmt: skip


def _ease(t: float) -> float:
    """Smoothstep: the window accelerates away and settles into its next place."""
    t = min(max(t, 0.0), 1.0)
    return t * t * (3 - 2 * t)


def _scale(values) -> float:
    finite = np.abs(np.asarray(values, dtype=np.float64))
    finite = finite[np.isfinite(finite)]
    return float(finite.max(initial=0.0)) or 1.0


class StepScene(QtWidgets.QGraphicsScene):
    """Build once per walkthrough (`build`), then `show_step` per step and `glide` per frame."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.walk: Walkthrough | None = None
        self.geo: SceneLayout | None = None
        self.index = 0

    def layout_choice(self) -> tuple[float, bool]:
        """(text scale, sums below) of the current layout (see conv_stepper_view)."""
        geo = self.geo
        return (geo.text, geo.sums_below) if geo is not None else (1.0, False)

    # -- building ------------------------------------------------------------------
    def _text(self, text: str, x: float, y: float, size: float, bold=False, colour=None):
        """A text item at scene size `size` × the layout's text scale."""
        item = self.addSimpleText(text, _font(self.geo.px(size), bold))
        item.setBrush(
            colour or QtWidgets.QApplication.palette().color(QtGui.QPalette.ColorRole.Text)
        )
        item.setPos(x, y)
        return item

    def _grid(self, cell: float, x: float, y: float) -> GridItem:
        item = GridItem(cell, self.geo.text)
        item.setPos(x, y)
        self.addItem(item)
        return item

    def _title(self, text: str, x: float, y: float, size: float = TITLE, colour=None):
        """A grid's title above it, clear of its column numbers."""
        return self._text(text, x, y - self.geo.band + 2, size, colour=colour)

    def build(self, walk: Walkthrough, text: float = 1.0, sums_below: bool = False) -> None:
        """Lay out `walk` with every text size × `text`, the running sums beside the
        products or under them (see conv_stepper_layout)."""
        self.clear()
        self.walk, self.geo = walk, SceneLayout.of(walk, text, sums_below)
        self.windows: list[WindowItem] = []
        self.kernels: list[GridItem] = []
        self.products: list[GridItem] = []
        self.sum_lines: list[tuple] = []
        self._build_inputs()
        if walk.kind == "conv":
            self._build_conv_columns()
        self._build_outputs()
        self._kernel_shown = -1
        self.show_step(0)  # fills every grid, so the bounding rectangle below is complete
        self.setSceneRect(self.itemsBoundingRect().adjusted(-12, -12, 12, 12))

    def _build_inputs(self) -> None:
        walk, geo = self.walk, self.geo
        r0, r1, c0, c1 = geo.box
        kinds = walk.cell_kind[r0:r1, c0:c1]
        scale = _scale(walk.padded[:, r0:r1, c0:c1][:, kinds == INPUT])
        top, left = walk.pad_before
        labels = ([r - top for r in range(r0, r1)], [c - left for c in range(c0, c1)])
        first = walk.steps[0]
        for row in range(geo.rows):
            channel, y = int(first.channels[row]), geo.row_y(row)
            self._title(walk.names.input(channel), geo.input_x, y)
            self._grid(geo.cell, geo.input_x, y).set_data(
                walk.padded[channel, r0:r1, c0:c1], scale, kinds, labels
            )
            window = WindowItem(walk.kernel_size, walk.config.dilation, geo.cell)
            self.addItem(window)
            self.windows.append(window)
        bottom = geo.row_y(geo.rows - 1) + (r1 - r0) * geo.cell + 6
        notes = []
        if (kinds != INPUT).any():
            notes.append(walk.padding_note())
        hidden = len(first.channels) - geo.rows
        if hidden > 0:
            notes.append(f"+ {hidden} more input channels: not drawn, but in the sum")
        self.where = self._text("", geo.input_x, bottom, NOTE, colour=WINDOW)
        below = bottom + line_height(geo.px(NOTE)) + 2
        self.notes = self._text("\n".join(notes), geo.input_x, below, NOTE, colour=PAD_TEXT)
        self.chosen = self.addEllipse(QtCore.QRectF(), QtGui.QPen(CHOSEN, 4))
        self.chosen.setZValue(11)

    def _sign(self, sign: str, size: float, right: float, middle: float) -> None:
        """× or = (or →) centred in the gap that ends at `right`, level with `middle`."""
        x = right - 16 - text_width(sign, self.geo.px(size))
        self._text(sign, x, middle - line_height(self.geo.px(size)) / 2, size)

    def _build_conv_columns(self) -> None:
        walk, geo = self.walk, self.geo
        kh = walk.kernel_size[0]
        self._kernel_scale = _scale(walk.kernel)
        self._product_scale = _scale(np.concatenate([s.products.ravel() for s in walk.steps]))
        for row in range(geo.rows):
            y = geo.row_y(row)
            middle = y + kh * geo.kcell / 2
            self.kernels.append(self._grid(geo.kcell, geo.kernel_x, y))
            self.products.append(self._grid(geo.kcell, geo.products_x, y))
            self._sign("×", SIGN, geo.kernel_x, middle)
            self._sign("=", SIGN, geo.products_x, middle)
            self._title("products", geo.products_x, y, LABEL, colour=PAD_TEXT)
            label = self._title("", geo.kernel_x, y, LABEL, colour=PAD_TEXT)
            # The total just above the middle of its row (or under the products), the
            # terms just below it.
            top = middle - line_height(geo.px(TOTAL))
            if geo.sums_below:
                top = y + kh * geo.kcell + 6
            total = self._text("", geo.sums_x, top, TOTAL, bold=True)
            below = top + line_height(geo.px(TOTAL))
            terms = self._text("", geo.sums_x, below, TERMS, colour=PAD_TEXT)
            self.sum_lines.append((label, terms, total))

    def _build_outputs(self) -> None:
        walk, geo = self.walk, self.geo
        rows = walk.region[2]
        self._outputs = walk.output()
        self._output_scale = _scale(self._outputs)
        self.output_grids: list[GridItem] = []
        self._filled = [-1] * len(walk.out_channels)
        for k, o in enumerate(walk.out_channels):
            y = geo.output_y(k, rows)
            self._title(walk.names.output(o), geo.output_x, y)
            self.output_grids.append(self._grid(geo.cell, geo.output_x, y))
        arrow_right = geo.sums_x + geo.sums_width + text_width("→", geo.px(ARROW)) + 24
        self._sign("→", ARROW, arrow_right, geo.output_y(0, rows) + rows * geo.cell / 2)
        self.cursor = self.addRect(QtCore.QRectF(), QtGui.QPen(WINDOW, 4))
        self.cursor.setZValue(11)
        below = geo.output_y(len(walk.out_channels) - 1, rows) + rows * geo.cell + 8
        self.result = self._text("", geo.output_x, below, RESULT)
        self.pool_grad = PoolGradView.beside_output(self) if PoolGradView.wanted(walk) else None
        self.grad_grid = None if self.pool_grad is None else self.pool_grad.grid

    # -- per step and per frame ----------------------------------------------------
    def show_step(self, index: int) -> None:
        walk = self.walk
        self.index = index
        step = walk.steps[index]
        if walk.kind == "conv":
            self._show_conv_rows(step)
        self._fill_outputs(index)
        k = walk.out_channels.index(step.out[0])
        row0, col0 = walk.region[:2]
        grid = self.output_grids[k]
        rect = grid.cell_rect(step.out[1] - row0, step.out[2] - col0).translated(grid.pos())
        self.cursor.setRect(rect.adjusted(-1, -1, 1, 1))
        self.result.setText("\n".join(result_lines(walk, step)))
        if self.pool_grad is not None:
            self.pool_grad.show(index)
        self.where.setText(window_text(walk, step))
        self.glide(index, 0.0)

    def _fits_sums(self, text: str) -> bool:
        return text_width(text, self.geo.px(TERMS)) <= self.geo.sums_width

    def _show_conv_rows(self, step: Step) -> None:
        walk, o = self.walk, step.out[0]
        for row, (label, terms, total) in enumerate(self.sum_lines):
            if self._kernel_shown != o:
                self.kernels[row].set_data(walk.kernel[o, row], self._kernel_scale)
                label.setText(walk.names.kernel(o, int(step.channels[row])))
            self.products[row].set_data(step.products[row], self._product_scale)
            terms.setText(sum_terms(step.products[row], self._fits_sums))
            total.setText(f"Σ = {format_value(step.partial_sums[row])}")
        self._kernel_shown = o

    def _fill_outputs(self, index: int) -> None:
        row0, col0, rows, cols = self.walk.region
        per_map = rows * cols
        for k, grid in enumerate(self.output_grids):
            filled = int(np.clip(index + 1 - k * per_map, 0, per_map))
            if filled == self._filled[k]:
                continue
            values = np.full(per_map, np.nan)
            values[:filled] = self._outputs[k].ravel()[:filled]
            labels = (list(range(row0, row0 + rows)), list(range(col0, col0 + cols)))
            grid.set_data(values.reshape(rows, cols), self._output_scale, labels=labels)
            self._filled[k] = filled

    def glide(self, index: int, t: float) -> None:
        """Windows on their way from step `index` to the next (t = 0: exactly at `index`)."""
        steps = self.walk.steps
        here = steps[index]
        there = steps[min(index + 1, len(steps) - 1)]
        eased = _ease(t)
        for row, window in enumerate(self.windows):
            start = self.geo.cell_pos(row, here.rows[0], here.cols[0])
            end = self.geo.cell_pos(row, there.rows[0], there.cols[0])
            window.setPos(start + (end - start) * eased)
        self._place_chosen(here if t == 0 else None)

    def _place_chosen(self, step: Step | None) -> None:
        if step is None or step.chosen is None:
            self.chosen.setVisible(False)
            return
        i, j = step.chosen
        corner = self.geo.cell_pos(0, step.rows[i], step.cols[j])
        cell = self.geo.cell
        self.chosen.setRect(QtCore.QRectF(corner.x() + 5, corner.y() + 5, cell - 10, cell - 10))
        self.chosen.setVisible(True)
