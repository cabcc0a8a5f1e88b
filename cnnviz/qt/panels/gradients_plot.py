"""One side of the Gradients panel: per layer, ||dL/d activation|| and ||dL/dW|| as bars.

The y axis is log10 of the norm (ticks read 10⁻⁸ … 10⁰), the bars stand on a
common floor below the smallest value, so each bar's top is its log10 and a
longer bar is a larger gradient. The x axis is depth, one slot per layer
entry (labelled by its address); hovering names the layer and its values.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore

from cnnviz.core.explain_jobs import GradientNorms
from cnnviz.qt.panels.base import CURVE, CURVE_2, format_value, style_plot

ACTIVATION_COLOUR = CURVE
WEIGHT_COLOUR = CURVE_2
BAR_WIDTH = 0.4
SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")
TINY = 1e-30  # a zero gradient is drawn at this floor, not at log10(0)


def log10_values(values) -> np.ndarray:
    """log10 of the norms (NaN where there is none); zeros clamp to log10(TINY)."""
    out = np.full(len(values), np.nan)
    for i, value in enumerate(values):
        if value is not None:
            out[i] = math.log10(max(float(value), TINY))
    return out


class PowerAxis(pg.AxisItem):
    """Ticks at whole powers of ten, written 10⁻⁸."""

    def tickValues(self, minVal, maxVal, size):
        low, high = math.floor(minVal), math.ceil(maxVal)
        step = max(1, math.ceil((high - low) / 8))
        return [(step, [float(v) for v in range(low, high + 1, step)])]

    def tickStrings(self, values, scale, spacing):
        return [f"10{str(round(v)).translate(SUPERSCRIPT)}" for v in values]


class GradientBars:
    """The bars of one configuration in `plot` (created once, then updated)."""

    def __init__(self, plot: pg.PlotItem, legend: bool = True) -> None:
        self.plot = plot
        style_plot(plot, y_label="gradient norm")
        plot.setMouseEnabled(x=False, y=False)
        plot.getAxis("bottom").setStyle(autoExpandTextSpace=True)
        self.activation = pg.BarGraphItem(
            x=[], height=[], width=BAR_WIDTH, brush=ACTIVATION_COLOUR, pen=None
        )
        self.weight = pg.BarGraphItem(
            x=[], height=[], width=BAR_WIDTH, brush=WEIGHT_COLOUR, pen=None
        )
        plot.addItem(self.activation)
        plot.addItem(self.weight)
        if legend:  # once, top left: where vanishing gradients leave room
            key = plot.addLegend(offset=(8, 8), labelTextSize="9pt")
            key.addItem(self.activation, "‖∂L/∂activation‖")
            key.addItem(self.weight, "‖∂L/∂W‖")
        self.norms: GradientNorms | None = None
        self.types: tuple[str, ...] = ()
        self.floor = 0.0

    def show(self, norms: GradientNorms, types: tuple[str, ...], floor: float) -> None:
        """Draw `norms` (per entry; `types` name the layers) from the common `floor`."""
        self.norms, self.types, self.floor = norms, types, floor
        count = len(norms.addresses)
        x = np.arange(count, dtype=float)
        acts = log10_values(norms.activation_grad)
        weights = log10_values(norms.weight_grad)
        has_weight = ~np.isnan(weights)
        self.activation.setOpts(x=x - BAR_WIDTH / 2, y0=floor, height=acts - floor, width=BAR_WIDTH)
        self.weight.setOpts(
            x=x[has_weight] + BAR_WIDTH / 2,
            y0=floor,
            height=weights[has_weight] - floor,
            width=BAR_WIDTH,
        )
        self.plot.getAxis("bottom").setTicks(depth_ticks(norms.addresses))
        self.plot.setXRange(-0.7, count - 0.3, padding=0)

    def clear(self) -> None:
        self.norms = None
        self.activation.setOpts(x=[], height=[])
        self.weight.setOpts(x=[], height=[])

    def tops(self) -> tuple[np.ndarray, np.ndarray]:
        """The bars' tops as drawn: (activation bars, weight bars), in data units."""
        out = []
        for item in (self.activation, self.weight):
            y0 = np.asarray(item.opts.get("y0"), dtype=float)
            out.append(y0 + np.asarray(item.opts["height"], dtype=float))
        return out[0], out[1]

    def describe(self, index: int) -> str:
        """Hover text for entry `index`."""
        norms = self.norms
        if norms is None or not 0 <= index < len(norms.addresses):
            return ""
        kind = self.types[index] if index < len(self.types) else ""
        text = (
            f"layer {norms.addresses[index]} · {kind}\n"
            f"‖∂L/∂activation‖ = {format_value(norms.activation_grad[index])}"
        )
        weight = norms.weight_grad[index]
        if weight is not None:
            text += f"\n‖∂L/∂W‖ = {format_value(weight)}"
        return text

    def hover(self, scene_pos: QtCore.QPointF) -> None:
        view = self.plot.getViewBox()
        if self.norms is None or not view.sceneBoundingRect().contains(scene_pos):
            return
        point = view.mapSceneToView(scene_pos)
        text = self.describe(round(point.x()))
        view.setToolTip(text)


def depth_ticks(addresses) -> list[list[tuple[float, str]]]:
    """Labelled ticks for the top-level entries (a block's inner layers, "3.body.0", get
    an unlabelled tick: their long addresses would overlap), at most about 12 labels."""
    top = [i for i, a in enumerate(addresses) if "." not in a]
    step = max(1, math.ceil(len(top) / 12))
    labelled = top[::step]
    major = [(float(i), addresses[i]) for i in labelled]
    minor = [(float(i), "") for i in range(len(addresses)) if i not in set(labelled)]
    return [major, minor]


def floor_for(*norms: GradientNorms | None) -> float:
    """The common floor of the bars of both sides: half a decade below the smallest norm."""
    values = []
    for n in norms:
        if n is not None:
            values += [v for v in (*n.activation_grad, *n.weight_grad) if v is not None]
    if not values:
        return -1.0
    logs = log10_values(values)
    return float(math.floor(np.nanmin(logs)) - 0.5)


def summary(norms: GradientNorms) -> str:
    """What the lesson is about, in numbers: first vs last weight layer, and the loss."""
    weights = [(a, w) for a, w in zip(norms.addresses, norms.weight_grad, strict=True) if w]
    text = f"loss {norms.loss:.3g}"
    if len(weights) >= 2:
        (first_address, first), (last_address, last) = weights[0], weights[-1]
        ratio = first / last
        text += (
            f" · ‖∂L/∂W‖ of the first weight layer ({first_address}) is "
            f"{format_value(ratio)} × the last's ({last_address})"
        )
        if ratio > 0:
            text += f": {abs(math.log10(ratio)):.1f} orders of magnitude"
            text += " smaller" if ratio < 1 else " larger"
    acts = norms.activation_grad
    if len(acts) >= 2 and acts[-1] > 0:
        share = format_value(acts[0] / acts[-1])
        text += f"; ‖∂L/∂activation‖ of the first layer is {share} × the output's"
    return text
