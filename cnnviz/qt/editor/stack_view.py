"""The stack view: one row per layer, drawn as columns, with its editing actions.

Each row shows the index, a glyph badge, the type, the key parameters, the
output shape and the parameter count. An invalid row is tinted red and its
reason is printed on a second line (visible without hovering); the rows after
it are greyed as not computable. Delete, Ctrl+D, Alt+Up/Down act on the
selected rows (multi-selection works); every edit is an undo command.
"""

from __future__ import annotations

import re

from PySide6.QtCore import QModelIndex, QPoint, QRect, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QAction,
    QColor,
    QDrag,
    QFont,
    QFontMetrics,
    QKeySequence,
    QPainter,
    QPalette,
    QPixmap,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QListView,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QWidget,
)

from cnnviz.core.analysis import LayerInfo
from cnnviz.qt.editor import commands
from cnnviz.qt.editor.document import Document
from cnnviz.qt.editor.glyphs import ERROR_COLOR, paint_badge
from cnnviz.qt.editor.stack_model import INFO_ROLE, StackModel, format_count, format_shape

PAD = 8
INDEX_W, BADGE_W, SHAPE_W, COUNT_W = 24, 20, 96, 64
_ERROR_PREFIX = re.compile(r"^layer \d+ \w+: ")


def columns(width: int) -> dict[str, tuple[int, int]]:
    """Left x and width of each column for a row `width` wide (header and rows share it).

    "layer" holds the type in bold followed by its key parameters."""
    count_x = width - PAD - COUNT_W
    shape_x = count_x - PAD - SHAPE_W
    layer_x = PAD + INDEX_W + PAD + BADGE_W + PAD
    return {
        "index": (PAD - 4, INDEX_W),
        "badge": (PAD + INDEX_W + PAD, BADGE_W),
        "layer": (layer_x, max(40, shape_x - layer_x - PAD)),
        "shape": (shape_x, SHAPE_W),
        "count": (count_x, COUNT_W),
    }


def short_error(info: LayerInfo) -> str:
    """The reason without the "layer 3 Conv2d:" prefix the row already shows."""
    return _ERROR_PREFIX.sub("", info.error or "")


class StackDelegate(QStyledItemDelegate):
    def _line_height(self, option: QStyleOptionViewItem) -> int:
        return QFontMetrics(option.font).height()

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex) -> QSize:
        info: LayerInfo = index.data(INFO_ROLE)
        height = self._line_height(option) + 14
        if info is not None and info.error:
            height += self._line_height(option) + 2
        return QSize(320, height)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        info: LayerInfo = index.data(INFO_ROLE)
        if info is None:
            return super().paint(painter, option, index)
        painter.save()
        rect = option.rect
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        self._paint_background(painter, option, info, selected)
        pal = option.palette
        text = pal.color(
            QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text
        )
        dim = QColor(text)
        dim.setAlphaF(0.55)
        if not info.computable and not info.error:
            text = dim
        line_h = self._line_height(option)
        top = rect.top() + 7
        cols = columns(rect.width())

        def cell(name: str, value: str, color: QColor, align, font: QFont | None = None):
            x, w = cols[name]
            painter.setFont(font or option.font)
            metrics = QFontMetrics(painter.font())
            elided = metrics.elidedText(value, Qt.TextElideMode.ElideRight, w)
            painter.setPen(color)
            painter.drawText(
                QRect(rect.left() + x, top, w, line_h),
                align | Qt.AlignmentFlag.AlignVCenter,
                elided,
            )

        right = Qt.AlignmentFlag.AlignRight
        cell("index", str(info.index), dim, right)
        bx, bw = cols["badge"]
        badge = QRectF(rect.left() + bx, top + (line_h - bw) / 2, bw, bw)
        paint_badge(painter, badge, info.layer.type, enabled=info.computable or bool(info.error))
        self._paint_layer_cell(painter, option, info, cols["layer"], top, line_h, text, dim)
        self._paint_result_cells(cell, info, text, dim, selected)
        if info.error:
            error_color = text if selected else QColor(ERROR_COLOR)
            self._paint_error_line(
                painter, option, info, cols["layer"][0], top + line_h + 2, error_color
            )
        painter.restore()

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
        align = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
        painter.drawText(err_rect, align, elided)

    def _paint_layer_cell(self, painter, option, info, column, top, line_h, text, dim) -> None:
        """The type in bold, then the key parameters, elided to the column."""
        x, width = column
        left = option.rect.left() + x
        bold = QFont(option.font)
        bold.setBold(True)
        bold_metrics = QFontMetrics(bold)
        type_text = bold_metrics.elidedText(info.layer.type, Qt.TextElideMode.ElideRight, width)
        painter.setFont(bold)
        painter.setPen(text)
        align = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
        painter.drawText(QRect(left, top, width, line_h), align, type_text)
        used = bold_metrics.horizontalAdvance(type_text) + 8
        described = info.layer.describe()
        if described and used < width - 12:
            metrics = QFontMetrics(option.font)
            rest = metrics.elidedText(described, Qt.TextElideMode.ElideRight, width - used)
            painter.setFont(option.font)
            painter.setPen(dim if info.computable or info.error else text)
            painter.drawText(QRect(left + used, top, width - used, line_h), align, rest)

    def _paint_result_cells(self, cell, info: LayerInfo, text, dim, selected) -> None:
        right = Qt.AlignmentFlag.AlignRight
        if info.error:
            cell("shape", "invalid", text if selected else QColor(ERROR_COLOR), right)
        elif not info.computable:
            italic = QFont()
            italic.setItalic(True)
            cell("shape", "not computable", dim, right, italic)
        else:
            cell("shape", format_shape(info.output_shape), text, right)
            cell(
                "count",
                format_count(info.params) if info.params else "–",
                dim if not info.params else text,
                right,
            )

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


class StackView(QListView):
    """The list of layers; its actions edit the document through the undo stack."""

    current_row_changed = Signal(int)  # -1 when nothing is current

    def __init__(self, doc: Document, parent: QWidget | None = None):
        super().__init__(parent)
        self.doc = doc
        self.setObjectName("stack")
        self.stack_model = StackModel(doc, self)
        self.setModel(self.stack_model)
        self.setItemDelegate(StackDelegate(self))
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DragDrop)
        self.setDefaultDropAction(Qt.DropAction.MoveAction)
        self.setDropIndicatorShown(True)
        self.setDragDropOverwriteMode(False)
        self.setAlternatingRowColors(True)
        self.setUniformItemSizes(False)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self._make_actions()
        self.selectionModel().selectionChanged.connect(self._selection_changed)
        self.selectionModel().currentRowChanged.connect(
            lambda current, _previous: self.current_row_changed.emit(current.row())
        )
        doc.selection_requested.connect(self.select_rows)
        doc.changed.connect(self._update_actions)
        self._update_actions()

    # -- actions -----------------------------------------------------------------

    def _action(self, text: str, shortcuts, slot, tip: str) -> QAction:
        action = QAction(text, self)
        action.setShortcuts([QKeySequence(s) for s in shortcuts])
        action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        action.setStatusTip(tip)
        action.triggered.connect(slot)
        self.addAction(action)
        return action

    def _make_actions(self) -> None:
        std = QKeySequence.StandardKey
        self.delete_action = self._action(
            "&Delete",
            [std.Delete, Qt.Key.Key_Backspace],
            self.delete_selected,
            "Remove the selected layers",
        )
        self.duplicate_action = self._action(
            "D&uplicate", ["Ctrl+D"], self.duplicate_selected, "Copy the selected layers below them"
        )
        self.move_up_action = self._action(
            "Move &Up",
            ["Alt+Up", "Ctrl+Shift+Up"],
            lambda: self.move_selected(-1),
            "Move the selected layers up",
        )
        self.move_down_action = self._action(
            "Move Do&wn",
            ["Alt+Down", "Ctrl+Shift+Down"],
            lambda: self.move_selected(1),
            "Move the selected layers down",
        )

    def _update_actions(self) -> None:
        rows = self.selected_rows()
        for action in (self.delete_action, self.duplicate_action):
            action.setEnabled(bool(rows))
        count = len(self.doc.architecture.layers)
        self.move_up_action.setEnabled(bool(rows) and rows[0] > 0)
        self.move_down_action.setEnabled(bool(rows) and rows[-1] < count - 1)

    # -- selection -----------------------------------------------------------------

    def selected_rows(self) -> list[int]:
        return sorted({i.row() for i in self.selectionModel().selectedRows()})

    def select_rows(self, rows: list[int]) -> None:
        model, selection = self.stack_model, self.selectionModel()
        valid = [r for r in rows if 0 <= r < model.rowCount()]
        selection.clearSelection()
        flags = selection.SelectionFlag.Select | selection.SelectionFlag.Rows
        for row in valid:
            selection.select(model.index(row), flags)
        if valid:
            selection.setCurrentIndex(model.index(valid[0]), selection.SelectionFlag.NoUpdate)
            self.scrollTo(model.index(valid[0]))
        else:
            selection.setCurrentIndex(QModelIndex(), selection.SelectionFlag.NoUpdate)
        self.current_row_changed.emit(valid[0] if valid else -1)

    def reveal_current(self) -> None:
        """Show the current row with as much of the top of the stack as fits."""
        self.verticalScrollBar().setValue(0)
        if self.currentIndex().isValid():
            self.scrollTo(self.currentIndex(), QAbstractItemView.ScrollHint.EnsureVisible)

    def current_row(self) -> int:
        index = self.currentIndex()
        return index.row() if index.isValid() else -1

    def _selection_changed(self, *_args) -> None:
        self._update_actions()

    # -- edits ------------------------------------------------------------------------

    def _push(self, command) -> None:
        if command is not None:
            self.doc.undo_stack.push(command)

    def delete_selected(self) -> None:
        self._push(commands.remove_rows(self.doc, self.selected_rows()))

    def duplicate_selected(self) -> None:
        self._push(commands.duplicate_rows(self.doc, self.selected_rows()))

    def move_selected(self, step: int) -> None:
        self._push(commands.move_rows_by(self.doc, self.selected_rows(), step))

    # -- drag and drop ---------------------------------------------------------------

    def startDrag(self, supported_actions) -> None:
        """Drag the selected rows; the drop pushes a move command, so the view
        must not remove anything itself afterwards (hence no base startDrag)."""
        rows = self.selected_rows()
        if not rows:
            return
        drag = QDrag(self)
        drag.setMimeData(self.stack_model.mimeData([self.stack_model.index(r) for r in rows]))
        drag.setPixmap(self._drag_pixmap(rows))
        drag.setHotSpot(QPoint(12, 12))
        drag.exec(Qt.DropAction.MoveAction | Qt.DropAction.CopyAction, Qt.DropAction.MoveAction)

    def _drag_pixmap(self, rows: list[int]) -> QPixmap:
        first = self.doc.architecture.layers[rows[0]].type
        label = first if len(rows) == 1 else f"{first} + {len(rows) - 1} more"
        metrics = self.fontMetrics()
        size = QSize(metrics.horizontalAdvance(label) + 40, metrics.height() + 12)
        ratio = self.devicePixelRatioF()
        pixmap = QPixmap(size * ratio)
        pixmap.setDevicePixelRatio(ratio)
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setBrush(self.palette().color(QPalette.ColorRole.Base))
        painter.setPen(self.palette().color(QPalette.ColorRole.Mid))
        painter.drawRoundedRect(QRectF(0.5, 0.5, size.width() - 1, size.height() - 1), 5, 5)
        paint_badge(painter, QRectF(6, (size.height() - 18) / 2, 18, 18), first)
        painter.setPen(self.palette().color(QPalette.ColorRole.Text))
        painter.drawText(
            QRect(30, 0, size.width() - 30, size.height()), Qt.AlignmentFlag.AlignVCenter, label
        )
        painter.end()
        return pixmap

    def paintEvent(self, event) -> None:
        super().paintEvent(event)
        if self.stack_model.rowCount() == 0:
            painter = QPainter(self.viewport())
            color = self.palette().color(QPalette.ColorRole.Text)
            color.setAlphaF(0.5)
            painter.setPen(color)
            painter.drawText(
                self.viewport().rect().adjusted(16, 16, -16, -16),
                Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                "The stack is empty.\nDrag layers here from the palette,\n"
                "or pick a network from the Presets menu.",
            )
