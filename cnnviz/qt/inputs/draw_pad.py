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
``[`` and ``]`` change the brush. Buttons do the same. The canvas itself, its
strokes and their framing, is cnnviz.qt.inputs.draw_canvas (its names are
importable from here too).

Run alone: ``python -m cnnviz.qt.inputs.draw_pad`` (with the 1×28×28 input it makes).
"""

from __future__ import annotations

import sys

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from cnnviz.qt.inputs.draw_canvas import (
    CLEAR,
    DEFAULT_BRUSH,
    DEFAULT_SIZE,
    DrawCanvas,
    Stroke,
)

# What callers import from here; the canvas's names among them (draw_canvas).
__all__ = [
    "CLEAR",
    "DEFAULT_BRUSH",
    "DEFAULT_SIZE",
    "DEFAULT_THROTTLE_MS",
    "MAX_BRUSH",
    "MIN_BRUSH",
    "PREVIEW_SIZE",
    "DrawCanvas",
    "DrawPad",
    "Stroke",
    "main",
]

Qt = QtCore.Qt

MIN_BRUSH, MAX_BRUSH = 2, 80
DEFAULT_THROTTLE_MS = 40
PREVIEW_SIZE = 84  # screen pixels of the network-input preview


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

    def show_saved(self, array: np.ndarray) -> None:
        """A drawing reopened with a project: shown on the canvas (its pixels, not
        its strokes) until the person draws again or clears it. Emits nothing: the
        window already has it as the input."""
        self.canvas.show_saved(array)
        self._update_buttons()

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
        self.clear_button.setEnabled(bool(self.canvas.strokes()) or self.canvas.has_saved())

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
