"""How the stack's rows are drawn: layers, blocks, path headers and merges.

A layer row shows the index, a glyph badge, the type, the key parameters, the
output shape and the parameter count. An invalid row is tinted red and its
reason is printed on a second line (visible without hovering); the rows after
it are greyed as not computable.

Inside a block everything is indented one step per depth, and a thin line
runs down from the block's badge past its paths to the merge row, where the
paths meet. A block row has an arrow that opens or closes it, its merged
output shape and the parameters of everything inside it.
"""

from __future__ import annotations

import re

from PySide6.QtCore import QModelIndex, QRect, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPalette, QPen
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem

from cnnviz.core.analysis import LayerInfo
from cnnviz.qt.editor.glyphs import ERROR_COLOR, drawable, group_color, paint_badge
from cnnviz.qt.editor.stack_model import (
    MERGE_TEXT_ROLE,
    OPEN_ROLE,
    PARAMS_ROLE,
    ROW_ROLE,
    SHAPE_ROLE,
    format_count,
    format_shape,
)
from cnnviz.qt.editor.stack_rows import HEADER, LAYER, MERGE, Row

PAD = 8
INDEX_W, BADGE_W, SHAPE_W, COUNT_W = 24, 20, 96, 64
INDENT = 16  # pixels per depth
ARROW_W = 12
_ERROR_PREFIX = re.compile(r"^layer \S+ \w+: ")
LEFT = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter


def columns(width: int, depth: int = 0) -> dict[str, tuple[int, int]]:
    """Left x and width of each column for a row `width` wide at `depth` (the
    header and rows share it); the shape and count columns never move.

    "layer" holds the type in bold followed by its key parameters."""
    count_x = width - PAD - COUNT_W
    shape_x = count_x - PAD - SHAPE_W
    x0 = depth * INDENT
    layer_x = x0 + PAD + INDEX_W + PAD + BADGE_W + PAD
    return {
        "index": (x0 + PAD - 4, INDEX_W),
        "badge": (x0 + PAD + INDEX_W + PAD, BADGE_W),
        "layer": (layer_x, max(40, shape_x - layer_x - PAD)),
        "shape": (shape_x, SHAPE_W),
        "count": (count_x, COUNT_W),
    }


def guide_x(level: int) -> int:
    """The x of the line that runs down a block at `level` (its badge's centre)."""
    return columns(0, level)["badge"][0] + BADGE_W // 2


def arrow_rect(row_rect: QRect, depth: int) -> QRect:
    """Where a block row's open/close arrow is (left of its index)."""
    return QRect(row_rect.left() + depth * INDENT + 1, row_rect.top(), ARROW_W, row_rect.height())


def short_error(info: LayerInfo) -> str:
    """The reason without the "layer 3.body.0 Conv2d:" prefix the row already shows."""
    return _ERROR_PREFIX.sub("", info.error or "")


class StackDelegate(QStyledItemDelegate):
    def _line_height(self, option: QStyleOptionViewItem) -> int:
        return QFontMetrics(option.font).height()

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex) -> QSize:
        row: Row | None = index.data(ROW_ROLE)
        line = self._line_height(option)
        if row is None:
            return QSize(320, line + 14)
        if row.kind == HEADER:
            return QSize(320, line + 6)
        height = line + (8 if row.kind == MERGE else 14)
        if row.info.error and (row.kind == MERGE or not row.info.layer.is_block):
            height += line + 2
        elif row.info.error and not index.data(OPEN_ROLE):
            height += line + 2  # a closed block shows its merge's reason itself
        return QSize(320, height)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        row: Row | None = index.data(ROW_ROLE)
        if row is None:
            return super().paint(painter, option, index)
        painter.save()
        if row.kind == LAYER:
            self._paint_layer(painter, option, index, row)
        elif row.kind == HEADER:
            self._paint_header(painter, option, index, row)
        else:
            self._paint_merge(painter, option, index, row)
        painter.restore()

    # -- tree lines --------------------------------------------------------------

    def _guide_pen(self, option) -> QPen:
        color = QColor(group_color("block"))
        color.setAlphaF(0.55)
        return QPen(color, 1.5)

    def _paint_guides(self, painter, option, row: Row) -> None:
        """A vertical line per enclosing block; a merge row's own line ends at it."""
        rect = option.rect
        painter.setPen(self._guide_pen(option))
        for level in range(row.depth):
            x = rect.left() + guide_x(level)
            bottom = rect.bottom()
            if row.kind == MERGE and level == row.depth - 1:
                bottom = rect.top() + self._line_height(option) // 2 + 4
            painter.drawLine(x, rect.top(), x, bottom)

    def _connector(self, painter, option, row: Row, to_x: int, mid_y: int) -> None:
        x = option.rect.left() + guide_x(row.depth - 1)
        painter.setPen(self._guide_pen(option))
        painter.drawLine(x, mid_y, option.rect.left() + to_x, mid_y)

    # -- header and merge rows --------------------------------------------------

    def _paint_header(self, painter, option, index, row: Row) -> None:
        rect = option.rect
        cols = columns(rect.width(), row.depth)
        line_h = self._line_height(option)
        top = rect.top() + 3
        x = cols["badge"][0]
        self._paint_guides(painter, option, row)
        self._connector(painter, option, row, x - 3, top + line_h // 2)
        font = QFont(option.font)
        font.setItalic(True)
        painter.setFont(font)
        color = QColor(group_color("block"))
        dark = option.palette.color(QPalette.ColorRole.Base).lightness() < 128
        painter.setPen(color.lighter(150) if dark else color.darker(110))
        width = cols["shape"][0] - x - PAD
        painter.drawText(QRect(rect.left() + x, top, width, line_h), LEFT, index.data())
        shape = index.data(SHAPE_ROLE)
        if shape:
            dim = _dim(option.palette.color(QPalette.ColorRole.Text))
            painter.setPen(dim)
            sx, sw = cols["shape"]
            painter.drawText(QRect(rect.left() + sx, top, sw, line_h), RIGHT, format_shape(shape))

    def _paint_merge(self, painter, option, index, row: Row) -> None:
        rect, info = option.rect, row.info
        cols = columns(rect.width(), row.depth)
        line_h = self._line_height(option)
        top = rect.top() + 4
        error = QColor(ERROR_COLOR)
        if info.error:
            painter.fillRect(rect, QColor(214, 39, 40, 28))
            painter.fillRect(QRect(rect.left(), rect.top(), 3, rect.height()), error)
        bx, bw = cols["badge"]
        self._paint_guides(painter, option, row)
        self._connector(painter, option, row, bx, top + line_h // 2)
        text = option.palette.color(QPalette.ColorRole.Text)
        bold = QFont(option.font)
        bold.setBold(True)
        painter.setFont(bold)
        painter.setPen(error if info.error else text)
        glyph, word = index.data().split(" ", 1)
        big = QFont(bold)
        big.setPixelSize(round(bw * 0.95))
        painter.setFont(big)
        painter.setPen(error if info.error else group_color("block"))
        glyph_rect = QRect(rect.left() + bx, top + (line_h - bw) // 2, bw, bw)
        painter.drawText(glyph_rect, Qt.AlignmentFlag.AlignCenter, drawable(glyph, big))
        painter.setFont(bold)
        painter.setPen(error if info.error else text)
        lx, lw = cols["layer"]
        used = QFontMetrics(bold).horizontalAdvance(word) + 8
        painter.drawText(QRect(rect.left() + lx, top, lw, line_h), LEFT, word)
        arithmetic = index.data(MERGE_TEXT_ROLE) or ""
        painter.setFont(option.font)
        painter.setPen(_dim(text))
        elided = QFontMetrics(option.font).elidedText(
            arithmetic, Qt.TextElideMode.ElideRight, max(0, lw - used)
        )
        painter.drawText(QRect(rect.left() + lx + used, top, lw - used, line_h), LEFT, elided)
        sx, sw = cols["shape"]
        shape_text = "invalid" if info.error else format_shape(info.output_shape)
        painter.setPen(error if info.error else text)
        if info.computable or info.error:
            painter.drawText(QRect(rect.left() + sx, top, sw, line_h), RIGHT, shape_text)
        if info.error:
            self._paint_error_line(painter, option, info, lx, top + line_h + 2, error)

    # -- layer rows (plain layers and blocks) ---------------------------------------

    def _paint_layer(self, painter, option, index, row: Row) -> None:
        info = row.info
        rect = option.rect
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        self._paint_background(painter, option, info, selected)
        self._paint_guides(painter, option, row)  # over the background
        pal = option.palette
        text = pal.color(
            QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text
        )
        dim = _dim(text)
        if not info.computable and not info.error:
            text = dim
        line_h = self._line_height(option)
        top = rect.top() + 7
        cols = columns(rect.width(), row.depth)

        def cell(name: str, value: str, color: QColor, align, font: QFont | None = None):
            x, w = cols[name]
            painter.setFont(font or option.font)
            metrics = QFontMetrics(painter.font())
            elided = metrics.elidedText(value, Qt.TextElideMode.ElideRight, w)
            painter.setPen(color)
            painter.drawText(QRect(rect.left() + x, top, w, line_h), align, elided)

        # Inside a block the number is the place in its path ("layer 3.body.0").
        cell("index", info.address.rpartition(".")[2], dim, RIGHT)
        if info.layer.is_block:
            self._paint_arrow(painter, option, row, bool(index.data(OPEN_ROLE)), top, line_h, dim)
        bx, bw = cols["badge"]
        badge = QRectF(rect.left() + bx, top + (line_h - bw) / 2, bw, bw)
        paint_badge(painter, badge, info.layer.type, enabled=info.computable or bool(info.error))
        self._paint_layer_cell(painter, option, index, info, cols["layer"], top, line_h, text, dim)
        self._paint_result_cells(cell, info, index.data(PARAMS_ROLE), text, dim, selected)
        show_reason = info.error and (not info.layer.is_block or not index.data(OPEN_ROLE))
        if show_reason:
            error_color = text if selected else QColor(ERROR_COLOR)
            self._paint_error_line(
                painter, option, info, cols["layer"][0], top + line_h + 2, error_color
            )

    def _paint_arrow(self, painter, option, row: Row, is_open: bool, top, line_h, color) -> None:
        area = arrow_rect(option.rect, row.depth)
        painter.setFont(option.font)
        painter.setPen(color)
        painter.drawText(
            QRect(area.left(), top, area.width(), line_h),
            Qt.AlignmentFlag.AlignCenter,
            "▾" if is_open else "▸",
        )

    def _paint_error_line(self, painter, option, info, x, top, color) -> None:
        """The reason a row is invalid, on its second line: visible without hovering."""
        rect = option.rect
        line_h = self._line_height(option)
        err_rect = QRect(rect.left() + x, top, rect.width() - x - PAD, line_h)
        painter.setFont(option.font)
        painter.setPen(color)
        message = "⚠ " + short_error(info)
        elided = QFontMetrics(option.font).elidedText(
            message, Qt.TextElideMode.ElideRight, err_rect.width()
        )
        painter.drawText(err_rect, LEFT, elided)

    def _paint_layer_cell(self, painter, option, index, info, column, top, line_h, text, dim):
        """The type in bold, then the key parameters (for a closed block, how
        many layers it holds), elided to the column."""
        x, width = column
        left = option.rect.left() + x
        bold = QFont(option.font)
        bold.setBold(True)
        bold_metrics = QFontMetrics(bold)
        type_text = bold_metrics.elidedText(info.layer.type, Qt.TextElideMode.ElideRight, width)
        painter.setFont(bold)
        painter.setPen(text)
        painter.drawText(QRect(left, top, width, line_h), LEFT, type_text)
        used = bold_metrics.horizontalAdvance(type_text) + 8
        described = info.layer.describe()
        if info.layer.is_block and not index.data(OPEN_ROLE):
            inside = sum(1 for _ in info.layer.walk("")) - 1
            described = ", ".join(p for p in (described, f"{inside} layers") if p)
        if described and used < width - 12:
            metrics = QFontMetrics(option.font)
            rest = metrics.elidedText(described, Qt.TextElideMode.ElideRight, width - used)
            painter.setFont(option.font)
            painter.setPen(dim if info.computable or info.error else text)
            painter.drawText(QRect(left + used, top, width - used, line_h), LEFT, rest)

    def _paint_result_cells(self, cell, info: LayerInfo, params, text, dim, selected) -> None:
        if info.error:
            cell("shape", "invalid", text if selected else QColor(ERROR_COLOR), RIGHT)
        elif not info.computable:
            italic = QFont()
            italic.setItalic(True)
            cell("shape", "not computable", dim, RIGHT, italic)
        else:
            cell("shape", format_shape(info.output_shape), text, RIGHT)
            cell("count", format_count(params) if params else "–", text if params else dim, RIGHT)

    def _paint_background(self, painter, option, info: LayerInfo, selected: bool) -> None:
        rect = option.rect
        pal = option.palette
        if selected:
            color = pal.color(QPalette.ColorRole.Highlight)
            if (
                not option.state & QStyle.StateFlag.State_HasFocus
                and not option.state & QStyle.StateFlag.State_Active
            ):
                color.setAlphaF(0.8)
            painter.fillRect(rect, color)
        elif info.error:
            painter.fillRect(rect, QColor(214, 39, 40, 28))
        elif option.features & QStyleOptionViewItem.ViewItemFeature.Alternate:
            painter.fillRect(rect, pal.color(QPalette.ColorRole.AlternateBase))
        if info.error:
            painter.fillRect(QRect(rect.left(), rect.top(), 3, rect.height()), QColor(ERROR_COLOR))


def _dim(color: QColor) -> QColor:
    dim = QColor(color)
    dim.setAlphaF(0.55)
    return dim
