"""Colours and icons of the layer groups, shared by the palette, stack and properties."""

from __future__ import annotations

from functools import cache

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QIcon, QPainter, QPixmap

from cnnviz.core.catalogue import layer_type

# One hue per palette group (Tableau 10, readable on light and dark).
GROUP_COLORS = {
    "convolution": "#4C78A8",
    "pooling": "#54A24B",
    "activation": "#F58518",
    "normalization": "#B279A2",
    "regularization": "#9D755D",
    "shape": "#72B7B2",
    "dense": "#E45756",
    "block": "#5B6B8C",
}

ERROR_COLOR = "#D62728"
# Drawn instead of a glyph the font lacks (⫴ is missing from common fonts).
FALLBACK_GLYPHS = {"⫴": "∥"}
LAYER_MIME = "application/x-cnnviz-layer"
ROWS_MIME = "application/x-cnnviz-rows"


def group_color(group: str) -> QColor:
    return QColor(GROUP_COLORS.get(group, "#888888"))


def paint_badge(painter: QPainter, rect: QRectF, type_name: str, enabled: bool = True) -> None:
    """A rounded square in the group's colour with the catalogue glyph on it."""
    spec = layer_type(type_name)
    color = group_color(spec.group)
    if not enabled:
        color.setAlphaF(0.35)
    painter.save()
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(color)
    radius = rect.height() * 0.22
    painter.drawRoundedRect(rect, radius, radius)
    font = QFont(painter.font())
    font.setPixelSize(max(6, round(rect.height() * 0.68)))
    font.setBold(True)
    painter.setFont(font)
    painter.setPen(QColor("white"))
    painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, drawable(spec.glyph, font))
    painter.restore()


def drawable(glyph: str, font: QFont) -> str:
    """`glyph`, or its stand-in when `font` has no such character."""
    if all(QFontMetrics(font).inFontUcs4(ord(c)) for c in glyph):
        return glyph
    return FALLBACK_GLYPHS.get(glyph, glyph)


@cache
def layer_icon(type_name: str) -> QIcon:
    """The badge as an icon, drawn at several sizes so it stays crisp on HiDPI."""
    icon = QIcon()
    for size in (16, 20, 24, 32, 48, 64):
        pixmap = QPixmap(size, size)
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        paint_badge(painter, QRectF(0.5, 0.5, size - 1, size - 1), type_name)
        painter.end()
        icon.addPixmap(pixmap)
    return icon
