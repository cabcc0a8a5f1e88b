"""Dragging rows out of the stack and dropping layers into it, for StackView.

A drop lands where the indicator shows: between two rows, drawn at the depth
of the path the layers go into (stack_rows.drop_target), or onto a path's
header (the start of that path). The drop pushes an undo command through the
model; the view never removes dragged rows itself.
"""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPoint, QRect, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QDrag, QPainter, QPalette, QPen, QPixmap
from PySide6.QtWidgets import QAbstractItemView

from cnnviz.qt.editor.glyphs import paint_badge
from cnnviz.qt.editor.stack_delegate import columns
from cnnviz.qt.editor.stack_rows import HEADER


class StackDragDrop:
    """Mixed into StackView (a QListView with `stack_model`, `doc`, `_drop`)."""

    def startDrag(self, supported_actions) -> None:
        """Drag the selected rows; the drop pushes a move command, so the view
        must not remove anything itself afterwards (hence no base startDrag)."""
        rows = self.selected_rows()
        if not rows:
            return
        model = self.stack_model
        drag = QDrag(self)
        drag.setMimeData(model.mimeData([model.index(model.row_of(i)) for i in rows]))
        drag.setPixmap(self._drag_pixmap(rows))
        drag.setHotSpot(QPoint(12, 12))
        drag.exec(Qt.DropAction.MoveAction | Qt.DropAction.CopyAction, Qt.DropAction.MoveAction)

    def _drag_pixmap(self, rows: list[int]) -> QPixmap:
        first = self.doc.analysis.layers[rows[0]].layer.type
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

    def drop_place(self, pos: QPoint) -> tuple[int, bool]:
        """(row, onto) for a drop at `pos`: before `row`, or onto a path header.
        The upper half of a row is before it, the lower half after it."""
        index = self.indexAt(pos)
        if not index.isValid():
            return self.stack_model.rowCount(), False
        if self.stack_model.row(index.row()).kind == HEADER:
            return index.row(), True
        below = pos.y() >= self.visualRect(index).center().y()
        return index.row() + below, False

    def _drop_args(self, pos: QPoint) -> tuple[int, QModelIndex]:
        row, onto = self.drop_place(pos)
        return (-1, self.stack_model.index(row)) if onto else (row, QModelIndex())

    def dragMoveEvent(self, event) -> None:
        super().dragMoveEvent(event)  # scrolls near the edges
        model = self.stack_model
        row, parent = self._drop_args(event.position().toPoint())
        if not model.canDropMimeData(event.mimeData(), event.dropAction(), row, 0, parent):
            self._set_drop(None)
            event.ignore()
            return
        onto = parent.isValid()
        self._set_drop((parent.row() if onto else row, onto, model.drop_at(row, parent)))
        event.acceptProposedAction()

    def dragLeaveEvent(self, event) -> None:
        super().dragLeaveEvent(event)
        self._set_drop(None)

    def dropEvent(self, event) -> None:
        """Drop where the indicator showed (not where the base class would)."""
        self._set_drop(None)
        self.stopAutoScroll()
        self.setState(QAbstractItemView.State.NoState)
        row, parent = self._drop_args(event.position().toPoint())
        action = event.dropAction()
        if self.stack_model.dropMimeData(event.mimeData(), action, row, 0, parent):
            event.acceptProposedAction()
        else:
            event.ignore()

    def _set_drop(self, drop) -> None:
        if drop != self._drop:
            self._drop = drop
            self.viewport().update()

    def paint_drop(self, painter: QPainter) -> None:
        """A line at the drop's depth between two rows, or a frame round a header."""
        row, onto, drop = self._drop
        color = self.palette().color(QPalette.ColorRole.Highlight)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(QPen(color, 2))
        width = self.viewport().width()
        x = columns(width, drop.depth)["badge"][0] - 6
        count = self.stack_model.rowCount()
        if onto:
            rect = self.visualRect(self.stack_model.index(row))
            painter.drawRoundedRect(QRectF(rect.adjusted(x, 1, -3, -1)), 4, 4)
            return
        if row < count:
            y = self.visualRect(self.stack_model.index(row)).top()
        else:
            y = self.visualRect(self.stack_model.index(count - 1)).bottom() + 1 if count else 2
        y = max(y, 2)
        painter.drawLine(x + 4, y, width - 4, y)
        painter.setBrush(QColor(color))
        painter.drawEllipse(QRectF(x - 2, y - 3, 6, 6))
