"""Graphics items drawn over the panels' images: one item each, however many tiles.

* ``TileLabels``: channel numbers, all-zero-channel marks and the selected tile's
  border over a whole mosaic, painted in screen pixels so the text stays
  readable at any zoom (one item instead of one text item per channel).
* ``Spotlight``: a bright outline around a region of a picture with the rest
  dimmed, plus a dashed outline of the part that lies in the padding; it
  shows the receptive field and the hovered pooling window.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from cnnviz.qt.panels.base import ACCENT, DEAD, SELECTED, ink

Box = tuple[int, int, int, int]  # top, left, bottom, right (half-open)
TileRect = Callable[[int], tuple[int, int, int, int]]  # index → (y, x, height, width)

_MIN_LABEL_PIXELS = 40  # below this many screen pixels per tile a number hides the map


def fit_caption(text: str, width: float, text_width: Callable[[str], float]) -> list[str]:
    """The lines of a caption that fit ``width`` whole.

    A first line that does not fit keeps its first word (a layer's index,
    which the stack lists too); a later line that does not fit is left out:
    "0 C…" or "8×2…" would tell nothing. (The first word is elided if even it
    is too wide.)
    """
    lines = text.split("\n")
    fitted = [lines[0] if text_width(lines[0]) <= width else lines[0].split(" ")[0]]
    fitted += [line for line in lines[1:] if text_width(line) <= width]
    return fitted


class TileLabels(QtWidgets.QGraphicsObject):
    """Numbers on tiles, red marks on all-zero ones, a border on the selected one."""

    def __init__(self, parent: QtWidgets.QGraphicsItem | None = None, captions_below=False):
        super().__init__(parent)
        # Below: captions under each tile (the overview strip); else numbers inside.
        self.captions_below = captions_below
        self.caption_y: float | None = None  # one baseline for all captions (image y)
        self.caption_gap = 0.0  # image units between tiles: captions may use it
        self._count = 0
        self._tile_rect: TileRect | None = None
        self._bounds = QtCore.QRectF()
        self._labels: list[str] = []
        self._dead = np.zeros(0, dtype=bool)
        self.selected: int | None = None
        self.font = QtGui.QFont()
        self.font.setPixelSize(11)
        self.font.setBold(True)
        self._metrics_key = ""
        self._font_metrics: QtGui.QFontMetricsF | None = None

    def set_tiles(
        self,
        tile_rect: TileRect,
        count: int,
        bounds: tuple[float, float],
        labels: list[str] | None = None,
        dead: np.ndarray | None = None,
    ) -> None:
        """`tile_rect(i)` gives tile i's (y, x, height, width) in image pixels;
        `bounds` is the image's (height, width)."""
        self.prepareGeometryChange()
        self._tile_rect, self._count = tile_rect, count
        self._bounds = QtCore.QRectF(0, 0, bounds[1], bounds[0])
        self._labels = labels if labels is not None else [str(i) for i in range(count)]
        self._dead = np.zeros(count, dtype=bool) if dead is None else np.asarray(dead, bool)
        if self.selected is not None and self.selected >= count:
            self.selected = None
        self.update()

    def set_selected(self, index: int | None) -> None:
        self.selected = index
        self.update()

    def boundingRect(self) -> QtCore.QRectF:
        return self._bounds

    def paint(self, painter: QtGui.QPainter, option, widget=None) -> None:
        if self._tile_rect is None or not self._count:
            return
        transform = painter.transform()
        y, x, h, w = self._tile_rect(0)
        on_screen = transform.mapRect(QtCore.QRectF(x, y, w, h))
        show_numbers = min(on_screen.width(), on_screen.height()) >= _MIN_LABEL_PIXELS
        visible = transform.mapRect(option.exposedRect) if option is not None else None
        painter.save()
        painter.resetTransform()
        painter.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing)
        painter.setFont(self.font)
        for index in range(self._count):
            y, x, h, w = self._tile_rect(index)
            rect = transform.mapRect(QtCore.QRectF(x, y, w, h))
            if visible is not None and not visible.intersects(rect):
                continue
            if self._dead[index]:
                self._paint_dead(painter, rect)
            if self.captions_below:
                top = rect.bottom()
                if self.caption_y is not None:
                    top = transform.map(QtCore.QPointF(0, self.caption_y)).y()
                spacing = self.caption_gap * transform.m11()  # the gap, in screen pixels
                self._paint_caption(painter, rect, top, spacing, self._labels[index])
            elif show_numbers:
                self._paint_number(painter, rect, self._labels[index])
        if self.selected is not None:
            y, x, h, w = self._tile_rect(self.selected)
            rect = transform.mapRect(QtCore.QRectF(x, y, w, h)).adjusted(-2, -2, 2, 2)
            painter.setPen(QtGui.QPen(QtGui.QColor(SELECTED), 3))
            painter.setBrush(QtCore.Qt.BrushStyle.NoBrush)
            painter.drawRect(rect)
        painter.restore()

    def _paint_number(self, painter: QtGui.QPainter, rect: QtCore.QRectF, text: str) -> None:
        metrics = self._metrics()
        box = QtCore.QRectF(
            rect.left() + 2, rect.top() + 2, metrics.horizontalAdvance(text) + 8, metrics.height()
        )
        painter.setPen(QtCore.Qt.PenStyle.NoPen)
        painter.setBrush(QtGui.QColor(0, 0, 0, 150))
        painter.drawRoundedRect(box, 3, 3)
        painter.setPen(QtGui.QColor("white"))
        painter.drawText(box, QtCore.Qt.AlignmentFlag.AlignCenter, text)

    def _metrics(self) -> QtGui.QFontMetricsF:
        # Measuring is a noticeable part of painting 500 labels: once per font.
        key = self.font.key()
        if self._metrics_key != key:
            self._metrics_key, self._font_metrics = key, QtGui.QFontMetricsF(self.font)
        return self._font_metrics

    def _paint_caption(
        self, painter: QtGui.QPainter, rect: QtCore.QRectF, top: float, spacing: float, text: str
    ) -> None:
        """The caption under a tile, never wider than the tile and its gap, so
        neighbours do not overlap (see fit_caption)."""
        metrics = self._metrics()
        width = rect.width() + max(spacing - 2, 0.0)
        lines = [
            metrics.elidedText(line, QtCore.Qt.TextElideMode.ElideRight, width)
            for line in fit_caption(text, width, metrics.horizontalAdvance)
        ]
        box = QtCore.QRectF(
            rect.center().x() - width / 2, top + 3, width, metrics.height() * len(lines)
        )
        painter.setPen(ink())
        painter.drawText(box, QtCore.Qt.AlignmentFlag.AlignHCenter, "\n".join(lines))

    def _paint_dead(self, painter: QtGui.QPainter, rect: QtCore.QRectF) -> None:
        painter.setPen(QtGui.QPen(QtGui.QColor(DEAD), 2))
        painter.setBrush(QtGui.QColor(224, 38, 44, 45))
        painter.drawRect(rect)
        painter.drawLine(rect.topLeft(), rect.bottomRight())
        if rect.width() >= 40:
            painter.setPen(QtGui.QColor(DEAD))
            text_box = QtCore.QRectF(rect.left(), rect.bottom() - 16, rect.width(), 14)
            painter.drawText(text_box, QtCore.Qt.AlignmentFlag.AlignCenter, "all 0")


class Spotlight:
    """An outlined region on a picture with everything else dimmed.

    Items are created once and added to `view`; ``show_box`` moves them.
    """

    def __init__(self, view: pg.ViewBox, colour: str = ACCENT, dim: int = 120):
        self._shade = QtWidgets.QGraphicsPathItem()
        self._shade.setPen(QtGui.QPen(QtCore.Qt.PenStyle.NoPen))
        self._shade.setBrush(QtGui.QColor(0, 0, 0, dim))
        self._outline = QtWidgets.QGraphicsRectItem()
        pen = QtGui.QPen(QtGui.QColor(colour), 3)
        pen.setCosmetic(True)
        self._outline.setPen(pen)
        self._padding = QtWidgets.QGraphicsRectItem()
        dashed = QtGui.QPen(QtGui.QColor(colour), 1.5, QtCore.Qt.PenStyle.DashLine)
        dashed.setCosmetic(True)
        self._padding.setPen(dashed)
        for z, item in enumerate((self._shade, self._padding, self._outline)):
            item.setZValue(10 + z)
            view.addItem(item)
        self.box: Box | None = None
        self.hide()

    def show_box(self, box: Box, picture_hw: tuple[int, int], unclipped: Box | None = None) -> None:
        """Outline `box` on a picture of `picture_hw`; `unclipped` (the same box
        before clipping to the picture) is drawn dashed when it differs."""
        top, left, bottom, right = box
        self.box = box
        inner = QtCore.QRectF(left, top, right - left, bottom - top)
        path = QtGui.QPainterPath()
        path.setFillRule(QtCore.Qt.FillRule.OddEvenFill)
        path.addRect(QtCore.QRectF(0, 0, picture_hw[1], picture_hw[0]))
        path.addRect(inner)
        self._shade.setPath(path)
        self._outline.setRect(inner)
        if unclipped is not None and tuple(unclipped) != tuple(box):
            u_top, u_left, u_bottom, u_right = unclipped
            self._padding.setRect(QtCore.QRectF(u_left, u_top, u_right - u_left, u_bottom - u_top))
            self._padding.show()
        else:
            self._padding.hide()
        self._shade.show()
        self._outline.show()

    def hide(self) -> None:
        self.box = None
        for item in (self._shade, self._outline, self._padding):
            item.hide()


def cell_marker(view: pg.ViewBox, colour: str = ACCENT) -> QtWidgets.QGraphicsRectItem:
    """A hidden one-pixel outline to mark the hovered cell of a map."""
    marker = QtWidgets.QGraphicsRectItem(0, 0, 1, 1)
    pen = QtGui.QPen(QtGui.QColor(colour), 2.5)
    pen.setCosmetic(True)
    marker.setPen(pen)
    marker.setZValue(20)
    marker.hide()
    view.addItem(marker)
    return marker
