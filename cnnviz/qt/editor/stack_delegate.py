"""How the stack's rows are drawn: layers, blocks, path headers and merges.

A layer row shows the index, a glyph badge, the type, the key parameters, the
output shape and the parameter count. An invalid row is tinted red and its
reason is printed on a second line (visible without hovering); the rows after
it are greyed as not computable.

Inside a block everything is indented one step per depth, and a thin line
runs down from the block's badge past its paths to the merge row, where the
paths meet. A block row has an arrow that opens or closes it, its merged
output shape and the parameters of everything inside it.

Rows are drawn from their `Look` (stack_looks) into a pixmap once and copied
after that: a repaint of the whole list (an edit, a scroll, a selection) lays
out text only for rows that show something new.
"""

from __future__ import annotations

from collections import OrderedDict

from PySide6.QtCore import QModelIndex, QPoint, QRect, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPalette, QPen, QPixmap
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem

from cnnviz.qt.editor.glyphs import ERROR_COLOR, drawable, group_color, paint_badge
from cnnviz.qt.editor.stack_looks import Look, short_error
from cnnviz.qt.editor.stack_model import LOOK_ROLE
from cnnviz.qt.editor.stack_rows import HEADER, LAYER

__all__ = ["StackDelegate", "arrow_rect", "columns", "guide_x", "short_error"]

PAD = 8
INDEX_W, BADGE_W, SHAPE_W, COUNT_W = 24, 20, 96, 64
INDENT = 16  # pixels per depth
ARROW_W = 12
LEFT = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
ELIDE = Qt.TextElideMode.ElideRight
# The states a row is drawn differently in (selection colour and its strength).
_STATES = (
    QStyle.StateFlag.State_Selected
    | QStyle.StateFlag.State_HasFocus
    | QStyle.StateFlag.State_Active
    | QStyle.StateFlag.State_Enabled
)
# Painted rows kept: a few screens of them (a row 400 px wide is ~60 kB; 4× on HiDPI).
CACHE_ROWS = 128


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


class StackDelegate(QStyledItemDelegate):
    """Paints rows from their looks, through a cache of painted rows."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self._painted: OrderedDict[tuple, QPixmap] = OrderedDict()
        self._line_heights: dict[str, int] = {}
        self.painted = 0  # rows painted (copied from the cache or drawn afresh)
        self.rendered = 0  # rows drawn afresh

    def _line_height(self, option: QStyleOptionViewItem) -> int:
        key = option.font.key()
        if key not in self._line_heights:
            self._line_heights[key] = QFontMetrics(option.font).height()
        return self._line_heights[key]

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex) -> QSize:
        look: Look | None = index.data(LOOK_ROLE)
        line = self._line_height(option)
        if look is None:
            return QSize(320, line + 14)
        if look.kind == HEADER:
            return QSize(320, line + 6)
        height = line + (14 if look.kind == LAYER else 8)
        return QSize(320, height + (line + 2 if look.two_lines else 0))

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        look: Look | None = index.data(LOOK_ROLE)
        if look is None:
            return super().paint(painter, option, index)
        self.painted += 1
        rect = option.rect
        ratio = painter.device().devicePixelRatioF()
        alternate = bool(option.features & QStyleOptionViewItem.ViewItemFeature.Alternate)
        key = (
            look,
            rect.width(),
            rect.height(),
            int((option.state & _STATES).value),
            alternate,
            option.palette.cacheKey(),
            option.palette.currentColorGroup(),
            option.font.key(),
            ratio,
        )
        pixmap = self._painted.get(key)
        if pixmap is None:
            pixmap = self._render(look, option, ratio)
            self._painted[key] = pixmap
            if len(self._painted) > CACHE_ROWS:
                self._painted.popitem(last=False)
        else:
            self._painted.move_to_end(key)
        painter.drawPixmap(rect.topLeft(), pixmap)

    def _render(self, look: Look, option: QStyleOptionViewItem, ratio: float) -> QPixmap:
        """The row drawn into a pixmap of its size, as it is drawn at (0, 0)."""
        self.rendered += 1
        size = option.rect.size()
        pixmap = QPixmap(max(1, round(size.width() * ratio)), max(1, round(size.height() * ratio)))
        pixmap.setDevicePixelRatio(ratio)
        pixmap.fill(Qt.GlobalColor.transparent)
        at_origin = QStyleOptionViewItem(option)
        at_origin.rect = QRect(QPoint(0, 0), size)
        painter = QPainter(pixmap)
        painter.setFont(option.font)
        if look.kind == LAYER:
            self._paint_layer(painter, at_origin, look)
        elif look.kind == HEADER:
            self._paint_header(painter, at_origin, look)
        else:
            self._paint_merge(painter, at_origin, look)
        painter.end()
        return pixmap

    def forget_painted(self) -> None:
        """Drop every painted row (they are drawn afresh when next shown)."""
        self._painted.clear()

    # -- tree lines --------------------------------------------------------------

    def _guide_pen(self) -> QPen:
        color = QColor(group_color("block"))
        color.setAlphaF(0.55)
        return QPen(color, 1.5)

    def _paint_guides(self, painter, option, look: Look) -> None:
        """A vertical line per enclosing block; a merge row's own line ends at it."""
        rect = option.rect
        painter.setPen(self._guide_pen())
        merge = look.kind not in (LAYER, HEADER)
        for level in range(look.depth):
            x = rect.left() + guide_x(level)
            bottom = rect.bottom()
            if merge and level == look.depth - 1:
                bottom = rect.top() + self._line_height(option) // 2 + 4
            painter.drawLine(x, rect.top(), x, bottom)

    def _connector(self, painter, option, look: Look, to_x: int, mid_y: int) -> None:
        x = option.rect.left() + guide_x(look.depth - 1)
        painter.setPen(self._guide_pen())
        painter.drawLine(x, mid_y, option.rect.left() + to_x, mid_y)

    # -- header and merge rows --------------------------------------------------

    def _paint_header(self, painter, option, look: Look) -> None:
        rect = option.rect
        cols = columns(rect.width(), look.depth)
        line_h = self._line_height(option)
        top = rect.top() + 3
        x = cols["badge"][0]
        self._paint_guides(painter, option, look)
        self._connector(painter, option, look, x - 3, top + line_h // 2)
        font = QFont(option.font)
        font.setItalic(True)
        painter.setFont(font)
        color = QColor(group_color("block"))
        dark = option.palette.color(QPalette.ColorRole.Base).lightness() < 128
        painter.setPen(color.lighter(150) if dark else color.darker(110))
        width = cols["shape"][0] - x - PAD
        painter.drawText(QRect(rect.left() + x, top, width, line_h), LEFT, look.title)
        if look.shape:
            painter.setPen(_dim(option.palette.color(QPalette.ColorRole.Text)))
            sx, sw = cols["shape"]
            painter.drawText(QRect(rect.left() + sx, top, sw, line_h), RIGHT, look.shape)

    def _paint_merge(self, painter, option, look: Look) -> None:
        rect = option.rect
        cols = columns(rect.width(), look.depth)
        line_h = self._line_height(option)
        top = rect.top() + 4
        error = QColor(ERROR_COLOR)
        if look.invalid:
            painter.fillRect(rect, QColor(214, 39, 40, 28))
            painter.fillRect(QRect(rect.left(), rect.top(), 3, rect.height()), error)
        bx, bw = cols["badge"]
        self._paint_guides(painter, option, look)
        self._connector(painter, option, look, bx, top + line_h // 2)
        text = option.palette.color(QPalette.ColorRole.Text)
        bold = QFont(option.font)
        bold.setBold(True)
        big = QFont(bold)
        big.setPixelSize(round(bw * 0.95))
        painter.setFont(big)
        painter.setPen(error if look.invalid else group_color("block"))
        glyph_rect = QRect(rect.left() + bx, top + (line_h - bw) // 2, bw, bw)
        painter.drawText(glyph_rect, Qt.AlignmentFlag.AlignCenter, drawable(look.number, big))
        painter.setFont(bold)
        painter.setPen(error if look.invalid else text)
        lx, lw = cols["layer"]
        used = QFontMetrics(bold).horizontalAdvance(look.title) + 8
        painter.drawText(QRect(rect.left() + lx, top, lw, line_h), LEFT, look.title)
        painter.setFont(option.font)
        painter.setPen(_dim(text))
        elided = QFontMetrics(option.font).elidedText(look.detail, ELIDE, max(0, lw - used))
        painter.drawText(QRect(rect.left() + lx + used, top, lw - used, line_h), LEFT, elided)
        sx, sw = cols["shape"]
        painter.setPen(error if look.invalid else text)
        if look.shape:
            painter.drawText(QRect(rect.left() + sx, top, sw, line_h), RIGHT, look.shape)
        if look.reason:
            self._paint_error_line(painter, option, look, lx, top + line_h + 2, error)

    # -- layer rows (plain layers and blocks) ---------------------------------------

    def _paint_layer(self, painter, option, look: Look) -> None:
        rect = option.rect
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        self._paint_background(painter, option, look, selected)
        self._paint_guides(painter, option, look)  # over the background
        pal = option.palette
        text = pal.color(
            QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text
        )
        dim = _dim(text)
        if not look.computable and not look.invalid:
            text = dim
        line_h = self._line_height(option)
        top = rect.top() + 7
        cols = columns(rect.width(), look.depth)

        def cell(name: str, value: str, color: QColor, align, font: QFont | None = None):
            x, w = cols[name]
            painter.setFont(font or option.font)
            elided = QFontMetrics(painter.font()).elidedText(value, ELIDE, w)
            painter.setPen(color)
            painter.drawText(QRect(rect.left() + x, top, w, line_h), align, elided)

        # Inside a block the number is the place in its path ("layer 3.body.0").
        cell("index", look.number, dim, RIGHT)
        if look.block:
            self._paint_arrow(painter, option, look, top, line_h, dim)
        bx, bw = cols["badge"]
        badge = QRectF(rect.left() + bx, top + (line_h - bw) / 2, bw, bw)
        paint_badge(painter, badge, look.title, enabled=look.computable or look.invalid)
        self._paint_layer_cell(painter, option, look, cols["layer"], top, line_h, text, dim)
        self._paint_result_cells(cell, look, text, dim, selected)
        if look.reason:
            error_color = text if selected else QColor(ERROR_COLOR)
            self._paint_error_line(
                painter, option, look, cols["layer"][0], top + line_h + 2, error_color
            )

    def _paint_arrow(self, painter, option, look: Look, top, line_h, color) -> None:
        area = arrow_rect(option.rect, look.depth)
        painter.setFont(option.font)
        painter.setPen(color)
        painter.drawText(
            QRect(area.left(), top, area.width(), line_h),
            Qt.AlignmentFlag.AlignCenter,
            "▾" if look.is_open else "▸",
        )

    def _paint_error_line(self, painter, option, look: Look, x, top, color) -> None:
        """The reason a row is invalid, on its second line: visible without hovering."""
        rect = option.rect
        line_h = self._line_height(option)
        err_rect = QRect(rect.left() + x, top, rect.width() - x - PAD, line_h)
        painter.setFont(option.font)
        painter.setPen(color)
        message = "⚠ " + look.reason
        elided = QFontMetrics(option.font).elidedText(message, ELIDE, err_rect.width())
        painter.drawText(err_rect, LEFT, elided)

    def _paint_layer_cell(self, painter, option, look: Look, column, top, line_h, text, dim):
        """The type in bold, then the key parameters (for a closed block, how
        many layers it holds), elided to the column."""
        x, width = column
        left = option.rect.left() + x
        bold = QFont(option.font)
        bold.setBold(True)
        bold_metrics = QFontMetrics(bold)
        type_text = bold_metrics.elidedText(look.title, ELIDE, width)
        painter.setFont(bold)
        painter.setPen(text)
        painter.drawText(QRect(left, top, width, line_h), LEFT, type_text)
        used = bold_metrics.horizontalAdvance(type_text) + 8
        if look.detail and used < width - 12:
            metrics = QFontMetrics(option.font)
            rest = metrics.elidedText(look.detail, ELIDE, width - used)
            painter.setFont(option.font)
            painter.setPen(dim if look.computable or look.invalid else text)
            painter.drawText(QRect(left + used, top, width - used, line_h), LEFT, rest)

    def _paint_result_cells(self, cell, look: Look, text, dim, selected) -> None:
        if look.invalid:
            cell("shape", look.shape, text if selected else QColor(ERROR_COLOR), RIGHT)
        elif not look.computable:
            italic = QFont()
            italic.setItalic(True)
            cell("shape", look.shape, dim, RIGHT, italic)
        else:
            cell("shape", look.shape, text, RIGHT)
            cell("count", look.count, dim if look.count == "–" else text, RIGHT)

    def _paint_background(self, painter, option, look: Look, selected: bool) -> None:
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
        elif look.invalid:
            painter.fillRect(rect, QColor(214, 39, 40, 28))
        elif option.features & QStyleOptionViewItem.ViewItemFeature.Alternate:
            painter.fillRect(rect, pal.color(QPalette.ColorRole.AlternateBase))
        if look.invalid:
            painter.fillRect(QRect(rect.left(), rect.top(), 3, rect.height()), QColor(ERROR_COLOR))


def _dim(color: QColor) -> QColor:
    dim = QColor(color)
    dim.setAlphaF(0.55)
    return dim
