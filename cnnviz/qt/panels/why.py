"""Why: which pixels made the network say this class? An attribution map over the input.

The person chooses a method (Grad-CAM, Guided Backprop, Guided Grad-CAM,
saliency, integrated gradients, occlusion), the conv layer for Grad-CAM (the
selected layer if it is a conv, else the last conv) and the method's settings;
the class is the top prediction, or the one picked by clicking its bar in the
Prediction panel. Each change emits `choice_changed(ExplainChoice)`; the
window turns it into a request on the compute thread and hands the answer to
`show_explanation`. The map is drawn over the input (cnnviz.core.explain_display
says how it is scaled), with an opacity slider and a colour bar in the map's
units; hovering gives the map's value.

Standalone on numpy stand-in maps: ``python -m cnnviz.qt.panels.why``.
"""

from __future__ import annotations

import functools

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from cnnviz.core.explain_display import (
    LAYER_METHODS,
    TITLES,
    WHAT_IT_SHOWS,
    ExplainChoice,
    Overlay,
    class_name,
    completeness_text,
    conv_layers,
    default_layer,
    input_picture,
    overlay,
)
from cnnviz.core.explain_jobs import Explanation
from cnnviz.qt.panels.base import (
    Panel,
    PanelInput,
    colour_bar,
    format_value,
    graphics_widget,
    image_view_box,
    info_label,
    title_label,
)
from cnnviz.qt.panels.why_controls import WhyControls
from cnnviz.qt.style import colormaps

SEQUENTIAL, DIVERGING = "turbo", colormaps.DEFAULT_DIVERGING
NO_SCORES = (
    "No class scores: the last layer does not give a vector of class scores, so there "
    "is no class to explain. End the stack with Flatten and Linear."
)


@functools.cache
def fading_table(name: str, signed: bool) -> np.ndarray:
    """The colormap with zero see-through: opacity grows with |value| (its square
    root, so weak attributions still show), so the image stays readable where the
    map says nothing and the colour of the weak end never veils it."""
    table = colormaps.lookup_table(name).copy()
    ramp = np.abs(np.linspace(-1.0, 1.0, 256)) if signed else np.linspace(0.0, 1.0, 256)
    table[:, 3] = np.round(255 * np.sqrt(ramp)).astype(np.uint8)
    table.setflags(write=False)
    return table


class WhyPanel(Panel):
    """An attribution map over the input, for one class, by one method."""

    choice_changed = QtCore.Signal(object)  # ExplainChoice
    cancel_requested = QtCore.Signal()

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.target: int | None = None  # picked in the Prediction panel; None: the top one
        self.choice: ExplainChoice | None = None
        self.explanation: Explanation | None = None
        self.shown: Overlay | None = None
        self._classes: tuple[str, ...] | None = None
        self._analysis = None
        self._build()

    def _build(self) -> None:
        self.title = title_label("Why")
        self.controls = WhyControls()
        self.target_label = info_label("", "", 12)
        self.top_button = QtWidgets.QPushButton("Top prediction")
        self.top_button.setToolTip("Explain the most probable class again")
        self.top_button.clicked.connect(lambda: self.set_target(None))
        target_row = QtWidgets.QHBoxLayout()
        target_row.addWidget(self.target_label, 1)
        target_row.addWidget(self.top_button)
        self.canvas = graphics_widget()
        self.view = image_view_box()
        self.canvas.addItem(self.view, row=0, col=0)
        self.image_item = pg.ImageItem()
        self.map_item = pg.ImageItem()
        self.map_item.setOpacity(self.controls.opacity.value() / 100.0)
        self.view.addItem(self.image_item)
        self.view.addItem(self.map_item)
        self.bar = colour_bar(colormaps.colormap(SEQUENTIAL), "attribution")
        self.canvas.addItem(self.bar, row=0, col=1)
        self.canvas.scene().sigMouseMoved.connect(self._hover)
        self.progress = QtWidgets.QProgressBar()
        self.cancel_button = QtWidgets.QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel_requested)
        progress_row = QtWidgets.QHBoxLayout()
        progress_row.addWidget(self.progress, 1)
        progress_row.addWidget(self.cancel_button)
        self.set_computing(False)
        self.hover_label = info_label("Hover the map for its value.", "")
        self.summary = info_label("", "", 12)
        self.status = info_label()
        layout = QtWidgets.QVBoxLayout(self.content)
        layout.setContentsMargins(6, 6, 6, 6)
        for widget in (self.title, self.controls):
            layout.addWidget(widget)
        layout.addLayout(target_row)
        layout.addWidget(self.canvas, 1)
        layout.addLayout(progress_row)
        for widget in (self.hover_label, self.summary, self.status):
            layout.addWidget(widget)
        self.controls.changed.connect(self._update_choice)
        self.controls.opacity_changed.connect(self.map_item.setOpacity)

    # -- from the window -----------------------------------------------------------

    def draw(self, data: PanelInput) -> str | None:
        """A new forward result or selected layer: the classes, conv layers and the
        automatic layer follow it (a new choice is emitted when they change it)."""
        if data.result.probabilities is None:
            return NO_SCORES
        self._classes = data.classes
        if data.analysis is not self._analysis:
            self._analysis = data.analysis
            self.controls.set_layers(conv_layers(data.analysis), "selected conv, else the last")
        if self.explanation is None:
            self._draw_input(data.result.input)
        self._update_choice()
        return None

    def set_target(self, target: int | None) -> None:
        """Explain class `target` (None: the top prediction)."""
        self.target = None if target is None else int(target)
        self._update_choice()

    def set_computing(self, computing: bool, slow: bool = False) -> None:
        """A request is on its way (the window says so when it submits one); slow
        ones (occlusion, integrated gradients) show their progress and a Cancel."""
        for widget in (self.progress, self.cancel_button):
            widget.setVisible(computing and slow)
        if computing and slow:
            self.progress.setRange(0, 0)  # busy until the first report
        if computing:
            self.status.setText("Computing…")

    def set_progress(self, done: int, total: int) -> None:
        self.progress.setRange(0, max(int(total), 1))
        self.progress.setValue(int(done))
        self.progress.setFormat(f"%v of %m ({done / max(total, 1):.0%})")

    def show_failure(self, message: str) -> None:
        self.set_computing(False)
        self.status.setText(f"Could not explain: {message}")

    def show_cancelled(self) -> None:
        self.set_computing(False)
        self.status.setText("Cancelled: change a choice to compute again.")

    def show_explanation(self, explanation: Explanation) -> None:
        """Draw the map over the input, with the class, score and what it means."""
        self.explanation = explanation
        self.set_computing(False)
        self.status.setText("")
        if explanation.input is not None:
            self._draw_input(explanation.input)
        self.shown = overlay(explanation.map)
        signed = self.shown.signed
        self.map_item.setLookupTable(fading_table(DIVERGING if signed else SEQUENTIAL, signed))
        self.map_item.setImage(self.shown.picture, autoLevels=False, levels=self.shown.levels)
        self.bar.setColorMap(colormaps.colormap(DIVERGING if signed else SEQUENTIAL))
        self.bar.setLevels(values=self.shown.bar, update_items=False)
        self.view.autoRange(padding=0.02, items=[self.image_item])
        self.summary.setText(self._summary(explanation))

    # -- what is asked ---------------------------------------------------------------

    def _update_choice(self) -> None:
        controls = self.controls
        method = controls.method
        layer = None
        if method in LAYER_METHODS and self._analysis is not None:
            layer = controls.layer_choice
            if layer is None:
                selected = self.current.layer_index if self.current is not None else None
                layer = default_layer(self._analysis, selected)
                self._name_auto_layer(layer)
        choice = ExplainChoice(
            method=method,
            layer=layer,
            target=self.target,
            baseline=controls.baseline,
            steps=controls.steps_box.value(),
            window=controls.window_box.value(),
            stride=controls.stride_box.value(),
        )
        self._show_target()
        if choice != self.choice and self.current is not None:
            self.choice = choice
            self.choice_changed.emit(choice)

    def _name_auto_layer(self, layer: int | None) -> None:
        """The automatic entry says which layer it is now (the selection moves it)."""
        if layer is None:
            text = "no conv layer in this network"
        else:
            info = self._analysis.layers[layer]
            if layer == self.current.layer_index:
                kind = "selected layer"
            else:
                kind = "last conv" if info.layer.type == "Conv2d" else "block holding the last conv"
            text = f"{info.name} (the {kind})"
        self.controls.layer_box.setItemText(0, text)

    def _show_target(self) -> None:
        if self.target is None:
            self.target_label.setText("Class: the top prediction (click a bar in Prediction)")
        else:
            self.target_label.setText(f"Class: {class_name(self.target, self._classes)}")
        self.top_button.setEnabled(self.target is not None)

    def _summary(self, e: Explanation) -> str:
        name = class_name(e.target, self._classes)
        self.title.setText(f"Why {name}? · {TITLES.get(e.method, e.method)}")
        lines = [
            f"Class {name}: score {e.score:.4g} (before softmax){self._probability(e.target)}.",
            f"Shows {WHAT_IT_SHOWS.get(e.method, e.method)}.",
        ]
        layers = self._analysis.layers if self._analysis is not None else ()
        if e.layer is not None and 0 <= e.layer < len(layers):
            lines.append(f"Layer: {layers[e.layer].name}.")
        shown, scale = self.shown, format_value(self.shown.scale)
        if shown.signed:
            lines.append(
                f"Colours from −{scale} to +{scale}: red raised the score, blue lowered it"
            )
        else:
            lines.append(f"Colours from 0 to {scale}")
        if shown.peak > shown.scale * 1.0001:
            lines[-1] += (
                f" (the strongest values, up to {format_value(shown.peak)}, in full colour)."
            )
        else:
            lines[-1] += "."
        if e.delta is not None:
            if e.steps_used:
                lines.append(f"Integrated over {e.steps_used} steps.")
            lines.append(completeness_text(e.map, e.delta))
        return " ".join(lines)

    def _probability(self, target: int) -> str:
        """ ", probability 40.2%" from the forward on screen, when it has that class."""
        probabilities = self.current.result.probabilities if self.current is not None else None
        if probabilities is None or not 0 <= target < len(probabilities):
            return ""
        return f", probability {float(probabilities[target]):.1%}"

    # -- pictures and hover ----------------------------------------------------------

    def _draw_input(self, tensor: np.ndarray) -> None:
        picture = input_picture(tensor)
        self.image_item.setImage(picture, autoLevels=False, levels=(0.0, 1.0))
        self.view.autoRange(padding=0.02, items=[self.image_item])

    def _hover(self, scene_pos) -> None:
        point = self.view.mapSceneToView(scene_pos)
        self.hover_label.setText(self.value_text_at(point) or " ")

    def value_text_at(self, point: QtCore.QPointF) -> str | None:
        """The map's own value under picture coordinates `point`, or None outside."""
        if self.explanation is None:
            return None
        values = self.explanation.map
        row, col = int(np.floor(point.y())), int(np.floor(point.x()))
        if not (0 <= row < values.shape[0] and 0 <= col < values.shape[1]):
            return None
        return f"row {row}, col {col}: attribution {format_value(float(values[row, col]))}"


def main(argv=None) -> int:
    from cnnviz.qt.panels.why_samples import run_standalone

    return run_standalone(argv)


if __name__ == "__main__":
    raise SystemExit(main())
