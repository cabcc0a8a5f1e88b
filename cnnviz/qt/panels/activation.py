"""Activation: the function, its gradient and the inputs it really gets.

Three plots share one x axis, the range of the layer's real inputs: f(x),
f'(x), and the histogram of those inputs. The region where the gradient is
zero or tiny is shaded in all three and its share of the inputs is written
large: "52.0% of this image's 12,544 inputs fall where ReLU is off (x ≤ 0:
output 0, gradient 0)" — off for this image, not dead (core.activations says
why). A chooser draws any other activation, or all of them, on the same
inputs: why ReLU and not sigmoid, answered with this network's numbers. Two
teaching curves, Step and Identity (no layer computes them), come with the
lesson each teaches: a step passes no gradient, identity collapses the stack.
Vanishing gradients, a matter of depth, are measured in the Gradients panel.

Standalone: ``python -m cnnviz.qt.panels.activation``.
"""

from __future__ import annotations

import html

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from cnnviz.core.activations import (
    COMPARABLE,
    FLAT_NOTE,
    TEACHING,
    Activation,
    activation,
    activation_for_layer,
    histogram,
    input_range,
    is_elementwise_activation,
    share_sentence,
)
from cnnviz.qt.panels.base import (
    CURVE,
    CURVE_2,
    DEAD,
    FLAT_FILL,
    Panel,
    PanelInput,
    graphics_widget,
    info_label,
    style_plot,
    title_label,
)

THIS_LAYER = "this layer"
ALL = "all, compared"
_SAMPLES = 400
# One per function in core.activations.COMPARABLE, in its order (a test checks).
_COMPARE_COLOURS = (
    "#2f7fe0", "#e040fb", "#16a085", "#f08a24", "#e0262c", "#7f8c8d",
    "#8e44ad", "#c9a400", "#00a3c4",
)  # fmt: skip
# Compared, ReLU, LeakyReLU and ELU are one line y = x for x > 0, and LeakyReLU's
# 0.01·x is nearly ReLU's 0: a wide solid ReLU underneath and dashed, dotted
# lines drawn on top of it keep each curve visible. (pen width, style, key)
_SOLID, _DASH = QtCore.Qt.PenStyle.SolidLine, QtCore.Qt.PenStyle.DashLine
_COMPARE_LINES = (
    (7.0, _SOLID, "━━"),
    (3.0, _DASH, "╍╍"),
    (2.5, QtCore.Qt.PenStyle.DotLine, "┅┅"),
    (2.5, QtCore.Qt.PenStyle.DashDotLine, "━·"),
    (2.5, _SOLID, "━━"),
    (2.5, _SOLID, "━━"),
    (2.5, _DASH, "╍╍"),  # ReLU6 is ReLU up to 6: dashed over it
    (2.5, _SOLID, "━━"),
    (2.5, QtCore.Qt.PenStyle.DotLine, "┅┅"),
)
SAME_FOR_POSITIVE = (
    "ReLU, LeakyReLU and ELU are the same line y = x for x > 0 (ReLU drawn wide, the "
    "others dashed and dotted on top); for x < 0, LeakyReLU is 0.01·x, just below "
    "ReLU's 0, and has gradient 0.01 where ReLU's is 0."
)


class ActivationPanel(Panel):
    """f(x), f'(x) and the histogram of the real inputs, with the flat share."""

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.choice = THIS_LAYER
        self.inputs: np.ndarray | None = None
        self.layer_activation: Activation | None = None
        self.shown: list[Activation] = []
        self.shares: dict[str, float] = {}
        self._build()

    def _build(self) -> None:
        self.title = title_label()
        self.chooser = QtWidgets.QComboBox()
        self.chooser.addItems([THIS_LAYER, *COMPARABLE, *TEACHING, ALL])
        for name in TEACHING:
            index = self.chooser.findText(name)
            self.chooser.setItemData(
                index, "A comparison curve, not a layer type", QtCore.Qt.ItemDataRole.ToolTipRole
            )
        self.chooser.setToolTip("Draw another activation function on the same inputs")
        self.chooser.currentTextChanged.connect(self.set_choice)
        top = QtWidgets.QHBoxLayout()
        top.addWidget(self.title, 1)
        top.addWidget(QtWidgets.QLabel("function"))
        top.addWidget(self.chooser)
        self.share_label = info_label("", f"color: {DEAD}; font-weight: 700;", 17)
        self.widget = graphics_widget()
        self.f_plot = self.widget.addPlot(row=0, col=0)
        self.d_plot = self.widget.addPlot(row=1, col=0)
        self.h_plot = self.widget.addPlot(row=2, col=0)
        style_plot(self.f_plot, y_label="f(x)")
        style_plot(self.d_plot, y_label="f′(x) gradient")
        style_plot(self.h_plot, x_label="x: the layer's inputs", y_label="inputs")
        for plot in (self.d_plot, self.h_plot):
            plot.setXLink(self.f_plot)
        self.f_curves = [self.f_plot.plot() for _ in COMPARABLE]
        self.d_curves = [self.d_plot.plot() for _ in COMPARABLE]
        self.histogram = pg.PlotDataItem(stepMode="center", fillLevel=0)
        self.flat_histogram = pg.PlotDataItem(stepMode="center", fillLevel=0)
        self.h_plot.addItem(self.histogram)
        self.h_plot.addItem(self.flat_histogram)
        self.regions = {
            plot: [self._region(plot) for _ in range(2)]
            for plot in (self.f_plot, self.d_plot, self.h_plot)
        }
        self.comparison = info_label("", "", 12)
        self.note = info_label()
        layout = QtWidgets.QVBoxLayout(self.content)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(top)
        layout.addWidget(self.share_label)
        layout.addWidget(self.widget, 1)
        layout.addWidget(self.comparison)
        layout.addWidget(self.note)

    @staticmethod
    def _region(plot: pg.PlotItem) -> pg.LinearRegionItem:
        region = pg.LinearRegionItem(
            movable=False, brush=pg.mkBrush(*FLAT_FILL), pen=pg.mkPen(None)
        )
        region.setZValue(-10)
        region.hide()
        plot.addItem(region)
        return region

    # ----- drawing ---------------------------------------------------------

    def draw(self, data: PanelInput) -> str | None:
        info = data.info()
        kind = info.layer.type if info is not None else ""
        if kind == "Softmax":
            return (
                "Softmax is not element-wise: each output depends on all inputs. "
                "See the Prediction panel for its probabilities."
            )
        if not is_elementwise_activation(kind):
            return (
                "Select an activation layer (ReLU, LeakyReLU, ELU, GELU, Sigmoid, Tanh) "
                "to see its curve over the inputs it really gets."
            )
        inputs = data.layer_input()
        if inputs is None:
            reason = data.analysis.not_computed_reason(data.layer_index)
            return f"{data.layer_title()} was not computed: {reason}."
        self.inputs = np.asarray(inputs)
        self.layer_activation = activation_for_layer(info.layer)
        self.title.setText(
            f"{data.layer_title()} · f(x) = {self.layer_activation.formula} · "
            f"{self.inputs.size:,} inputs"
        )
        self._redraw()
        return None

    def set_choice(self, choice: str) -> None:
        self.choice = choice
        if self.chooser.currentText() != choice:
            self.chooser.setCurrentText(choice)
        if self.inputs is not None and not self.showing_hint:
            self._redraw()

    def _chosen(self) -> list[Activation]:
        if self.choice == THIS_LAYER:
            return [self.layer_activation]
        if self.choice == ALL:
            return [activation(name) for name in COMPARABLE]
        return [activation(self.choice)]

    def _redraw(self) -> None:
        assert self.inputs is not None
        x_range = input_range(self.inputs)
        xs = np.linspace(*x_range, _SAMPLES)
        self.shown = self._chosen()
        self.shares = {a.name: a.share_flat(self.inputs) for a in self.shown}
        single = len(self.shown) == 1
        for index, (f_curve, d_curve) in enumerate(zip(self.f_curves, self.d_curves, strict=True)):
            if index >= len(self.shown):
                f_curve.hide()
                d_curve.hide()
                continue
            act = self.shown[index]
            if single:
                f_pen, d_pen = pg.mkPen(CURVE, width=2.5), pg.mkPen(CURVE_2, width=2.5)
            else:
                width, style, _ = _COMPARE_LINES[index]
                f_pen = d_pen = pg.mkPen(_COMPARE_COLOURS[index], width=width, style=style)
            # "finite": step's derivative is NaN (undefined) at 0, drawn as a gap.
            f_curve.setData(xs, act.function(xs), pen=f_pen, connect="finite")
            d_curve.setData(xs, act.derivative(xs), pen=d_pen, connect="finite")
            f_curve.show()
            d_curve.show()
        self._draw_histogram(x_range)
        self._shade(x_range)
        self.f_plot.setXRange(*x_range, padding=0)
        self._write_shares()

    def _draw_histogram(self, x_range) -> None:
        counts, edges = histogram(self.inputs, x_range)
        self.histogram.setData(
            edges, counts, pen=pg.mkPen(CURVE, width=1), brush=pg.mkBrush(47, 127, 224, 90)
        )
        if len(self.shown) == 1:
            centres = (edges[:-1] + edges[1:]) / 2
            flat = np.where(self.shown[0].region.contains(centres), counts, 0)
            self.flat_histogram.setData(
                edges, flat, pen=pg.mkPen(DEAD, width=1), brush=pg.mkBrush(224, 38, 44, 150)
            )
            self.flat_histogram.show()
        else:
            self.flat_histogram.hide()

    def _shade(self, x_range) -> None:
        """Shade the flat region of the single function shown (clipped to the view)."""
        intervals = self.shown[0].region.intervals if len(self.shown) == 1 else ()
        low, high = x_range
        for regions in self.regions.values():
            for slot, region in enumerate(regions):
                if slot < len(intervals):
                    a, b = intervals[slot]
                    a, b = max(a, low), min(b, high)
                    if a < b:
                        region.setRegion((a, b))
                        region.show()
                        continue
                region.hide()

    def _write_shares(self) -> None:
        count = f"{self.inputs.size:,}"
        if len(self.shown) == 1:
            act = self.shown[0]
            share = self.shares[act.name]
            self.share_label.setStyleSheet(f"color: {DEAD}; font-weight: 700; font-size: 17px;")
            self.share_label.setText(share_sentence(act, share, self.inputs.size))
            self.comparison.setText("")
            self.note.setText(f"{act.lesson}\n\n{FLAT_NOTE}" if act.lesson else FLAT_NOTE)
            return
        self.share_label.setStyleSheet("font-weight: 700; font-size: 15px;")
        self.share_label.setText(f"The same {count} inputs through every activation")
        # This table is the key to the curves' colours (a legend would cover them).
        rows = "".join(
            f"<tr><td style='color:{_COMPARE_COLOURS[i]}'>{_COMPARE_LINES[i][2]}</td>"
            f"<td>{a.name}</td>"
            f"<td align='right'><b>{self.shares[a.name]:.1%}</b></td>"
            f"<td>{a.region.label}</td><td>{html.escape(a.region.description)}</td></tr>"
            for i, a in enumerate(self.shown)
        )
        self.comparison.setText(f"<table cellspacing='0' cellpadding='2'>{rows}</table>")
        self.note.setText(SAME_FOR_POSITIVE + " Pick one function to see its flat region shaded.")


def main(argv=None) -> int:
    from cnnviz.qt.panels._samples import run_standalone

    return run_standalone(ActivationPanel, default_layer=1, argv=argv, size=(900, 760))


if __name__ == "__main__":
    raise SystemExit(main())
