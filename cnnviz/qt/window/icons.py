"""Toolbar icons drawn as simple strokes, so they are crisp at any scale and
match each other on every platform (icon themes are missing on many Linux
desktops and offscreen)."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import (
    QColor,
    QGuiApplication,
    QIcon,
    QPainter,
    QPainterPath,
    QPalette,
    QPen,
    QPixmap,
)

Drawing = Callable[[QPainter], None]
INK = QColor("#3b4a5a")
ACCENT = QColor("#4C78A8")


def _page(p: QPainter) -> None:
    path = QPainterPath(QPointF(6, 3))
    path.lineTo(14, 3)
    path.lineTo(19, 8)
    path.lineTo(19, 21)
    path.lineTo(6, 21)
    path.closeSubpath()
    p.drawPath(path)
    p.drawPolyline([QPointF(14, 3), QPointF(14, 8), QPointF(19, 8)])


def _folder(p: QPainter) -> None:
    path = QPainterPath(QPointF(3, 19))
    for x, y in ((3, 5), (9, 5), (11, 7), (20, 7), (20, 10)):
        path.lineTo(x, y)
    path.moveTo(3, 19)
    for x, y in ((6, 10), (22, 10), (19, 19)):
        path.lineTo(x, y)
    path.closeSubpath()
    p.drawPath(path)


def _disk(p: QPainter) -> None:
    p.drawRoundedRect(QRectF(4, 4, 16, 16), 2, 2)
    p.drawRect(QRectF(8, 4, 8, 5))
    p.drawRect(QRectF(7, 13, 10, 7))


def _arrow(p: QPainter, mirrored: bool) -> None:
    if mirrored:
        p.translate(24, 0)
        p.scale(-1, 1)
    path = QPainterPath(QPointF(19, 18))
    path.cubicTo(19, 9, 13, 8, 6, 9)
    p.drawPath(path)
    p.drawPolyline([QPointF(10, 5), QPointF(5.5, 9), QPointF(10, 13)])


def _trash(p: QPainter) -> None:
    p.drawLine(QPointF(4, 6), QPointF(20, 6))
    p.drawPolyline([QPointF(9, 6), QPointF(9, 3.5), QPointF(15, 3.5), QPointF(15, 6)])
    path = QPainterPath(QPointF(6, 6))
    path.lineTo(7, 21)
    path.lineTo(17, 21)
    path.lineTo(18, 6)
    p.drawPath(path)
    p.drawLine(QPointF(10, 10), QPointF(10, 17))
    p.drawLine(QPointF(14, 10), QPointF(14, 17))


def _duplicate(p: QPainter) -> None:
    p.drawRoundedRect(QRectF(3, 3, 12, 12), 2, 2)
    p.setBrush(QColor(ACCENT.red(), ACCENT.green(), ACCENT.blue(), 60))
    p.drawRoundedRect(QRectF(9, 9, 12, 12), 2, 2)


def _picture(p: QPainter) -> None:
    p.drawRoundedRect(QRectF(3, 5, 18, 14), 2, 2)
    path = QPainterPath(QPointF(4, 18))
    path.lineTo(10, 11)
    path.lineTo(14, 15)
    path.lineTo(16, 13)
    path.lineTo(20, 17)
    p.drawPath(path)
    p.drawEllipse(QPointF(15.5, 9), 1.6, 1.6)


def _presets(p: QPainter) -> None:
    for i, width in enumerate((16, 12, 16, 8)):
        p.drawRoundedRect(QRectF(4, 3.5 + i * 4.5, width, 3), 1, 1)


DRAWINGS: dict[str, Drawing] = {
    "new": _page,
    "open": _folder,
    "save": _disk,
    "undo": lambda p: _arrow(p, False),
    "redo": lambda p: _arrow(p, True),
    "delete": _trash,
    "duplicate": _duplicate,
    "image": _picture,
    "presets": _presets,
}


def ink() -> QColor:
    """Dark ink on a light palette, light ink on a dark one."""
    app = QGuiApplication.instance()
    if app is None:
        return INK
    window = app.palette().color(QPalette.ColorRole.Window)
    return INK if window.lightness() >= 128 else app.palette().color(QPalette.ColorRole.ButtonText)


def icon(name: str, color: QColor | None = None) -> QIcon:
    """The named icon, drawn on a 24-unit grid at several pixel sizes."""
    drawing = DRAWINGS[name]
    color = color if color is not None else ink()
    result = QIcon()
    for size in (16, 24, 32, 48):
        for mode, alpha in ((QIcon.Mode.Normal, 1.0), (QIcon.Mode.Disabled, 0.3)):
            pixmap = QPixmap(size, size)
            pixmap.fill(Qt.GlobalColor.transparent)
            painter = QPainter(pixmap)
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            painter.scale(size / 24, size / 24)
            stroke = QColor(color)
            stroke.setAlphaF(alpha)
            pen = QPen(stroke, 1.7)
            pen.setCapStyle(Qt.PenCapStyle.RoundCap)
            pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
            painter.setPen(pen)
            drawing(painter)
            painter.end()
            result.addPixmap(pixmap, mode)
    return result
