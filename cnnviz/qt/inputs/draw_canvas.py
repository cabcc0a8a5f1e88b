"""The drawing pad's canvas: strokes drawn with the mouse on a square greyscale image.

White strokes on a black background, values in [0, 1]: the convention of the
bundled digits and the digit data set the bundled weights were trained on.
Every stroke is kept (with its brush width) so it can be undone, and so the
drawing can be moved and scaled to fill its frame like those digits
(``framed_array``, cnnviz.core.digit_framing) and redrawn with the same brush.

Keys while the canvas has focus (they belong to the pad, not to the window, so
Ctrl+Z here undoes a stroke, not the last edit of the network):
Ctrl+Z or Backspace undo the last stroke (or the last clear), Delete clears.
The pad around it (cnnviz.qt.inputs.draw_pad) adds the brush, the buttons
and what it emits.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from cnnviz.core.digit_framing import frame_strokes

Qt = QtCore.Qt

DEFAULT_SIZE = 280  # canvas pixels: ten times a 28×28 digit
DEFAULT_BRUSH = 26


@dataclass
class Stroke:
    """One press-move-release: its brush width and the points it passed, canvas pixels."""

    width: float
    points: list[QtCore.QPointF] = field(default_factory=list)


CLEAR = None  # a history entry meaning "the canvas was cleared here" (undoable)


def _paint_stroke(painter: QtGui.QPainter, stroke: Stroke, start: int = 0) -> None:
    """Draw `stroke` from point `start` on (a lone point is a round dot)."""
    pen = QtGui.QPen(QtGui.QColor(255, 255, 255), stroke.width)
    pen.setCapStyle(Qt.PenCapStyle.RoundCap)
    pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
    painter.setPen(pen)
    points = stroke.points
    if len(points) == 1:
        painter.drawPoint(points[0])
    elif len(points) - start >= 1:
        painter.drawPolyline(points[max(start - 1, 0) :])


def _grey_array(image: QtGui.QImage) -> np.ndarray:
    """A Grayscale8 QImage as (height, width) float32 in [0, 1]; a copy."""
    rows = np.frombuffer(image.constBits(), np.uint8, image.sizeInBytes())
    rows = rows.reshape(image.height(), image.bytesPerLine())[:, : image.width()]
    return rows.astype(np.float32) / 255.0


class DrawCanvas(QtWidgets.QWidget):
    """The drawing surface: a square greyscale image, scaled to fit the widget."""

    changed = QtCore.Signal(bool)  # True when the change is final (stroke ended, undo, clear)

    def __init__(self, size: int = DEFAULT_SIZE, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self._size = size
        self._history: list[Stroke | None] = []  # strokes and CLEAR marks, oldest first
        self._current: Stroke | None = None
        self._hover: QtCore.QPointF | None = None
        self.brush = float(DEFAULT_BRUSH)
        self._image = QtGui.QImage(size, size, QtGui.QImage.Format.Format_Grayscale8)
        self._image.fill(0)
        # A drawing reopened with a project: only its pixels were saved, not its
        # strokes, so it is shown as a picture until the first new stroke or Clear.
        self._saved: QtGui.QImage | None = None
        self.setMouseTracking(True)  # for the brush outline, and moves without a button state
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setCursor(Qt.CursorShape.CrossCursor)
        self.setMinimumSize(140, 140)
        self.setSizePolicy(
            QtWidgets.QSizePolicy.Policy.Expanding, QtWidgets.QSizePolicy.Policy.Expanding
        )

    # ----- state ------------------------------------------------------------

    @property
    def canvas_size(self) -> int:
        return self._size

    def strokes(self) -> list[Stroke]:
        """The strokes visible now (those after the last clear)."""
        visible: list[Stroke] = []
        for entry in self._history:
            visible = [] if entry is CLEAR else [*visible, entry]
        return visible

    def array(self) -> np.ndarray:
        """The canvas as (size, size) float32 in [0, 1]; a copy."""
        return _grey_array(self._image)

    def framed_array(self) -> np.ndarray:
        """The strokes moved and scaled to fill the frame like the training digits,
        drawn again with their own brush widths: (size, size) float32 in [0, 1]."""
        strokes = self.strokes()
        paths = [np.array([(p.x(), p.y()) for p in s.points]) for s in strokes]
        widths = [s.width for s in strokes]
        framing = frame_strokes(list(zip(paths, widths, strict=True)), self._size)
        image = QtGui.QImage(self._size, self._size, QtGui.QImage.Format.Format_Grayscale8)
        image.fill(0)
        painter = QtGui.QPainter(image)
        painter.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing)
        for xy, stroke in zip(paths, strokes, strict=True):
            moved = [QtCore.QPointF(x, y) for x, y in framing.apply(xy)]
            _paint_stroke(painter, Stroke(stroke.width, moved))
        painter.end()
        return _grey_array(image)

    def show_saved(self, array: np.ndarray) -> None:
        """Show a saved drawing's pixels ((h, w) in [0, 1]) until the next stroke or Clear."""
        grey = np.clip(np.asarray(array, dtype=np.float32), 0.0, 1.0)
        pixels = np.ascontiguousarray((grey * 255).round().astype(np.uint8))
        h, w = pixels.shape
        image = QtGui.QImage(pixels.data, w, h, w, QtGui.QImage.Format.Format_Grayscale8)
        self._saved = image.scaled(
            self._size, self._size, Qt.AspectRatioMode.IgnoreAspectRatio,
            Qt.TransformationMode.SmoothTransformation,
        )  # fmt: skip
        self._history = []
        self._render()

    def has_saved(self) -> bool:
        return self._saved is not None

    def can_undo(self) -> bool:
        return bool(self._history) and self._current is None

    def clear(self) -> None:
        if self._saved is not None and not self.strokes():
            self._saved = None
            self._render()
            self.changed.emit(True)
            return
        if not self.strokes():
            return
        self._history.append(CLEAR)
        self._render()
        self.changed.emit(True)

    def undo(self) -> None:
        if not self.can_undo():
            return
        self._history.pop()
        self._render()
        self.changed.emit(True)

    def _render(self) -> None:
        self._image.fill(0)
        painter = self._painter()
        if self._saved is not None:
            painter.drawImage(0, 0, self._saved)
        for stroke in self.strokes():
            _paint_stroke(painter, stroke)
        painter.end()
        self.update()

    def _painter(self) -> QtGui.QPainter:
        painter = QtGui.QPainter(self._image)
        painter.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing)
        return painter

    # ----- geometry ---------------------------------------------------------

    def target_rect(self) -> QtCore.QRectF:
        """Where the canvas is drawn in the widget: the largest centred square."""
        side = max(1.0, min(self.width(), self.height()) - 2.0)
        return QtCore.QRectF((self.width() - side) / 2, (self.height() - side) / 2, side, side)

    def to_canvas(self, pos: QtCore.QPointF) -> QtCore.QPointF:
        rect = self.target_rect()
        scale = self._size / rect.width()
        return QtCore.QPointF((pos.x() - rect.left()) * scale, (pos.y() - rect.top()) * scale)

    def to_widget(self, x: float, y: float) -> QtCore.QPoint:
        """The widget position showing canvas pixel (x, y) (tests click here)."""
        rect = self.target_rect()
        scale = rect.width() / self._size
        return QtCore.QPoint(round(rect.left() + x * scale), round(rect.top() + y * scale))

    # ----- mouse ------------------------------------------------------------

    def mousePressEvent(self, event: QtGui.QMouseEvent) -> None:
        if event.button() != Qt.MouseButton.LeftButton:
            return super().mousePressEvent(event)
        self._current = Stroke(self.brush, [self.to_canvas(event.position())])
        if self._saved is not None:  # a new drawing replaces the saved picture
            self._saved = None
            self._history = []
            self._render()
        self._history.append(self._current)
        painter = self._painter()
        _paint_stroke(painter, self._current)
        painter.end()
        self.update()
        self.changed.emit(True)

    def mouseMoveEvent(self, event: QtGui.QMouseEvent) -> None:
        self._hover = event.position()
        if self._current is not None:
            point = self.to_canvas(event.position())
            if point != self._current.points[-1]:
                self._current.points.append(point)
                painter = self._painter()
                _paint_stroke(painter, self._current, start=len(self._current.points) - 1)
                painter.end()
                self.changed.emit(False)
        self.update()

    def mouseReleaseEvent(self, event: QtGui.QMouseEvent) -> None:
        if event.button() != Qt.MouseButton.LeftButton or self._current is None:
            return super().mouseReleaseEvent(event)
        self._current = None
        self.changed.emit(True)

    def leaveEvent(self, event: QtCore.QEvent) -> None:
        self._hover = None
        self.update()
        super().leaveEvent(event)

    # ----- keys: the pad's own, even where the window has the same shortcut --

    def event(self, event: QtCore.QEvent) -> bool:
        if event.type() == QtCore.QEvent.Type.ShortcutOverride and self._is_pad_key(event):
            event.accept()  # deliver as a key press here instead of the window's action
            return True
        return super().event(event)

    @staticmethod
    def _is_pad_key(event: QtGui.QKeyEvent) -> bool:
        return (
            event.matches(QtGui.QKeySequence.StandardKey.Undo)
            or event.key() in (Qt.Key.Key_Backspace, Qt.Key.Key_Delete)
        ) and not (event.modifiers() & Qt.KeyboardModifier.AltModifier)

    def keyPressEvent(self, event: QtGui.QKeyEvent) -> None:
        if (
            event.matches(QtGui.QKeySequence.StandardKey.Undo)
            or event.key() == Qt.Key.Key_Backspace
        ):
            self.undo()
        elif event.key() == Qt.Key.Key_Delete:
            self.clear()
        else:
            super().keyPressEvent(event)

    # ----- paint ------------------------------------------------------------

    def paintEvent(self, event: QtGui.QPaintEvent) -> None:
        painter = QtGui.QPainter(self)
        painter.setRenderHint(QtGui.QPainter.RenderHint.SmoothPixmapTransform)
        rect = self.target_rect()
        painter.drawImage(rect, self._image)
        painter.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing)
        self._paint_guides(painter, rect)
        self._paint_brush_outline(painter, rect)
        painter.end()

    def _paint_guides(self, painter: QtGui.QPainter, rect: QtCore.QRectF) -> None:
        # The digit data centres digits in the middle ~70 %: a faint box shows where.
        painter.setPen(QtGui.QPen(QtGui.QColor(255, 255, 255, 40), 1, Qt.PenStyle.DashLine))
        inset = rect.width() * 0.15
        painter.drawRect(rect.adjusted(inset, inset, -inset, -inset))
        painter.setPen(QtGui.QPen(QtGui.QColor(120, 120, 120), 1))
        painter.drawRect(rect.adjusted(-0.5, -0.5, 0.5, 0.5))
        if not self.strokes() and self._saved is None:
            painter.setPen(QtGui.QColor(150, 150, 150))
            painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, "Draw a digit here")

    def _paint_brush_outline(self, painter: QtGui.QPainter, rect: QtCore.QRectF) -> None:
        if self._hover is None or not rect.contains(self._hover):
            return
        radius = self.brush * rect.width() / self._size / 2
        painter.setPen(QtGui.QPen(QtGui.QColor(255, 152, 0, 200), 1))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawEllipse(self._hover, radius, radius)

    def sizeHint(self) -> QtCore.QSize:
        return QtCore.QSize(self._size, self._size)
