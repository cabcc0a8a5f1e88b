"""A layout that places widgets left to right and wraps them onto new lines.

Rows of controls (the step-through panel's sizes, strides, padding) fit a
narrow dock by wrapping instead of forcing the dock wider or hiding the
controls past its edge. Qt has no such layout; this is the usual one (as in
Qt's "Flow Layout" example), with height-for-width so the layouts above it
give it the lines it needs.
"""

from __future__ import annotations

from PySide6 import QtCore, QtWidgets


class FlowLayout(QtWidgets.QLayout):
    """Items in reading order, each at its size hint, wrapped at the layout's width."""

    def __init__(self, parent: QtWidgets.QWidget | None = None, spacing=(14, 4)):
        super().__init__(parent)
        self._items: list[QtWidgets.QLayoutItem] = []
        self._h_spacing, self._v_spacing = spacing
        self.setContentsMargins(0, 0, 0, 0)

    def addItem(self, item: QtWidgets.QLayoutItem) -> None:
        self._items.append(item)

    def count(self) -> int:
        return len(self._items)

    def itemAt(self, index: int) -> QtWidgets.QLayoutItem | None:
        return self._items[index] if 0 <= index < len(self._items) else None

    def takeAt(self, index: int) -> QtWidgets.QLayoutItem | None:
        return self._items.pop(index) if 0 <= index < len(self._items) else None

    def expandingDirections(self) -> QtCore.Qt.Orientation:
        return QtCore.Qt.Orientation(0)

    def hasHeightForWidth(self) -> bool:
        return True

    def heightForWidth(self, width: int) -> int:
        return self._arrange(QtCore.QRect(0, 0, width, 0), move=False)

    def setGeometry(self, rect: QtCore.QRect) -> None:
        super().setGeometry(rect)
        self._arrange(rect, move=True)

    def sizeHint(self) -> QtCore.QSize:
        """Everything on one line."""
        shown = self._shown()
        width = sum(item.sizeHint().width() for item in shown)
        width += self._h_spacing * max(0, len(shown) - 1)
        height = max((item.sizeHint().height() for item in shown), default=0)
        return QtCore.QSize(width, height) + self._margin_size()

    def minimumSize(self) -> QtCore.QSize:
        """One item per line: as narrow as the widest item."""
        size = QtCore.QSize()
        for item in self._shown():
            size = size.expandedTo(item.minimumSize())
        return size + self._margin_size()

    def _margin_size(self) -> QtCore.QSize:
        margins = self.contentsMargins()
        return QtCore.QSize(margins.left() + margins.right(), margins.top() + margins.bottom())

    def _shown(self) -> list[QtWidgets.QLayoutItem]:
        return [item for item in self._items if not item.isEmpty()]  # hidden widgets: none

    def _arrange(self, rect: QtCore.QRect, move: bool) -> int:
        """Place (or only measure) the items in `rect`; the height they take."""
        area = rect.marginsRemoved(self.contentsMargins())
        x, y, line_height = area.x(), area.y(), 0
        for item in self._shown():
            hint = item.sizeHint()
            if x > area.x() and x + hint.width() > area.right() + 1:
                x, y = area.x(), y + line_height + self._v_spacing
                line_height = 0
            if move:  # an item wider than the whole line gets the line
                size = QtCore.QSize(min(hint.width(), area.width()), hint.height())
                item.setGeometry(QtCore.QRect(QtCore.QPoint(x, y), size))
            x += hint.width() + self._h_spacing
            line_height = max(line_height, hint.height())
        margins = self.contentsMargins()
        return y + line_height - rect.y() + margins.bottom()
