"""The step-through panel's inputs: classroom parameters and matrices, real-layer patch.

Each widget only reports what the person changed (``changed(name, value)``,
``input_edited``/``kernel_edited``, ``region_changed``); the panel owns the
state and shows it back with ``show_*`` methods that do not echo signals.
"""

from __future__ import annotations

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from cnnviz.core.conv_flip import FLIP_NOTE
from cnnviz.core.conv_steps import PADDING_MODES
from cnnviz.core.conv_text import MatrixFileError, format_matrices, parse_matrices
from cnnviz.qt.panels._flow_layout import FlowLayout
from cnnviz.qt.panels.conv_stepper_sources import AVG, CONV, LIMITS, MAX, Classroom, RealLayer

MODES = ((CONV, "Convolution"), (MAX, "Max pooling"), (AVG, "Average pooling"))
EDIT_DELAY_MS = 400  # parse typed matrices after a short pause, not on every key


def _spin(name: str, tip: str) -> QtWidgets.QSpinBox:
    spin = QtWidgets.QSpinBox()
    spin.setRange(*LIMITS[name])
    spin.setToolTip(tip)
    spin.setKeyboardTracking(False)  # typing "12" must not build a 1 first
    return spin


def _row(*widgets) -> QtWidgets.QHBoxLayout:
    row = QtWidgets.QHBoxLayout()
    row.setContentsMargins(0, 0, 0, 0)
    row.setSpacing(4)
    for widget in widgets:
        if isinstance(widget, str):
            widget = QtWidgets.QLabel(widget)
        row.addWidget(widget)
    row.addStretch(1)
    return row


def _group(*widgets) -> QtWidgets.QWidget:
    """Widgets (and strings, as labels) that stay together on one line of a flow."""
    group = QtWidgets.QWidget()
    row = _row(*widgets)
    row.takeAt(row.count() - 1)  # no stretch: the group is as wide as its contents
    group.setLayout(row)
    return group


class ClassroomControls(QtWidgets.QWidget):
    """Mode and every size of the teaching example, changed live."""

    changed = QtCore.Signal(str, object)

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.mode = QtWidgets.QComboBox()
        for key, text in MODES:
            self.mode.addItem(text, key)
        self.height_ = _spin("height", "Input height (rows)")
        self.width_ = _spin("width", "Input width (columns)")
        self.channels = _spin("channels", "Input channels: the window becomes a stack")
        self.kernel_h = _spin("kernel_h", "Kernel height")
        self.kernel_w = _spin("kernel_w", "Kernel width")
        self.out_channels = _spin("out_channels", "Output channels: one filter (and map) each")
        self.stride = _spin("stride", "Stride: how far the window moves per output cell")
        self.padding = _spin("padding", "Padding added on every side")
        self.dilation = _spin("dilation", "Dilation: gaps between the cells the kernel reads")
        self.padding_mode = QtWidgets.QComboBox()
        self.padding_mode.addItems(PADDING_MODES)
        self.padding_mode.setToolTip("What the padding cells hold")
        self.bias = QtWidgets.QDoubleSpinBox()
        self.bias.setRange(-99, 99)
        self.bias.setDecimals(2)
        self.bias.setToolTip("Bias added to every sum")
        self.relu = QtWidgets.QCheckBox("ReLU")
        self.relu.setToolTip("Apply ReLU after the bias")
        self.ceil_mode = QtWidgets.QCheckBox("ceil mode")
        self.ceil_mode.setToolTip("Pooling: round the output size up (torch's ceil_mode)")
        self.flip = QtWidgets.QCheckBox("flip the kernel (true convolution)")
        self.flip.setToolTip(FLIP_NOTE)
        self.flip_note = QtWidgets.QLabel(FLIP_NOTE)  # shown while the flip is on
        self.flip_note.setWordWrap(True)
        self.flip_note.hide()
        # Groups wrap onto more lines in a narrow dock rather than widening it.
        flow = FlowLayout(self)
        for group in (
            (self.mode,),
            ("input", self.height_, "×", self.width_, "×", self.channels, "ch"),
            ("kernel", self.kernel_h, "×", self.kernel_w),
            ("filters", self.out_channels),
            ("stride", self.stride, "padding", self.padding),
            ("dilation", self.dilation, self.padding_mode),
            ("bias", self.bias, self.relu, self.ceil_mode),
            (self.flip, self.flip_note),
        ):
            flow.addWidget(_group(*group))
        self._connect()

    def _connect(self) -> None:
        self.mode.currentIndexChanged.connect(
            lambda _: self.changed.emit("mode", self.mode.currentData())
        )
        for name in ("channels", "out_channels", "stride", "padding", "dilation"):
            getattr(self, name).valueChanged.connect(lambda v, n=name: self.changed.emit(n, v))
        for spin in (self.height_, self.width_):
            spin.valueChanged.connect(
                lambda _: self.changed.emit("size", (self.height_.value(), self.width_.value()))
            )
        for spin in (self.kernel_h, self.kernel_w):
            spin.valueChanged.connect(
                lambda _: self.changed.emit(
                    "kernel", (self.kernel_h.value(), self.kernel_w.value())
                )
            )
        self.padding_mode.currentTextChanged.connect(lambda t: self.changed.emit("padding_mode", t))
        self.bias.valueChanged.connect(lambda v: self.changed.emit("bias", v))
        self.relu.toggled.connect(lambda v: self.changed.emit("relu", v))
        self.ceil_mode.toggled.connect(lambda v: self.changed.emit("ceil_mode", v))
        self.flip.toggled.connect(lambda v: self.changed.emit("flip", v))

    def show_state(self, room: Classroom) -> None:
        """Every widget set from `room`, without emitting `changed`."""
        params, conv = room.params(), room.mode == CONV
        kernel = room.kernel.shape[2:] if conv else _pair(params["kernel"])
        values = {
            self.height_: room.input.shape[1], self.width_: room.input.shape[2],
            self.channels: room.input.shape[0], self.kernel_h: kernel[0],
            self.kernel_w: kernel[1], self.out_channels: room.kernel.shape[0],
            self.stride: _pair(params["stride"])[0], self.padding: _pair(params["padding"])[0],
            self.dilation: _pair(params["dilation"])[0],
        }  # fmt: skip
        toggles = (self.mode, self.padding_mode, self.bias, self.relu, self.ceil_mode, self.flip)
        for widget in (*values, *toggles):
            widget.blockSignals(True)
        for spin, value in values.items():
            spin.setValue(int(value))
        self.mode.setCurrentIndex([m for m, _ in MODES].index(room.mode))
        self.padding_mode.setCurrentText(room.conv["padding_mode"])
        self.bias.setValue(room.conv["bias"])
        self.relu.setChecked(room.conv["relu"])
        self.ceil_mode.setChecked(room.pool["ceil_mode"])
        self.flip.setChecked(room.conv["flip"])
        self.flip_note.setVisible(conv and room.conv["flip"])
        for widget in (*values, *toggles):
            widget.blockSignals(False)
        for widget in (self.out_channels, self.padding_mode, self.bias, self.relu, self.flip):
            widget.setEnabled(conv)
        self.ceil_mode.setEnabled(not conv)
        self.dilation.setEnabled(room.mode != AVG)


def _pair(value) -> tuple[int, int]:
    return tuple(value) if isinstance(value, tuple | list) else (value, value)


class MatrixEditors(QtWidgets.QWidget):
    """The classroom matrices as text: rows of numbers, a blank line between channels."""

    input_edited = QtCore.Signal(object)
    kernel_edited = QtCore.Signal(object)
    problem = QtCore.Signal(str)

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        mono = QtGui.QFontDatabase.systemFont(QtGui.QFontDatabase.SystemFont.FixedFont)
        self.input_label = QtWidgets.QLabel("Input")
        self.input = QtWidgets.QPlainTextEdit()
        self.kernel_label = QtWidgets.QLabel("Kernel")
        self.kernel = QtWidgets.QPlainTextEdit()
        column = QtWidgets.QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 0)
        hint = QtWidgets.QLabel("Rows of numbers; a blank line starts the next channel.")
        hint.setWordWrap(True)
        hint.setStyleSheet("color: palette(placeholder-text); font-size: 11px;")
        column.addWidget(hint)
        for label, edit in ((self.input_label, self.input), (self.kernel_label, self.kernel)):
            edit.setFont(mono)
            edit.setTabChangesFocus(True)
            column.addWidget(label)
            column.addWidget(edit, 1)
        self._timers = {}
        for edit, signal, name in (
            (self.input, self.input_edited, "input"),
            (self.kernel, self.kernel_edited, "kernel"),
        ):
            timer = QtCore.QTimer(self, singleShot=True, interval=EDIT_DELAY_MS)
            timer.timeout.connect(lambda e=edit, s=signal, n=name: self._parse(e, s, n))
            edit.textChanged.connect(timer.start)
            self._timers[name] = timer

    def _parse(self, edit: QtWidgets.QPlainTextEdit, signal, name: str) -> None:
        try:
            signal.emit(parse_matrices(edit.toPlainText(), name))
        except MatrixFileError as exc:
            self.problem.emit(str(exc))

    def flush(self) -> None:
        """Parse pending edits now (tests, and before exporting)."""
        for name, timer in self._timers.items():
            if timer.isActive():
                timer.stop()
                edit = self.input if name == "input" else self.kernel
                self._parse(
                    edit, self.input_edited if name == "input" else self.kernel_edited, name
                )

    def show_state(self, room: Classroom) -> None:
        conv = room.mode == CONV
        self._set(self.input, room.input)
        self.kernel.setVisible(conv)
        self.kernel_label.setVisible(conv)
        if conv:
            o, c = room.kernel.shape[:2]
            self.kernel_label.setText(
                "Kernel" + (f": {o} filters × {c} channels, filter by filter" if o * c > 1 else "")
            )
            self._set(self.kernel, room.kernel.reshape(-1, *room.kernel.shape[2:]))

    def _set(self, edit: QtWidgets.QPlainTextEdit, values: np.ndarray) -> None:
        name = "input" if edit is self.input else "kernel"
        if self._timers[name].isActive():
            return  # the person is typing here: their text wins, it is parsed shortly
        text = format_matrices(values)
        try:
            same = np.array_equal(parse_matrices(edit.toPlainText()), values)
        except MatrixFileError:
            same = False
        if not same:  # leave the person's own spacing alone when the numbers agree
            edit.blockSignals(True)
            edit.setPlainText(text)
            edit.blockSignals(False)


class PatchPicker(QtWidgets.QWidget):
    """The layer's input image, small, with the patch outlined; a click moves the patch."""

    clicked = QtCore.Signal(int, int)  # image row, column

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.setFixedSize(96, 96)
        self.setCursor(QtCore.Qt.CursorShape.CrossCursor)
        self.setToolTip("Click to move the patch there")
        self._image: QtGui.QImage | None = None
        self._shape = (1, 1)
        self._box = QtCore.QRectF()

    def set_image(self, image: np.ndarray) -> None:
        """(C, H, W) any range: RGB when it has 3 channels, else the mean in grey."""
        planes = image[:3] if image.shape[0] == 3 else image.mean(axis=0, keepdims=True)
        low, high = float(planes.min()), float(planes.max())
        scaled = (planes - low) / (high - low) if high > low else np.zeros_like(planes)
        rgb = np.repeat(scaled, 3, axis=0) if scaled.shape[0] == 1 else scaled
        pixels = np.ascontiguousarray((rgb.transpose(1, 2, 0) * 255).astype(np.uint8))
        h, w = pixels.shape[:2]
        self._image = QtGui.QImage(
            pixels.data, w, h, 3 * w, QtGui.QImage.Format.Format_RGB888
        ).copy()
        self._shape = (h, w)
        self.update()

    def set_box(self, top: int, left: int, bottom: int, right: int) -> None:
        self._box = QtCore.QRectF(left, top, right - left, bottom - top)
        self.update()

    def _scale(self) -> float:
        return min(self.width() / self._shape[1], self.height() / self._shape[0])

    def paintEvent(self, event) -> None:
        painter = QtGui.QPainter(self)
        if self._image is None:
            return
        scale = self._scale()
        target = QtCore.QRectF(0, 0, self._shape[1] * scale, self._shape[0] * scale)
        painter.drawImage(target, self._image)
        painter.setPen(QtGui.QPen(QtGui.QColor(230, 120, 0), 2))
        box = self._box
        painter.drawRect(QtCore.QRectF(box.x() * scale, box.y() * scale,
                                       box.width() * scale, box.height() * scale))  # fmt: skip

    def mousePressEvent(self, event) -> None:
        scale = self._scale()
        self.clicked.emit(int(event.position().y() / scale), int(event.position().x() / scale))


class RealLayerControls(QtWidgets.QWidget):
    """Which output channel and which patch of the layer's input to step through."""

    region_changed = QtCore.Signal(int, int, int, int, int)  # channel, row0, col0, rows, cols

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.title = QtWidgets.QLabel()
        self.title.setStyleSheet("font-weight: 600;")
        self.channel, self.row0, self.col0 = (QtWidgets.QSpinBox() for _ in range(3))
        self.rows, self.cols = QtWidgets.QSpinBox(), QtWidgets.QSpinBox()
        self.channel.setToolTip("Output channel (filter) to step through")
        self.row0.setToolTip("First feature-map row of the patch")
        self.col0.setToolTip("First feature-map column of the patch")
        self.rows.setToolTip("Feature-map rows stepped through (input patch ≤ 12 cells)")
        self.cols.setToolTip("Feature-map columns stepped through (input patch ≤ 12 cells)")
        self.mapping = QtWidgets.QLabel()
        self.mapping.setStyleSheet("color: palette(placeholder-text);")
        self.match = QtWidgets.QLabel()
        self.picker = PatchPicker()
        self.title.setWordWrap(True)
        for label in (self.mapping, self.match):
            label.setWordWrap(True)  # long sentences: wrapped, not widening the dock
        spins = QtWidgets.QWidget()
        flow = FlowLayout(spins)
        flow.addWidget(_group("filter", self.channel))
        flow.addWidget(_group("feature-map cells from row", self.row0, "col", self.col0))
        flow.addWidget(_group("size", self.rows, "×", self.cols))
        column = QtWidgets.QVBoxLayout()
        column.setSpacing(2)
        for widget in (self.title, spins, self.mapping, self.match):
            column.addWidget(widget)
        column.addStretch(1)
        outer = QtWidgets.QHBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addLayout(column, 1)
        outer.addWidget(self.picker)
        for spin in (self.channel, self.row0, self.col0, self.rows, self.cols):
            spin.setKeyboardTracking(False)
            spin.valueChanged.connect(self._emit)

    def _emit(self, _value=None) -> None:
        self.region_changed.emit(*(s.value() for s in self._spins()))

    def _spins(self):
        return self.channel, self.row0, self.col0, self.rows, self.cols

    def show_layer(self, layer: RealLayer) -> None:
        out_c, out_h, out_w = layer.config.output_shape
        most_rows, most_cols = layer.max_region()
        row0, col0, rows, cols = layer.region
        limits = ((out_c - 1, layer.out_channel), (out_h - rows, row0), (out_w - cols, col0),
                  (most_rows, rows), (most_cols, cols))  # fmt: skip
        for spin, (top, value) in zip(self._spins(), limits, strict=True):
            spin.blockSignals(True)
            spin.setRange(1 if spin in (self.rows, self.cols) else 0, top)
            spin.setValue(value)
            spin.blockSignals(False)
        kernel = "×".join(map(str, layer.config.kernel_size))
        self.title.setText(
            f"{layer.name[:1].upper()}{layer.name[1:]} · Conv2d {kernel}, {out_c} filters, "
            "real weights"
        )
