"""The translation lab (issue 19): shift the input by k pixels, compare every layer.

Top: the shift k (−8…8 px), its axis, the layer and the channel to look at.
Middle: that channel of the layer for the input as given and for the shifted
input side by side (one colour scale), and their difference at the same
positions. A line spells out the layer's total stride, how many cells the
shift is there, and both errors. Below: every layer's invariance and
equivariance error with the pooling layers marked (cnnviz.core.translation
defines them), and the prediction before and after.

The panel only shows; the lab (cnnviz/qt/labs/translation.py) wires it to a
TranslationController that computes on the compute thread.
Standalone on a numpy sample: ``python -m cnnviz.qt.panels.translation_lab``.
"""

from __future__ import annotations

import numpy as np
from PySide6 import QtCore, QtWidgets

from cnnviz.core.analysis import Analysis
from cnnviz.core.translation import FILL, LayerShift, TranslationReport
from cnnviz.core.translation_jobs import INPUT, ShiftChoice, TranslationResult
from cnnviz.qt.panels.base import (
    ACCENT,
    float_c,
    graphics_widget,
    info_label,
    picture_row,
    shape_text,
    title_label,
)
from cnnviz.qt.panels.translation_lab_plot import LEGEND, TranslationPlot, cells_text
from cnnviz.qt.style import colormaps

MOST_PIXELS = 8
ERROR_STYLE = "color: #c0392b;"


def _number(value: float | None) -> str:
    return "—" if value is None else f"{value:.3g}"


def layer_sentence(row: LayerShift, report: TranslationReport) -> str:
    """What the shift does at this layer, in words, with both errors."""
    k = report.dx or report.dy
    name = "the input" if row.address == INPUT else f"layer {row.address} {row.type}"
    if row.stride is None:
        return f"{name}: not a spatial map · invariance error {_number(row.invariance)}"
    stride = max(row.stride)
    moved = cells_text(row)
    text = f"{name} · total stride {stride} px per cell: the {k} px shift is {moved} here"
    if row.equivariance is None:
        text += f" ({row.note}) · equivariance error —"
    else:
        text += f" · equivariance error {_number(row.equivariance)} on {row.compared} cells"
    return text + f" · invariance error {_number(row.invariance)}"


def prediction_sentence(report: TranslationReport, classes) -> str:
    p = report.prediction
    if p is None:
        return "Prediction: the last layer gives no class scores."

    def name(index: int) -> str:
        return repr(classes[index]) if classes and index < len(classes) else f"class {index}"

    return (
        f"Prediction: {name(p.before)} p = {p.before_probability:.4f} → "
        f"{name(p.after)} p = {p.after_probability:.4f} "
        f"(p of {name(p.before)} {p.change:+.4f})"
    )


class TranslationLabPanel(QtWidgets.QWidget):
    choice_changed = QtCore.Signal(object)  # ShiftChoice

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.result: TranslationResult | None = None
        self.classes: list[str] | None = None
        self._build_controls()
        self._build_maps()
        self.plot = TranslationPlot()
        self.prediction = title_label("")
        self.status = info_label("")
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(self.controls)
        layout.addWidget(self.maps, 3)
        layout.addWidget(self.sentence)
        layout.addWidget(self.plot.widget, 2)
        layout.addWidget(info_label(LEGEND))
        layout.addWidget(self.prediction)
        layout.addWidget(self.status)

    # ----- building -----------------------------------------------------------

    def _build_controls(self) -> None:
        self.pixels = QtWidgets.QSpinBox()
        self.pixels.setRange(-MOST_PIXELS, MOST_PIXELS)
        self.pixels.setValue(2)
        self.pixels.setSuffix(" px")
        self.slider = QtWidgets.QSlider(QtCore.Qt.Orientation.Horizontal)
        self.slider.setRange(-MOST_PIXELS, MOST_PIXELS)
        self.slider.setValue(2)
        self.slider.setTickPosition(QtWidgets.QSlider.TickPosition.TicksBelow)
        self.slider.valueChanged.connect(self.pixels.setValue)
        self.pixels.valueChanged.connect(self.slider.setValue)
        self.pixels.valueChanged.connect(self._emit_choice)
        self.axis = QtWidgets.QComboBox()
        self.axis.addItem("x (right)", "x")
        self.axis.addItem("y (down)", "y")
        self.axis.currentIndexChanged.connect(self._emit_choice)
        self.layer = QtWidgets.QComboBox()
        self.layer.addItem("input", INPUT)
        self.layer.currentIndexChanged.connect(self._emit_choice)
        self.channel = QtWidgets.QSpinBox()
        self.channel.setToolTip("The channel shown (the errors count every channel)")
        self.channel.valueChanged.connect(self._draw_maps)
        self.controls = QtWidgets.QHBoxLayout()
        for label, widget, stretch in (
            ("shift", self.pixels, 0),
            (None, self.slider, 1),
            ("axis", self.axis, 0),
            ("layer", self.layer, 1),
            ("channel", self.channel, 0),
        ):
            if label:
                self.controls.addWidget(QtWidgets.QLabel(label))
            self.controls.addWidget(widget, stretch)

    def _build_maps(self) -> None:
        self.maps = graphics_widget()
        self.views, self.items, self.captions = picture_row(
            self.maps, ("original", "shifted", "shifted − original")
        )
        for col in range(3):  # the same size for all three, whatever their captions
            self.maps.ci.layout.setColumnPreferredWidth(col, 200)
        self.items[2].setLookupTable(colormaps.lookup_table(colormaps.DEFAULT_DIVERGING))
        for item in self.items[:2]:
            item.setLookupTable(colormaps.lookup_table(colormaps.DEFAULT))
        self.sentence = info_label("", f"color: {ACCENT}; font-weight: 600;", 13)

    # ----- what the lab tells it ----------------------------------------------

    @property
    def choice(self) -> ShiftChoice:
        layer = self.layer.currentData()
        return ShiftChoice(self.pixels.value(), self.axis.currentData(), layer or INPUT)

    def _emit_choice(self, *_args) -> None:
        self.choice_changed.emit(self.choice)

    def set_network(self, analysis: Analysis, classes=None) -> None:
        """List the layers with a spatial output; keep the chosen one when it stays."""
        self.classes = list(classes) if classes else None
        current = self.layer.currentData()
        entries = [(INPUT, f"input {shape_text(analysis.input_shape)}")]
        for info in analysis.top_level:
            if info.output_shape is not None and len(info.output_shape) == 3:
                text = f"{info.address} {info.layer.type} {shape_text(info.output_shape)}"
                entries.append((info.address, text))
        if [self.layer.itemData(i) for i in range(self.layer.count())] == [a for a, _ in entries]:
            return
        addresses = [address for address, _ in entries]
        if current not in addresses or current == INPUT:
            pools = [i for i in analysis.top_level if "Pool" in i.layer.type]
            current = pools[0].address if pools and pools[0].address in addresses else current
        self.layer.blockSignals(True)
        self.layer.clear()
        for address, text in entries:
            self.layer.addItem(text, address)
        self.layer.setCurrentIndex(max(0, addresses.index(current) if current in addresses else 0))
        self.layer.blockSignals(False)
        self._emit_choice()

    def show_result(self, result: TranslationResult) -> None:
        self.result = result
        self.status.setText("")
        channels = result.original.shape[0] if result.original.ndim == 3 else 1
        self.channel.blockSignals(True)
        self.channel.setRange(0, channels - 1)
        self.channel.blockSignals(False)
        self._draw_maps()
        report = result.report
        row = next((r for r in report.layers if r.address == result.layer), None)
        self.sentence.setText(layer_sentence(row, report) if row else "")
        self.plot.show(report, result.layer)
        self.prediction.setText(prediction_sentence(report, self.classes))

    def show_failure(self, message: str) -> None:
        self.status.setStyleSheet(f"{ERROR_STYLE} font-size: 12px;")
        self.status.setText(message)

    # ----- drawing --------------------------------------------------------------

    def _draw_maps(self, *_args) -> None:
        result = self.result
        if result is None:
            return
        original, shifted = result.original, result.shifted
        if original.ndim == 3:
            c = min(self.channel.value(), original.shape[0] - 1)
            original, shifted = original[c], shifted[c]
        low = float(min(original.min(), shifted.min()))
        high = float(max(original.max(), shifted.max()))
        levels = (low, high if high > low else low + 1.0)
        difference = shifted.astype(np.float32) - original
        reach = float(np.abs(difference).max()) or 1.0
        pictures = (original, shifted, difference)
        all_levels = (levels, levels, (-reach, reach))
        for view, item, picture, lv in zip(
            self.views, self.items, pictures, all_levels, strict=True
        ):
            item.setImage(float_c(picture), autoLevels=False, levels=lv)
            view.enableAutoRange()  # fitted, and again when the dock is resized
        r = result.report
        shift = f"{r.dx:+d} px across" if r.dx else f"{r.dy:+d} px down"
        h, w = original.shape
        self.captions[0].setText(f"original {h}×{w}")
        self.captions[1].setText(f"shifted {shift} ({FILL} enter)")
        self.captions[2].setText(f"shifted − original, same positions (±{reach:.3g})")


def _sample_result(pixels: int = 4, layer: str = "2") -> tuple[TranslationResult, Analysis]:
    """A numpy-only LeNet-like forward on a sample digit, for the standalone panel."""
    from cnnviz.core.analysis import analyze
    from cnnviz.core.presets import load_preset
    from cnnviz.core.translation import compare_forwards, shift_image
    from cnnviz.qt.panels._samples import numpy_forward, sample_filters, sample_image

    arch = load_preset("lenet5")
    analysis = analyze(arch)
    image = sample_image(*arch.input.as_tuple())
    moved = shift_image(image, 0, pixels)
    filters = sample_filters(analysis)
    a, b = (numpy_forward(analysis, x, filters) for x in (image, moved))
    outs_a, outs_b = [x.output for x in a.layers], [x.output for x in b.layers]
    pair = (a.probabilities, b.probabilities)
    report = compare_forwards(analysis, image, outs_a, outs_b, (0, pixels), pair)
    index = analysis.at(layer).index
    return TranslationResult(1, report, layer, outs_a[index], outs_b[index]), analysis


def main() -> None:  # pragma: no cover - a manual look
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication([])
    panel = TranslationLabPanel()
    result, analysis = _sample_result()
    panel.set_network(analysis)
    panel.show_result(result)
    panel.resize(1100, 800)
    panel.show()
    app.exec()


if __name__ == "__main__":  # pragma: no cover
    main()
