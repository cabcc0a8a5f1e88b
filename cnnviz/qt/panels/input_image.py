"""The input panel: exactly the tensor the network sees, and how it was made.

    panel = InputImagePanel()
    panel.preprocessing_changed.connect(on_prep)   # Preprocessing, on any choice
    panel.set_input(x, source="cat.jpg · 451×300")  # x: (C, H, W) float32
    panel.show(panel_input)                         # or from a forward result
    panel.set_preprocessing(prep)                   # e.g. from a project file; no signal
    panel.set_declared(prep, "resize 256 · ...")    # what the network was trained with

One channel is drawn grey, three as RGB, any other count (or three with
"Split channels") as a mosaic of grey tiles; values in [0, 1] as they are, a
normalised input from its minimum (black) to its maximum (white), and the
text says so (cnnviz.qt.panels.input_image_display: the picture and its
numbers without widgets; its names are importable from here too). Below the
picture: the shape, the value range, the value under the mouse, and the
preprocessing choices (resize policy, normalisation, invert, interpolation),
and the preprocessing the network declares (its training's), with a button
that applies it when the choices differ.

Run alone: ``python -m cnnviz.qt.panels.input_image [IMAGE] [--shape C,H,W]``.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from cnnviz.core.mosaic import MosaicLayout
from cnnviz.core.preprocess import Preprocessing
from cnnviz.qt.panels.base import (
    PanelInput,
    graphics_widget,
    image_view_box,
    info_label,
    shape_text,
    title_label,
)
from cnnviz.qt.panels.input_image_display import (
    display_levels,
    display_picture,
    range_text,
    value_text,
)

# What callers import from here; the display's names among them (input_image_display).
__all__ = [
    "INTERPOLATION_CHOICES",
    "NORMALISE_CHOICES",
    "RESIZE_CHOICES",
    "InputImagePanel",
    "display_levels",
    "display_picture",
    "main",
    "range_text",
    "value_text",
]

pg.setConfigOptions(imageAxisOrder="row-major")

# (resize, crop_fraction, label, tip)
RESIZE_CHOICES = (
    ("stretch", 1.0, "Stretch", "Scale width and height separately to the input size"),
    ("crop", 1.0, "Centre crop", "Scale to cover the input, cut the centre (keeps the aspect)"),
    (
        "letterbox",
        1.0,
        "Letterbox",
        "Scale to fit inside the input, pad the rest (keeps the aspect)",
    ),
    (
        "crop",
        0.875,
        "Resize, crop 87.5 % (ImageNet)",
        "torchvision's ImageNet evaluation: scale the short side to 256 (for a 224 input),\n"
        "cut the centre 224×224",
    ),
)
# (label, normalize, mean, std)
NORMALISE_CHOICES = (
    ("None (values 0…1)", "none", (0.5,), (0.5,)),
    ("ImageNet mean/std", "imagenet", (0.5,), (0.5,)),
    ("−1…1 (mean 0.5, std 0.5)", "mean_std", (0.5,), (0.5,)),
    ("MNIST (mean 0.1307, std 0.3081)", "mean_std", (0.1307,), (0.3081,)),
)
INTERPOLATION_CHOICES = (("bilinear", "Bilinear"), ("bicubic", "Bicubic"), ("nearest", "Nearest"))


class InputImagePanel(QtWidgets.QWidget):
    """The network input as a picture, its numbers, and the preprocessing choices."""

    preprocessing_changed = QtCore.Signal(object)  # Preprocessing

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self._tensor: np.ndarray | None = None
        self._layout: MosaicLayout | None = None
        self._custom_normalise: tuple[tuple[float, ...], tuple[float, ...]] | None = None
        self._build()
        self._connect()

    # ----- construction -----------------------------------------------------

    def _build(self) -> None:
        self.title = title_label("Network input")
        self.shape_label = info_label("no input yet")
        self.shape_label.setWordWrap(False)
        self.graphics = graphics_widget()
        self.graphics.setMinimumSize(160, 160)  # the picture is the point: never squeezed away
        self.view = image_view_box()
        self.graphics.addItem(self.view)
        self.image_item = pg.ImageItem(axisOrder="row-major")
        self.view.addItem(self.image_item)
        # A frame shows where the input ends even when its border is the background colour.
        self.frame = QtWidgets.QGraphicsRectItem()
        pen = QtGui.QPen(QtGui.QColor(128, 128, 128), 1)
        pen.setCosmetic(True)
        self.frame.setPen(pen)
        self.view.addItem(self.frame)
        self.range_label = info_label()
        self.source_label = info_label()
        self.hover_label = info_label(" ")
        self.hover_label.setFont(QtGui.QFontDatabase.systemFont(QtGui.QFontDatabase.FixedFont))
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.setSpacing(4)
        header = QtWidgets.QHBoxLayout()
        header.addWidget(self.title)
        header.addStretch(1)
        header.addWidget(self.shape_label)
        layout.addLayout(header)
        layout.addWidget(self.graphics, 1)
        layout.addWidget(self.range_label)
        layout.addWidget(self.hover_label)
        layout.addWidget(self.source_label)
        layout.addLayout(self._build_controls())

    def _build_controls(self) -> QtWidgets.QGridLayout:
        self.resize_combo = QtWidgets.QComboBox()
        for key, fraction, label, tip in RESIZE_CHOICES:
            self.resize_combo.addItem(label, (key, fraction))
            self.resize_combo.setItemData(
                self.resize_combo.count() - 1, tip, QtCore.Qt.ItemDataRole.ToolTipRole
            )
        self.normalise_combo = QtWidgets.QComboBox()
        for label, normalize, mean, std in NORMALISE_CHOICES:
            self.normalise_combo.addItem(label, (normalize, mean, std))
        self.interpolation_combo = QtWidgets.QComboBox()
        for key, label in INTERPOLATION_CHOICES:
            self.interpolation_combo.addItem(label, key)
        self.invert_check = QtWidgets.QCheckBox("Invert")
        self.invert_check.setToolTip(
            "1 − value: turns a dark digit on white paper into a white digit on black,\n"
            "like the bundled digits and the drawing pad"
        )
        self.split_check = QtWidgets.QCheckBox("Split channels")
        self.split_check.setToolTip("Show each channel as its own grey tile")
        grid = QtWidgets.QGridLayout()
        grid.setHorizontalSpacing(8)
        grid.addWidget(QtWidgets.QLabel("Resize"), 0, 0)
        grid.addWidget(self.resize_combo, 0, 1)
        grid.addWidget(QtWidgets.QLabel("Normalise"), 0, 2)
        grid.addWidget(self.normalise_combo, 0, 3)
        grid.addWidget(QtWidgets.QLabel("Interpolation"), 1, 0)
        grid.addWidget(self.interpolation_combo, 1, 1)
        checks = QtWidgets.QHBoxLayout()
        checks.addWidget(self.invert_check)
        checks.addWidget(self.split_check)
        checks.addStretch(1)
        grid.addLayout(checks, 1, 2, 1, 2)
        self.declared_label = info_label()
        self.declared_button = QtWidgets.QPushButton("Use")
        self.declared_button.setToolTip("Prepare the picture as the network was trained to see it")
        declared = QtWidgets.QHBoxLayout()
        declared.addWidget(self.declared_label, 1)
        declared.addWidget(self.declared_button)
        grid.addLayout(declared, 2, 0, 1, 4)
        grid.setColumnStretch(1, 1)
        grid.setColumnStretch(3, 1)
        self._declared: Preprocessing | None = None
        self._show_declared()
        return grid

    def _connect(self) -> None:
        for combo in (self.resize_combo, self.normalise_combo, self.interpolation_combo):
            combo.currentIndexChanged.connect(self._emit_preprocessing)
        self.invert_check.toggled.connect(self._emit_preprocessing)
        self.split_check.toggled.connect(self._redraw)
        self.declared_button.clicked.connect(self._use_declared)
        self.graphics.scene().sigMouseMoved.connect(self._on_mouse_moved)

    # ----- preprocessing ----------------------------------------------------

    def preprocessing(self) -> Preprocessing:
        """The choices on screen as a Preprocessing."""
        normalize, mean, std = self.normalise_combo.currentData()
        resize, fraction = self.resize_combo.currentData()
        return Preprocessing(
            resize=resize,
            crop_fraction=fraction,
            normalize=normalize,
            invert=self.invert_check.isChecked(),
            mean=mean,
            std=std,
            interpolation=self.interpolation_combo.currentData(),
        )

    def set_preprocessing(self, prep: Preprocessing) -> None:
        """Show `prep` (from a project file or an undo) without emitting a change."""
        widgets = (self.resize_combo, self.normalise_combo, self.interpolation_combo)
        blockers = [QtCore.QSignalBlocker(w) for w in (*widgets, self.invert_check)]
        self.resize_combo.setCurrentIndex(self._resize_index(prep))
        self.interpolation_combo.setCurrentIndex(
            self.interpolation_combo.findData(prep.interpolation)
        )
        self.invert_check.setChecked(prep.invert)
        self.normalise_combo.setCurrentIndex(self._normalise_index(prep))
        del blockers
        self._show_declared()

    def set_declared(self, prep: Preprocessing | None, text: str = "") -> None:
        """The preprocessing the network declares (None: it declares none), in words."""
        self._declared = prep
        self.declared_label.setText(f"The network expects: {text}" if prep else "")
        self._show_declared()

    def _show_declared(self) -> None:
        shown = self._declared is not None
        self.declared_label.setVisible(shown)
        self.declared_button.setVisible(shown)
        differs = shown and _comparable(self.preprocessing()) != _comparable(self._declared)
        self.declared_button.setEnabled(differs)

    def _use_declared(self) -> None:
        if self._declared is not None:
            self.set_preprocessing(self._declared)
            self._emit_preprocessing()

    def _resize_index(self, prep: Preprocessing) -> int:
        wanted = (prep.resize, prep.crop_fraction if prep.resize == "crop" else 1.0)
        for index in range(self.resize_combo.count()):
            if tuple(self.resize_combo.itemData(index)) == wanted:
                return index
        # A crop the list lacks (typed into a file): offer it as its own entry.
        self.resize_combo.addItem(f"Centre crop {prep.crop_fraction:.1%}", wanted)
        return self.resize_combo.count() - 1

    def _normalise_index(self, prep: Preprocessing) -> int:
        for index in range(self.normalise_combo.count()):
            normalize, mean, std = self.normalise_combo.itemData(index)
            if normalize == prep.normalize and (
                normalize != "mean_std" or (mean, std) == (prep.mean, prep.std)
            ):
                return index
        # A mean/std the list lacks (typed into a project file): offer it as its own entry.
        label = f"Custom (mean {_join(prep.mean)}, std {_join(prep.std)})"
        self.normalise_combo.addItem(label, ("mean_std", prep.mean, prep.std))
        return self.normalise_combo.count() - 1

    def _emit_preprocessing(self) -> None:
        self._show_declared()
        self.preprocessing_changed.emit(self.preprocessing())

    # ----- showing the tensor -----------------------------------------------

    def show(self, data: PanelInput | None = None) -> None:  # type: ignore[override]
        """Draw the input of a forward result; without an argument, QWidget.show()."""
        if data is None:
            super().show()
            return
        self.set_input(data.result.input)

    def set_input(self, tensor: np.ndarray, source: str | None = None) -> None:
        """Draw `tensor` (C, H, W); `source` (e.g. the file name) replaces the source line."""
        tensor = np.asarray(tensor, dtype=np.float32)
        if tensor.ndim != 3 or min(tensor.shape) < 1:
            raise ValueError(f"the network input must be (C, H, W), got shape {tensor.shape}")
        self._tensor = tensor
        if source is not None:
            self.source_label.setText(f"From {source}")
        self._redraw()

    def tensor(self) -> np.ndarray | None:
        """The tensor on screen, as given."""
        return self._tensor

    def displayed(self) -> np.ndarray | None:
        """The array the image item draws (grey, RGB or the mosaic)."""
        return self.image_item.image

    def _redraw(self) -> None:
        tensor = self._tensor
        if tensor is None:
            return
        picture, self._layout = display_picture(tensor, self.split_check.isChecked())
        levels = display_levels(tensor)
        previous = self.image_item.image
        self.image_item.setImage(picture, autoLevels=False, levels=levels)
        if previous is None or previous.shape[:2] != picture.shape[:2]:
            # Only a new size resets the view, so a zoom survives live drawing.
            self.frame.setRect(QtCore.QRectF(0, 0, picture.shape[1], picture.shape[0]))
            self.view.autoRange(padding=0.02)
        self.shape_label.setText(f"C×H×W = {shape_text(tensor.shape)} · float32")
        self.range_label.setText(range_text(tensor, levels))

    def _on_mouse_moved(self, scene_pos: QtCore.QPointF) -> None:
        self.hover_label.setText(self.value_text_at(self.view.mapSceneToView(scene_pos)) or " ")

    def value_text_at(self, point: QtCore.QPointF) -> str | None:
        """The input value(s) under picture coordinates `point`, or None outside."""
        tensor = self._tensor
        if tensor is None:
            return None
        return value_text(tensor, self._layout, point.y(), point.x())


def _comparable(prep: Preprocessing) -> Preprocessing:
    """What the panel can show of `prep`: a mean/std only counts for mean_std."""
    from dataclasses import replace

    if prep.normalize != "mean_std":
        prep = replace(prep, mean=(0.5,), std=(0.5,))
    return prep


def _join(values: tuple[float, ...]) -> str:
    return "/".join(f"{v:g}" for v in values)


def _shape(text: str) -> tuple[int, int, int]:
    try:
        channels, height, width = (int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected C,H,W such as 3,224,224, not {text!r}"
        ) from None
    return channels, height, width


def main(argv: list[str] | None = None) -> int:
    """The panel alone, on a bundled sample or a given image, live with its choices."""
    from cnnviz.core.images import ImageError, load_image, to_network_input
    from cnnviz.core.samples import sample

    parser = argparse.ArgumentParser(prog="python -m cnnviz.qt.panels.input_image")
    parser.add_argument("image", nargs="?", help="an image file (default: the bundled cat)")
    parser.add_argument("--shape", type=_shape, default=(3, 224, 224), help="C,H,W")
    args = parser.parse_args(argv)
    path = args.image or sample("cat").path
    try:
        image = load_image(path)
    except ImageError as exc:
        parser.exit(2, f"{parser.prog}: error: {exc}\n")
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(sys.argv)
    panel = InputImagePanel()
    source = f"{getattr(path, 'name', path)} · {image.shape[1]}×{image.shape[0]}"

    def update(prep: Preprocessing) -> None:
        panel.set_input(to_network_input(image, *args.shape, prep), f"{source} · {prep.describe()}")

    panel.preprocessing_changed.connect(update)
    update(panel.preprocessing())
    panel.setWindowTitle("cnnviz — network input")
    panel.resize(520, 620)
    panel.show()
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
