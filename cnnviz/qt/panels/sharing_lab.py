"""The parameter-sharing lab: a conv layer beside the dense layer with the same output.

Left, the conv's kernel and its parameter count; right, the Linear layer that
maps the same input to the same output, and its count; between them the ratio,
large. Below, the conv written as that dense layer's matrix (core.conv_as_dense)
for a readable crop (one input channel to one output channel, a few positions
per axis): each entry holding the same kernel weight has the same colour,
zeros are blank, so the sliding kernel shows as diagonals. Hovering an entry
names its output, its input and the kernel weight that sits there.

Fed by the lab (qt/labs/parameter_sharing.py): ``set_analysis`` with the stack
on paper, ``set_filters`` with the latest conv weights, ``follow`` with the
selected layer. Standalone: ``python -m cnnviz.qt.panels.sharing_lab``.
"""

from __future__ import annotations

import colorsys
import logging
from functools import cache

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from cnnviz.core.analysis import Analysis, LayerInfo
from cnnviz.core.conv_as_dense import (
    ConvGeometry,
    bytes_in_words,
    crop,
    crop_weight,
    entry_at,
    in_words,
    weight_index,
)
from cnnviz.core.layers._common import ShapeError
from cnnviz.qt.panels.base import (
    MUTED_STYLE,
    format_value,
    graphics_widget,
    image_view_box,
    info_label,
    set_picture,
    title_label,
)

log = logging.getLogger(__name__)

Filters = dict[int, tuple[np.ndarray, np.ndarray | None]]

GUIDE = (
    "• The conv: every output position reuses the same K·K·C weights of its filter "
    "(one row of the matrix per output, the same colours shifted along).\n"
    "• A dense layer learns a separate weight for every input–output pair: every "
    "entry of the matrix, the blank ones too.\n"
    "• The price of sharing: a filter detects the same pattern everywhere, so shifting "
    "the input shifts the output (translation equivariance)."
)
NO_CONV = "This network has no Conv2d layer: add one to compare it with a dense layer."


@cache
def weight_colours(count: int) -> np.ndarray:
    """(count + 1, 4) uint8 RGBA: one distinct colour per kernel weight (golden-angle
    hues, two lightnesses), and last, for the zeros, nearly transparent."""
    # Zeros: a faint grey, so the matrix's extent shows on any background.
    colours = np.full((count + 1, 4), (128, 128, 128, 28), dtype=np.uint8)
    for k in range(count):
        hue = (k * 0.618033988749895) % 1.0
        value = 0.95 if k % 2 == 0 else 0.72
        rgb = colorsys.hsv_to_rgb(hue, 0.75, value)
        colours[k] = (*(round(255 * c) for c in rgb), 255)
    return colours


def colour_picture(index: np.ndarray, count: int) -> np.ndarray:
    """RGBA picture of a weight-index array: equal weights, equal colours; -1 blank."""
    return weight_colours(count)[np.where(index >= 0, index, count)]


def kernel_texts(kernel: np.ndarray) -> list[str]:
    """The numbers written on the kernel's cells, row by row: two decimals, three
    for small weights (a fresh VGG's ±0.01 would read as 0.00)."""
    decimals = 2 if np.abs(kernel).max(initial=0) >= 0.1 else 3
    return [f"{v:.{decimals}f}" for v in np.ravel(kernel)]


class _HoverImage(pg.ImageItem):
    """An image that reports the (row, col) under the mouse, or None on leaving."""

    def __init__(self, on_hover):
        super().__init__()
        self._on_hover = on_hover
        self.setAcceptHoverEvents(True)

    def hoverEvent(self, event) -> None:
        if event.isExit() or self.image is None:
            self._on_hover(None)
            return
        pos = event.pos()
        row, col = int(pos.y()), int(pos.x())
        rows, cols = self.image.shape[:2]
        self._on_hover((row, col) if 0 <= row < rows and 0 <= col < cols else None)


def _box(title: str) -> tuple[QtWidgets.QGroupBox, QtWidgets.QVBoxLayout]:
    box = QtWidgets.QGroupBox(title)
    layout = QtWidgets.QVBoxLayout(box)
    layout.setContentsMargins(6, 6, 6, 6)
    return box, layout


class SharingLabPanel(QtWidgets.QWidget):
    """A Conv2d's count against a same-output dense layer's, and its shared matrix."""

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.analysis: Analysis | None = None
        self.filters: Filters = {}
        self.convs: list[LayerInfo] = []
        self.geometry_full: ConvGeometry | None = None
        self.geometry: ConvGeometry | None = None  # the crop drawn
        self.index: np.ndarray | None = None
        self.kernel: np.ndarray | None = None  # (kh, kw) of the crop, when computed
        self._build()

    # ----- building --------------------------------------------------------

    def _build(self) -> None:
        self.chooser = QtWidgets.QComboBox()
        self.chooser.setToolTip("The conv layer to compare (follows the selected layer)")
        self.chooser.currentIndexChanged.connect(self._chosen)
        self.title = title_label()
        top = QtWidgets.QHBoxLayout()
        top.addWidget(QtWidgets.QLabel("conv layer"))
        top.addWidget(self.chooser)
        top.addWidget(self.title, 1)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(top)
        layout.addLayout(self._build_counts())
        self.matrix_title = title_label()
        self.matrix_title.setWordWrap(True)
        layout.addWidget(self.matrix_title)
        self.matrix_canvas = graphics_widget()
        self.matrix_view = image_view_box()
        self.matrix_canvas.addItem(self.matrix_view)
        self.matrix_item = _HoverImage(self._hovered)
        self.matrix_view.addItem(self.matrix_item)
        # Hovering outlines every entry that holds the same weight: sharing, counted.
        # Black under white: seen on every colour of the palette and on the blanks.
        self.shared_marks, self._shared_under = (
            pg.ScatterPlotItem(symbol="s", size=1, pxMode=False, pen=pg.mkPen(colour, width=w))
            for colour, w in (("w", 2), ("k", 5))
        )
        for z, marks in ((11, self.shared_marks), (10, self._shared_under)):
            marks.setBrush(None)
            marks.setZValue(z)
            self.matrix_view.addItem(marks)
        layout.addWidget(self.matrix_canvas, 1)
        self.hover = info_label("Hover an entry: which output, which input, which weight.", "", 12)
        layout.addWidget(self.hover)
        layout.addWidget(info_label(GUIDE))

    def _build_counts(self) -> QtWidgets.QHBoxLayout:
        conv_box, conv_layout = _box("Conv2d: one kernel, slid everywhere")
        self.kernel_canvas = graphics_widget()
        self.kernel_canvas.setFixedHeight(170)
        self.kernel_view = image_view_box()
        self.kernel_canvas.addItem(self.kernel_view)
        self.kernel_item = pg.ImageItem()
        self.kernel_view.addItem(self.kernel_item)
        self.kernel_mark = QtWidgets.QGraphicsRectItem(0, 0, 1, 1)
        self.kernel_mark.setPen(pg.mkPen("w", width=4))
        self.kernel_mark.setZValue(10)
        self.kernel_mark.hide()
        self.kernel_view.addItem(self.kernel_mark)
        self.kernel_texts: list[pg.TextItem] = []
        self.conv_count = info_label("", "", 13)
        conv_layout.addWidget(self.kernel_canvas, 1)
        conv_layout.addWidget(self.conv_count)
        dense_box, dense_layout = _box("Linear: same input, same output")
        self.dense_count = info_label("", "", 13)
        dense_layout.addWidget(self.dense_count)
        dense_layout.addStretch(1)
        self.ratio = QtWidgets.QLabel()
        self.ratio.setAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
        self.ratio.setStyleSheet("font-size: 34px; font-weight: 700;")
        self.ratio_note = info_label("", MUTED_STYLE, 12)
        self.ratio_note.setAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
        middle = QtWidgets.QVBoxLayout()
        middle.addStretch(1)
        middle.addWidget(self.ratio)
        middle.addWidget(self.ratio_note)
        middle.addStretch(1)
        row = QtWidgets.QHBoxLayout()
        row.addWidget(conv_box, 3)
        row.addLayout(middle, 2)
        row.addWidget(dense_box, 3)
        return row

    # ----- feeding ---------------------------------------------------------

    def set_analysis(self, analysis: Analysis) -> None:
        """The stack changed: list its conv layers again, keeping the choice if it is still one."""
        self.analysis = analysis
        kept = self.current_index()
        self.convs = [info for info in analysis.layers if info.layer.type == "Conv2d"]
        self.chooser.blockSignals(True)
        self.chooser.clear()
        for info in self.convs:
            self.chooser.addItem(f"{info.name} · Conv2d {info.layer.describe()}", info.index)
        self.chooser.blockSignals(False)
        found = self.chooser.findData(kept)
        self.chooser.setCurrentIndex(max(found, 0) if self.convs else -1)
        self._chosen()

    def watch(self, doc) -> None:
        """Follow a Document: its conv layers again after every edit."""
        self._doc = doc
        doc.changed.connect(self._document_changed)
        self.set_analysis(doc.analysis)

    def _document_changed(self) -> None:
        self.set_analysis(self._doc.analysis)

    def result_shown(self, view) -> None:
        """A forward result was shown (a ComputedView): take its conv weights."""
        self.set_filters(view.result.filters)

    def set_filters(self, filters: Filters) -> None:
        """The latest conv weights (flat layer index → (weight, bias))."""
        self.filters = dict(filters)
        self._chosen()

    def follow(self, row: int) -> None:
        """The selected layer: shown when it is a conv (another layer keeps the choice)."""
        found = self.chooser.findData(row)
        if found >= 0:
            self.chooser.setCurrentIndex(found)

    def current_index(self) -> int | None:
        """The flat index of the conv shown, or None."""
        data = self.chooser.currentData()
        return None if data is None else int(data)

    # ----- drawing ---------------------------------------------------------

    def _chosen(self, *_args) -> None:
        index = self.current_index()
        info = None if index is None or self.analysis is None else self.analysis.layers[index]
        if info is None:
            self._clear(NO_CONV if self.analysis is not None else "")
            return
        self.title.setText(f"input {_dims(info.input_shape)} → output {_dims(info.output_shape)}")
        try:
            self.geometry_full = ConvGeometry.of(info.layer, info.input_shape)
        except (ShapeError, TypeError) as exc:
            self._clear(f"{info.name}: {exc}")
            return
        self._write_counts(self.geometry_full)
        self._draw_matrix(info)

    def _clear(self, message: str) -> None:
        self.geometry_full = self.geometry = self.index = self.kernel = None
        self.title.setText(message)
        for label in (self.conv_count, self.dense_count, self.ratio, self.ratio_note):
            label.setText("")
        self.matrix_title.setText("")
        self.matrix_item.clear()
        self.kernel_item.clear()
        self._set_kernel_texts(None)
        self._hovered(None)

    def _write_counts(self, geometry: ConvGeometry) -> None:
        found = geometry.counts()
        out_c, cin_g, kh, kw = geometry.weight_shape
        bias = f" + {out_c}" if geometry.bias else ""
        self.conv_count.setText(
            f"{out_c}·{cin_g}·{kh}·{kw}{bias} = <b>{found.conv_params:,}</b> params<br>"
            f"{out_c} filters of {cin_g}·{kh}·{kw} weights, each used at all "
            f"{geometry.out_hw[0] * geometry.out_hw[1]:,} positions"
        )
        into, out = geometry.cols, geometry.rows
        bias = f" + {out:,}" if geometry.bias else ""
        self.dense_count.setText(
            f"in {_dims(geometry.in_shape, '·')} = {into:,} values<br>"
            f"out {_dims(geometry.out_shape, '·')} = {out:,} values<br><br>"
            f"{into:,}·{out:,}{bias} =<br><b>{found.dense_params:,}</b> params"
            f" ({in_words(found.dense_params)}, {bytes_in_words(4 * found.dense_params)}"
            " as float32)<br><br>one weight for every input–output pair"
        )
        ratio = found.ratio
        self.ratio.setText(f"{ratio:,.0f}×" if ratio >= 100 else f"{ratio:,.1f}×")
        self.ratio_note.setText("as many parameters in the dense layer")

    def _draw_matrix(self, info: LayerInfo) -> None:
        full = self.geometry_full
        assert full is not None
        self.geometry = crop(full)
        self.index = weight_index(self.geometry)
        taps = full.kernel[0] * full.kernel[1]
        self.matrix_item.setImage(
            colour_picture(self.index, taps), autoLevels=False, levels=(0, 255)
        )
        self.matrix_view.autoRange(padding=0.01)
        weights = self.filters.get(info.index)
        self.kernel = None if weights is None else crop_weight(weights[0])[0, 0]
        kernel_colours = colour_picture(np.arange(taps).reshape(full.kernel), taps)
        set_picture(
            self.kernel_view, self.kernel_item, kernel_colours, autoLevels=False, levels=(0, 255)
        )
        self._set_kernel_texts(self.kernel)
        rows, cols = self.index.shape
        kept = (
            ""
            if full.in_shape[0] == 1 and full.out_channels == 1
            else "filter 0 on its input channel 0, "
        )
        whole = (
            f"the whole layer's matrix: {full.rows:,} × {full.cols:,} = {full.entries:,} entries "
            f"({in_words(full.entries)})"
        )
        self.matrix_title.setText(
            f"The conv as a dense matrix ({kept}a {_dims(self.geometry.in_shape[1:])} input): "
            f"{rows} outputs × {cols} inputs, {np.count_nonzero(self.index >= 0):,} non-zero "
            f"entries holding only {taps} distinct weights; {whole}"
        )
        self._hovered(None)

    def _set_kernel_texts(self, kernel: np.ndarray | None) -> None:
        for item in self.kernel_texts:
            self.kernel_view.removeItem(item)
        self.kernel_texts = []
        if kernel is None or kernel.size > 64:
            return  # an 11×11 kernel's numbers would not fit its cells: hover shows them
        for (i, j), value in zip(np.ndindex(kernel.shape), kernel_texts(kernel), strict=True):
            text = pg.TextItem(value, color="k", anchor=(0.5, 0.5))
            text.setPos(j + 0.5, i + 0.5)
            self.kernel_view.addItem(text)
            self.kernel_texts.append(text)

    # ----- hover -----------------------------------------------------------

    def describe_entry(self, row: int, col: int) -> str:
        """E.g. "row 7 = output (c, y, x) (0, 1, 1), col 12 = input (c, y, x) (0, 1, 2)
        → kernel weight (c, i, j) = (0, 0, 1) = 0.25"; for a zero, why it is one."""
        assert self.geometry is not None and self.index is not None
        entry = entry_at(self.geometry, self.index, row, col)
        where = (
            f"row {row} = output (c, y, x) {entry.output}, "
            f"col {col} = input (c, y, x) {entry.input}"
        )
        if entry.weight is None:
            return f"{where} → 0: this input is outside that output's window (no weight)"
        _, _, i, j = entry.weight
        value = "" if self.kernel is None else f" = {format_value(float(self.kernel[i, j]))}"
        return f"{where} → kernel weight (c, i, j) = (0, {i}, {j}){value}"

    def _hovered(self, at) -> None:
        flat = -1 if at is None or self.index is None else int(self.index[at])
        if at is not None and self.index is not None:
            self.hover.setText(self.describe_entry(*at))
        if flat < 0:
            self.kernel_mark.hide()
            for marks in (self.shared_marks, self._shared_under):
                marks.setData([], [])
            return
        i, j = divmod(flat, self.geometry.kernel[1])
        self.kernel_mark.setRect(j, i, 1, 1)
        self.kernel_mark.show()
        rows, cols = np.nonzero(self.index == flat)
        for marks in (self.shared_marks, self._shared_under):
            marks.setData(cols + 0.5, rows + 0.5)
        self.hover.setText(f"{self.hover.text()}; the same weight sits in {len(rows)} rows")


def _dims(shape, sep: str = "×") -> str:
    return "?" if shape is None else sep.join(str(int(v)) for v in shape)


def main(argv=None) -> int:
    """Standalone: LeNet-5's conv layers with seeded weights."""
    from cnnviz.core.analysis import analyze
    from cnnviz.core.presets import load_preset

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(argv or [])
    analysis = analyze(load_preset("lenet5"))
    rng = np.random.default_rng(0)
    filters = {}
    for info in analysis.layers:
        if info.layer.type == "Conv2d":
            shape = ConvGeometry.of(info.layer, info.input_shape).weight_shape
            filters[info.index] = (rng.normal(0, 0.2, shape).astype(np.float32), None)
    panel = SharingLabPanel()
    panel.set_analysis(analysis)
    panel.set_filters(filters)
    panel.resize(1000, 800)
    panel.show()
    return app.exec()


if __name__ == "__main__":
    raise SystemExit(main())
