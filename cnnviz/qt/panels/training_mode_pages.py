"""The two pages of the training-mode panel: a dropout mask, batch-norm histograms.

Each page draws one channel of one layer from arrays and the numbers that
cnnviz.core.train_mode_view measured on them; the panel (training_mode.py)
picks the page and the channel.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6 import QtWidgets

from cnnviz.core.mosaic import layer_levels
from cnnviz.core.train_mode_view import (
    DROPPED,
    KEPT,
    BatchNormView,
    DropoutView,
    dropout_mask,
)
from cnnviz.qt.panels.base import (
    ACCENT,
    CURVE,
    CURVE_2,
    float_c,
    format_value,
    graphics_widget,
    info_label,
    picture_row,
    set_picture,
    style_plot,
)
from cnnviz.qt.style import colormaps

# Kept white, dropped black (the mask multiplies by 1 or 0); a zero input grey.
_MASK_COLOURS = {KEPT: (255, 255, 255), DROPPED: (0, 0, 0)}
_UNKNOWN_GREY = (128, 128, 128)
_BINS = 40

INVERTED_DROPOUT = (
    "Inverted dropout: torch scales the kept values by 1/(1−p) while training, so "
    "evaluation needs nothing. The original paper instead kept values as they were and "
    "scaled by p at evaluation (its p is the keep probability, 1−p in torch's terms). "
    "Both give the same expected value: here (1−p)·x/(1−p) = x in training and x at "
    "evaluation; there (1−p)·x both ways."
)


def as_grid(values: np.ndarray) -> np.ndarray:
    """A (H, W) picture of one channel; a vector wrapped into rows (padded with NaN)."""
    if values.ndim == 2:
        return values
    flat = values.reshape(-1).astype(np.float32)
    side = max(1, math.ceil(math.sqrt(flat.size)))
    rows = math.ceil(flat.size / side)
    grid = np.full(rows * side, np.nan, np.float32)
    grid[: flat.size] = flat
    return grid.reshape(rows, side)


def mask_picture(mask: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8: kept white, dropped black, undecidable grey."""
    picture = np.empty((*mask.shape, 3), np.uint8)
    picture[...] = _UNKNOWN_GREY
    for value, colour in _MASK_COLOURS.items():
        picture[mask == value] = colour
    return picture


def percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f} %" if whole else "–"


class DropoutPage(QtWidgets.QWidget):
    """Input channel, the mask torch drew for it, and the output; the numbers below."""

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.canvas = graphics_widget()
        self.views, self.items, self.captions = picture_row(
            self.canvas, ("input", "mask", "output")
        )
        for item in (self.items[0], self.items[2]):  # the mask is drawn in RGB
            item.setLookupTable(colormaps.lookup_table(colormaps.DEFAULT))
        self.kept_line = info_label("", f"color: {ACCENT}; font-weight: 600;", 13)
        self.scale_line = info_label("", "", 13)
        self.lesson = info_label(INVERTED_DROPOUT)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.canvas, 1)
        for label in (self.kept_line, self.scale_line, self.lesson):
            layout.addWidget(label)

    def draw(self, x: np.ndarray, y: np.ndarray, channel: int, layer: DropoutView,
             shown: DropoutView) -> None:  # fmt: skip
        """`layer`: measured on the whole layer; `shown`: on the shown channel."""
        x_map, y_map = as_grid(x[channel]), as_grid(y[channel])
        levels = layer_levels(np.stack([x_map, y_map]))
        for item, view, picture in ((self.items[0], self.views[0], x_map),
                                    (self.items[2], self.views[2], y_map)):  # fmt: skip
            set_picture(view, item, float_c(picture), autoLevels=False, levels=levels)
        mask = dropout_mask(x_map, y_map)
        mask[np.isnan(x_map)] = KEPT + 1  # padding of a wrapped vector: grey, not a value
        set_picture(self.views[1], self.items[1], mask_picture(mask), autoLevels=False,
                    levels=(0, 255))  # fmt: skip
        self.kept_line.setText(self._kept_text(layer, shown, channel))
        self.scale_line.setText(self._scale_text(layer))

    @staticmethod
    def _kept_text(layer: DropoutView, shown: DropoutView, channel: int) -> str:
        total = layer.kept + layer.dropped + layer.unknown
        if layer.identity and layer.p == 0:
            return f"p = 0 drops nothing: output = input over {total:,} values."
        if layer.identity:
            return (
                f"Identity at evaluation: output = input (max |output − input| = "
                f"{format_value(layer.max_difference)} over {total:,} values). "
                "Training behaviour (Ctrl+T) draws a mask."
            )
        decided = shown.kept + shown.dropped
        text = (
            "Mask: white kept, black dropped. "
            f"Channel {channel}: kept {shown.kept:,} of {decided:,} "
            f"({percent(shown.kept, decided)})"
            f"; whole layer {percent(layer.kept, layer.kept + layer.dropped)} kept, "
            f"against 1 − p = {100 * (1 - layer.p):.1f} %."
        )
        if layer.unknown:
            text += (
                f" {layer.unknown:,} inputs were 0 (grey): zero either way, "
                "so left out of the fractions."
            )
        return text

    @staticmethod
    def _scale_text(layer: DropoutView) -> str:
        if layer.identity:
            return f"p = {layer.p:g} acts only in training; at evaluation dropout does nothing."
        if layer.kept == 0:
            return f"p = {layer.p:g}: nothing kept, so there is no scale to measure."
        verdict = "as torch promises" if layer.scale_matches else "NOT 1/(1−p)"
        return (
            f"Kept values: output ÷ input = {layer.scale:.6g} on all {layer.kept:,} of them "
            f"(1/(1−p) = 1/{1 - layer.p:g} = {layer.expected_scale:.6g}; largest deviation "
            f"{format_value(layer.scale_spread)}, float32 rounding) — {verdict}."
        )


class BatchNormPage(QtWidgets.QWidget):
    """Histograms of the channel before and after, the statistics and the formula."""

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.canvas = graphics_widget()
        self.before = self.canvas.addPlot(row=0, col=0, title="input x: μ, μ ± √(σ²+ε)")
        self.after = self.canvas.addPlot(row=0, col=1, title="output y: β, β ± γ")
        style_plot(self.before, "value", "count")
        style_plot(self.after, "value", "count")
        self.before_bars = pg.PlotDataItem(stepMode="center", fillLevel=0, brush=CURVE,
                                           pen=CURVE)  # fmt: skip
        self.after_bars = pg.PlotDataItem(stepMode="center", fillLevel=0, brush=CURVE_2,
                                          pen=CURVE_2)  # fmt: skip
        self.before.addItem(self.before_bars)
        self.after.addItem(self.after_bars)
        pen = pg.mkPen(ACCENT, width=2)
        dashed = pg.mkPen(ACCENT, width=1, style=pg.QtCore.Qt.PenStyle.DashLine)
        self.mu_line = pg.InfiniteLine(angle=90, pen=pen, label="μ", labelOpts={"color": ACCENT})
        self.beta_line = pg.InfiniteLine(angle=90, pen=pen, label="β", labelOpts={"color": ACCENT})
        self.sigma_lines = [pg.InfiniteLine(angle=90, pen=dashed) for _ in range(2)]
        self.gamma_lines = [pg.InfiniteLine(angle=90, pen=dashed) for _ in range(2)]
        for plot, lines in ((self.before, [self.mu_line, *self.sigma_lines]),
                            (self.after, [self.beta_line, *self.gamma_lines])):  # fmt: skip
            for line in lines:
                plot.addItem(line, ignoreBounds=True)
        self.stats_line = info_label("", f"color: {ACCENT}; font-weight: 600;", 13)
        self.formula_line = info_label("", "", 13)
        self.running_line = info_label()
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.canvas, 1)
        for label in (self.stats_line, self.formula_line, self.running_line):
            layout.addWidget(label)

    def _histograms(self, x: np.ndarray, y: np.ndarray, c: int) -> None:
        for bars, values in ((self.before_bars, x[c]), (self.after_bars, y[c])):
            counts, edges = np.histogram(np.asarray(values, np.float64).ravel(), bins=_BINS)
            bars.setData(edges, counts)

    def _show_lines(self, visible: bool) -> None:
        for line in (self.mu_line, self.beta_line, *self.sigma_lines, *self.gamma_lines):
            line.setVisible(visible)

    def draw_waiting(self, x: np.ndarray, y: np.ndarray, channel: int, text: str) -> None:
        """The histograms alone, while γ, β and the running statistics are on their way."""
        self._histograms(x, y, channel)
        self._show_lines(False)
        self.stats_line.setText(text)
        self.formula_line.setText("")
        self.running_line.setText("")

    def draw(self, x: np.ndarray, y: np.ndarray, view: BatchNormView, shape) -> None:
        c = view.channel
        self._histograms(x, y, c)
        self._show_lines(True)
        sigma = math.sqrt(view.var + view.eps)
        self.mu_line.setValue(view.mean)
        for line, sign in zip(self.sigma_lines, (-1, 1), strict=True):
            line.setValue(view.mean + sign * sigma)
        # y = β ± γ where x = μ ± √(σ²+ε): the formula maps one picture onto the other.
        self.beta_line.setValue(view.beta)
        for line, sign in zip(self.gamma_lines, (-1, 1), strict=True):
            line.setValue(view.beta + sign * view.gamma)
        self.stats_line.setText(self._stats_text(view, shape))
        self.formula_line.setText(self._formula_text(view))
        self.running_line.setText(self._running_text(view))

    @staticmethod
    def _stats_text(view: BatchNormView, shape) -> str:
        f = format_value
        if view.used == "batch":
            where = (
                f"this batch's statistics (training): with one image the “batch” is the "
                f"{shape[1]}×{shape[2]} = {view.count:,} positions of channel {view.channel}"
            )
        else:
            where = f"the running statistics (evaluation), channel {view.channel}"
        return (
            f"Normalised with {where}: μ = {f(view.mean)}, σ² = {f(view.var)} "
            f"(σ = {f(math.sqrt(view.var))}); γ = {f(view.gamma)}, β = {f(view.beta)}, "
            f"ε = {view.eps:g}."
        )

    @staticmethod
    def _formula_text(view: BatchNormView) -> str:
        f = format_value
        sign = "−" if view.beta < 0 else "+"
        mean = f"x − {f(view.mean)}" if view.mean >= 0 else f"x + {f(-view.mean)}"
        return (
            f"y = γ·(x − μ)/√(σ² + ε) + β = {f(view.gamma)}·({mean})/√({f(view.var)} + "
            f"{view.eps:g}) {sign} {f(abs(view.beta))}; largest |formula − torch's output| = "
            f"{f(view.max_error)}."
        )

    @staticmethod
    def _running_text(view: BatchNormView) -> str:
        f = format_value
        if view.running_mean is None:
            return "No running statistics (track_running_stats off): batch statistics always."
        own = ""
        if view.used == "running":
            own = (
                f"This image's own statistics would be μ = {f(view.batch_mean)}, σ² = "
                f"{f(view.batch_var)}; evaluation ignores them. "
            )
        m = view.momentum
        return (
            f"{own}Running mean {f(view.running_mean)}, running var {f(view.running_var)}, "
            f"momentum {m:g}. A training step on this batch would move them to "
            f"(1−{m:g})·{f(view.running_mean)} + {m:g}·{f(view.batch_mean)} = "
            f"{f(view.next_running_mean)} and {f(view.next_running_var)} (with the unbiased "
            f"σ² = {f(view.batch_var_unbiased)}). cnnviz puts the running statistics back "
            "after every forward, so looking in training mode never changes your network."
        )
