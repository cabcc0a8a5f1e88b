"""The Why panel's choices: method, conv layer, the integrated-gradients baseline
and steps, the occlusion window and stride, and the overlay's opacity.

Only the choices that matter for the chosen method are enabled; `changed`
fires once per edit of a choice that changes what is computed.
"""

from __future__ import annotations

from PySide6 import QtCore, QtWidgets

from cnnviz.core.explain_display import LAYER_METHODS, TITLES
from cnnviz.core.explain_jobs import AUTO_STEPS, BASELINES, METHODS

AUTO_LAYER = "auto"
BASELINE_TITLES = {"black": "black image", "blurred": "blurred image", "noise": "noise"}


def _spin(low: int, high: int, value: int, suffix: str = "") -> QtWidgets.QSpinBox:
    box = QtWidgets.QSpinBox()
    box.setRange(low, high)
    box.setValue(value)
    box.setSuffix(suffix)
    box.setKeyboardTracking(False)  # typing "128" asks once, not for 1, 12, 128
    return box


class WhyControls(QtWidgets.QWidget):
    """The form above the map."""

    changed = QtCore.Signal()  # a choice that changes the computation
    opacity_changed = QtCore.Signal(float)  # 0…1

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.method_box = QtWidgets.QComboBox()
        for method in METHODS:
            self.method_box.addItem(TITLES[method], method)
        self.layer_box = QtWidgets.QComboBox()
        self.layer_box.setSizeAdjustPolicy(QtWidgets.QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.layer_box.addItem("selected conv, else the last", AUTO_LAYER)
        self.baseline_box = QtWidgets.QComboBox()
        for baseline in BASELINES:
            self.baseline_box.addItem(BASELINE_TITLES[baseline], baseline)
        self.steps_box = _spin(AUTO_STEPS, 1000, AUTO_STEPS, " steps")
        # 0: compute refines the steps until the completeness gap is under 1 %.
        self.steps_box.setSpecialValueText("auto (gap under 1 %)")
        self.steps_box.setToolTip(
            "Integrated gradients' steps; auto doubles them until Σ "
            "attributions is within 1 % of F(image) − F(baseline)"
        )
        self.window_box = _spin(1, 512, 16, " px")
        self.stride_box = _spin(1, 512, 8, " px")
        self.opacity = QtWidgets.QSlider(QtCore.Qt.Orientation.Horizontal)
        self.opacity.setRange(0, 100)
        self.opacity.setValue(55)
        self.opacity.setToolTip("How strongly the map covers the image")
        self._layout()
        for box in (self.method_box, self.layer_box, self.baseline_box):
            box.currentIndexChanged.connect(self._changed)
        for spin in (self.steps_box, self.window_box, self.stride_box):
            spin.valueChanged.connect(self._changed)
        self.opacity.valueChanged.connect(lambda v: self.opacity_changed.emit(v / 100.0))
        self._enable()

    def _layout(self) -> None:
        grid = QtWidgets.QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        rows = (
            ("Method", self.method_box, "Layer", self.layer_box),
            ("Baseline", self.baseline_box, "Steps", self.steps_box),
            ("Window", self.window_box, "Stride", self.stride_box),
        )
        for row, (left, left_box, right, right_box) in enumerate(rows):
            grid.addWidget(QtWidgets.QLabel(left), row, 0)
            grid.addWidget(left_box, row, 1)
            grid.addWidget(QtWidgets.QLabel(right), row, 2)
            grid.addWidget(right_box, row, 3)
        grid.addWidget(QtWidgets.QLabel("Opacity"), 3, 0)
        grid.addWidget(self.opacity, 3, 1, 1, 3)
        grid.setColumnStretch(1, 1)
        grid.setColumnStretch(3, 1)

    # -- what is chosen ------------------------------------------------------------

    @property
    def method(self) -> str:
        return self.method_box.currentData()

    @property
    def layer_choice(self) -> int | None:
        """The layer picked by hand, or None for the automatic choice."""
        data = self.layer_box.currentData()
        return None if data == AUTO_LAYER else int(data)

    @property
    def baseline(self) -> str:
        return self.baseline_box.currentData()

    def set_method(self, method: str) -> None:
        self.method_box.setCurrentIndex(METHODS.index(method))

    def set_layers(self, layers: list[tuple[int, str]], auto_text: str) -> None:
        """The conv layers to choose from; a hand-picked one stays if it is still there."""
        kept = self.layer_choice
        self.layer_box.blockSignals(True)
        try:
            self.layer_box.clear()
            self.layer_box.addItem(auto_text, AUTO_LAYER)
            for index, title in layers:
                self.layer_box.addItem(title, index)
            found = self.layer_box.findData(kept) if kept is not None else 0
            self.layer_box.setCurrentIndex(max(found, 0))
        finally:
            self.layer_box.blockSignals(False)

    def _enable(self) -> None:
        method = self.method
        self.layer_box.setEnabled(method in LAYER_METHODS)
        for box in (self.baseline_box, self.steps_box):
            box.setEnabled(method == "integrated-gradients")
        for box in (self.window_box, self.stride_box):
            box.setEnabled(method == "occlusion")

    def _changed(self, *_args) -> None:
        self._enable()
        self.changed.emit()
