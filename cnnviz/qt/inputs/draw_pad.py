"""A drawing pad: draw a digit or shape with the mouse, feed it to the network live.

    pad = DrawPad()                              # 280×280 canvas, white on black
    pad.image_changed.connect(on_drawing)        # (280, 280) float32 in [0, 1]
    # then: to_network_input(array_to_image(arr), C, H, W, prep)

White strokes on a black background, values in [0, 1]: the convention of the
bundled digits and the digit data set the bundled weights were trained on.
Those digits fill their frame's height and sit in its middle, so by default
the pad emits the drawing moved and scaled the same way
(cnnviz.core.digit_framing), redrawn with the same brush: a small digit drawn
in a corner reaches the network as the network learnt digits. The pad shows
the tensor the network then gets beside the buttons.
While a stroke is drawn the image is emitted at most every ``throttle_ms``
(25 times a second by default), immediately when a stroke starts and ends,
and after clear or undo.

Keys while the pad has focus (they belong to the pad, not to the window, so
Ctrl+Z here undoes a stroke, not the last edit of the network):
Ctrl+Z or Backspace undo the last stroke (or the last clear), Delete clears,
``[`` and ``]`` change the brush. Buttons do the same.

Run alone: ``python -m cnnviz.qt.inputs.draw_pad`` (with the 1×28×28 input it makes).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from cnnviz.core.digit_framing import frame_strokes

Qt = QtCore.Qt

DEFAULT_SIZE = 280  # canvas pixels: ten times a 28×28 digit
DEFAULT_BRUSH = 26
MIN_BRUSH, MAX_BRUSH = 2, 80
DEFAULT_THROTTLE_MS = 40
PREVIEW_SIZE = 84  # screen pixels of the network-input preview


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

    def can_undo(self) -> bool:
        return bool(self._history) and self._current is None

    def clear(self) -> None:
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
        if not self.strokes():
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


class DrawPad(QtWidgets.QWidget):
    """The canvas with its brush slider, Undo stroke and Clear; emits the drawing."""

    image_changed = QtCore.Signal(object)  # np.ndarray (size, size) float32 in [0, 1]

    def __init__(
        self,
        parent: QtWidgets.QWidget | None = None,
        *,
        size: int = DEFAULT_SIZE,
        brush: int = DEFAULT_BRUSH,
        throttle_ms: int = DEFAULT_THROTTLE_MS,
        frame: bool = True,
    ):
        super().__init__(parent)
        self.canvas = DrawCanvas(size)
        self.frame_box = QtWidgets.QCheckBox("Centre and scale like the training digits")
        self.frame_box.setChecked(frame)
        self._throttle = QtCore.QTimer(self, singleShot=True, interval=throttle_ms)
        self._throttle.timeout.connect(self._emit_image)
        self.canvas.changed.connect(self._on_canvas_changed)
        self._build(brush)

    def _build(self, brush: int) -> None:
        self.brush_slider = QtWidgets.QSlider(Qt.Orientation.Horizontal)
        self.brush_slider.setRange(MIN_BRUSH, MAX_BRUSH)
        self.brush_slider.setMinimumWidth(100)
        self.brush_slider.setToolTip("Brush width in canvas pixels ([ and ] on the pad)")
        self.brush_label = QtWidgets.QLabel()
        self.brush_label.setMinimumWidth(48)
        self.brush_slider.valueChanged.connect(self._on_brush_changed)
        self.brush_slider.setValue(brush)
        self._on_brush_changed(brush)
        self.undo_button = QtWidgets.QPushButton("Undo stroke")
        self.undo_button.setToolTip("Remove the last stroke (Ctrl+Z or Backspace on the pad)")
        self.undo_button.clicked.connect(self.undo_stroke)
        self.clear_button = QtWidgets.QPushButton("Clear")
        self.clear_button.setToolTip(
            "Erase everything (Delete on the pad; Undo stroke brings it back)"
        )
        self.clear_button.clicked.connect(self.clear)
        self.frame_box.setToolTip(
            "The training digits fill their frame from top to bottom and sit in its middle.\n"
            "On: the drawing is moved and scaled the same way (brush width kept)\n"
            "before the network sees it, so a small digit in a corner is read as well.\n"
            "Off: the network sees the pad exactly as drawn."
        )
        self.frame_box.toggled.connect(lambda _on: self._emit_image())
        self.preview = QtWidgets.QLabel()
        self.preview.setFixedSize(PREVIEW_SIZE, PREVIEW_SIZE)
        self.preview.setFrameShape(QtWidgets.QFrame.Shape.Box)
        self.preview_caption = QtWidgets.QLabel("The network gets:\n(no result yet)")
        brush_row = QtWidgets.QHBoxLayout()
        brush_row.addWidget(QtWidgets.QLabel("Brush"))
        brush_row.addWidget(self.brush_slider, 1)
        brush_row.addWidget(self.brush_label)
        buttons = QtWidgets.QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.undo_button)
        buttons.addWidget(self.clear_button)
        tensor_row = QtWidgets.QHBoxLayout()
        tensor_row.addWidget(self.preview)
        tensor_row.addWidget(self.preview_caption, 1)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.canvas, 1)
        layout.addLayout(brush_row)
        layout.addLayout(buttons)
        layout.addWidget(self.frame_box)
        layout.addLayout(tensor_row)
        self._update_buttons()

    # ----- public API -------------------------------------------------------

    def image(self) -> np.ndarray:
        """What the pad hands on: (size, size) float32, white strokes on black, in
        [0, 1]; centred and scaled like the training digits when that is on."""
        return self.canvas.framed_array() if self.frame_box.isChecked() else self.canvas.array()

    def show_network_input(self, tensor: np.ndarray) -> None:
        """Show the tensor the network got from the drawing: (C, H, W) or (H, W), any range."""
        tensor = np.asarray(tensor, dtype=np.float32)
        grey = tensor.mean(axis=0) if tensor.ndim == 3 else tensor
        low, high = float(grey.min()), float(grey.max())
        scaled = (grey - low) / (high - low) if high > low else np.zeros_like(grey)
        pixels = np.ascontiguousarray((scaled * 255).round().astype(np.uint8))
        h, w = pixels.shape
        image = QtGui.QImage(pixels.data, w, h, w, QtGui.QImage.Format.Format_Grayscale8)
        picture = QtGui.QPixmap.fromImage(image.copy()).scaled(
            PREVIEW_SIZE, PREVIEW_SIZE, Qt.AspectRatioMode.KeepAspectRatio,
            Qt.TransformationMode.FastTransformation,
        )  # fmt: skip
        self.preview.setPixmap(picture)  # nearest neighbour: each network pixel a block
        shape = "×".join(str(n) for n in tensor.shape)
        self.preview_caption.setText(
            f"The network gets:\n{shape}, values {low:.2f} to {high:.2f}\n(Input tab: exact values)"
        )

    def brush_size(self) -> int:
        return self.brush_slider.value()

    def set_brush_size(self, pixels: int) -> None:
        self.brush_slider.setValue(pixels)

    def clear(self) -> None:
        self.canvas.clear()

    def undo_stroke(self) -> None:
        self.canvas.undo()

    def stroke_count(self) -> int:
        return len(self.canvas.strokes())

    # ----- internals --------------------------------------------------------

    def _on_brush_changed(self, value: int) -> None:
        self.canvas.brush = float(value)
        self.brush_label.setText(f"{value} px")
        self.canvas.update()

    def _on_canvas_changed(self, final: bool) -> None:
        self._update_buttons()
        if final:
            self._throttle.stop()
            self._emit_image()
        elif not self._throttle.isActive():
            self._throttle.start()

    def _emit_image(self) -> None:
        self.image_changed.emit(self.image())

    def _update_buttons(self) -> None:
        self.undo_button.setEnabled(self.canvas.can_undo())
        self.clear_button.setEnabled(bool(self.canvas.strokes()))

    def keyPressEvent(self, event: QtGui.QKeyEvent) -> None:
        step = {Qt.Key.Key_BracketLeft: -2, Qt.Key.Key_BracketRight: 2}.get(event.key())
        if step is None:
            return super().keyPressEvent(event)
        self.set_brush_size(self.brush_size() + step)


def main(argv: list[str] | None = None) -> int:
    """The pad beside the 1×28×28 network input it produces."""
    from cnnviz.core.images import Preprocessing, array_to_image, to_network_input
    from cnnviz.qt.panels.input_image import InputImagePanel

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(argv or sys.argv)
    window = QtWidgets.QWidget()
    window.setWindowTitle("cnnviz — drawing pad")
    pad = DrawPad()
    panel = InputImagePanel()

    def show_input(array: np.ndarray, prep: Preprocessing | None = None) -> None:
        prep = prep or panel.preprocessing()
        panel.set_input(to_network_input(array_to_image(array), 1, 28, 28, prep), "drawing pad")

    pad.image_changed.connect(show_input)
    panel.preprocessing_changed.connect(lambda prep: show_input(pad.image(), prep))
    layout = QtWidgets.QHBoxLayout(window)
    layout.addWidget(pad, 1)
    layout.addWidget(panel, 1)
    show_input(pad.image())
    window.resize(820, 440)
    window.show()
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
