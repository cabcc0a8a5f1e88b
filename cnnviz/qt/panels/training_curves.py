"""The Training panel's loss and accuracy plots, with one legend above both.

The legend has a row of its own above the plots, so it never covers a curve
(anchored inside a plot it sat on the loss curve's start). Both plots use the
same two pens, so one legend names the curves of both.

The loss plot can be read on a log scale (``log_check``): a validation loss
rising from 0.5 to 0.65 while the training loss falls to 0.0006 looks flat on
a linear axis from 0. pyqtgraph draws log10 of the stored (linear) points and
leaves a gap where a loss is 0 or below (log10 gives NaN there, no error); the
axis range is set in log10 units then, from the lowest positive loss.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from cnnviz.core.jobs import TrainProgress
from cnnviz.qt.panels.base import CURVE, CURVE_2, style_plot

TRAINING = "training"
TRAINING_AUGMENTED = "training (on augmented images)"
VALIDATION = "validation (plain images, end of each epoch)"
AUGMENTED_NOTE = (
    "Training accuracy is measured on augmented images (randomly varied copies) "
    "while the weights still change, so it runs below validation accuracy, "
    "which is measured on plain held-back images at each epoch's end."
)


class TrainingCurves:
    """Loss and accuracy plots with a training and a validation curve each."""

    def __init__(self, canvas: pg.GraphicsLayoutWidget) -> None:
        self.legend = pg.LegendItem(offset=None, labelTextSize="8pt", colCount=2)
        canvas.addItem(self.legend, row=0, col=0, colspan=2)
        self.loss = canvas.addPlot(row=1, col=0)
        self.accuracy = canvas.addPlot(row=1, col=1)
        style_plot(self.loss, "epoch", "loss")
        style_plot(self.accuracy, "epoch", "accuracy (%)")
        self.accuracy.setYRange(0, 100, padding=0.02)
        for plot in (self.loss, self.accuracy):
            plot.enableAutoRange(axis="y", enable=False)  # see fit_loss
        for plot in (self.loss, self.accuracy):
            plot.showGrid(x=False, y=False)
            plot.setMouseEnabled(x=False, y=False)
        train_pen, val_pen = pg.mkPen(CURVE, width=2), pg.mkPen(CURVE_2, width=2)
        val_symbol = {"symbol": "o", "symbolSize": 6, "symbolBrush": CURVE_2, "symbolPen": None}
        self.train_loss = self.loss.plot(pen=train_pen)
        self.val_loss = self.loss.plot(pen=val_pen, **val_symbol)
        self.train_acc = self.accuracy.plot(pen=train_pen)
        self.val_acc = self.accuracy.plot(pen=val_pen, **val_symbol)
        self.legend.addItem(self.train_loss, TRAINING)
        self.legend.addItem(self.val_loss, VALIDATION)
        self.log_check = QtWidgets.QCheckBox("Log scale (loss)")
        self.log_check.setToolTip(
            "Show the loss on a logarithmic axis: a small rise of the validation loss "
            "stays visible beside a training loss near 0"
        )
        self.log_check.toggled.connect(self.set_log_loss)
        # The epoch whose weights the run kept, after it ends (dashed, on both plots).
        kept_pen = pg.mkPen(CURVE_2, width=1, style=QtCore.Qt.PenStyle.DashLine)
        self.kept = [pg.InfiniteLine(angle=90, pen=kept_pen) for _ in range(2)]
        for plot, line in zip((self.loss, self.accuracy), self.kept, strict=True):
            plot.addItem(line, ignoreBounds=True)
        self.clear()

    def legend_texts(self) -> list[str]:
        return [label.text for _sample, label in self.legend.items]

    def name_training(self, augmented: bool) -> None:
        """Say when the training curve is measured on varied copies: then it usually
        runs below validation, which sees the images as they are."""
        label = self.legend.getLabel(self.train_loss)
        if label is not None:
            label.setText(TRAINING_AUGMENTED if augmented else TRAINING)
        self.legend.updateSize()

    def set_epochs(self, epochs: int) -> None:
        """The x axis spans the whole run from the start: the curves grow into it,
        and the axis is not laid out again with every report."""
        for plot in (self.loss, self.accuracy):
            plot.enableAutoRange(axis="x", enable=False)
            plot.setXRange(0, max(1, epochs), padding=0.02)

    def forget_run(self) -> None:
        """Back to the look before any run: no curves, axes not fitted to an old run."""
        self.clear()
        self.name_training(False)
        for plot in (self.loss, self.accuracy):
            plot.setXRange(0, 1, padding=0.02)
        self._set_loss_range()

    def clear(self) -> None:
        self.loss_top: float | None = None  # the loss axis's top (see fit_loss)
        self.loss_bottom: float | None = None  # its bottom on a log scale (fit_loss_bottom)
        self.series = {item: Series() for item in self.items()}
        self.mark_kept(0)
        self.drawn = 0  # setData calls on the curve items (each redraws its plot)
        for item in self.items():
            item.setData([], [])

    def mark_kept(self, epoch: int) -> None:
        """A dashed line at the epoch whose weights were kept (0: none)."""
        for line in self.kept:
            line.setValue(epoch)
            line.setVisible(epoch > 0)

    def items(self) -> tuple[pg.PlotDataItem, ...]:
        return (self.train_loss, self.val_loss, self.train_acc, self.val_acc)

    def add(self, progress: TrainProgress, draw: bool = True) -> None:
        """Keep the report's points; with `draw`, hand the curves that grew their
        points (a hidden panel keeps them for `redraw` when shown)."""
        x = progress.epoch - 1 + progress.step / max(1, progress.steps)
        grown = [self.train_loss, self.train_acc]
        self.series[self.train_loss].append(x, progress.train_loss)
        self.series[self.train_acc].append(x, 100 * progress.train_accuracy)
        if progress.val_accuracy is not None and progress.val_loss is not None:
            self.series[self.val_loss].append(progress.epoch, progress.val_loss)
            self.series[self.val_acc].append(progress.epoch, 100 * progress.val_accuracy)
            grown += [self.val_loss, self.val_acc]
        self.fit_loss(progress.train_loss if progress.val_loss is None else
                      max(progress.train_loss, progress.val_loss))  # fmt: skip
        self.fit_loss_bottom(progress.train_loss if progress.val_loss is None else
                             min(progress.train_loss, progress.val_loss))  # fmt: skip
        if draw:
            for item in grown:
                self._draw(item)

    def redraw(self) -> None:
        """Hand every curve its points (after reports kept while hidden)."""
        for item in self.items():
            if self.series[item].count:
                self._draw(item)

    def fit_loss(self, loss: float) -> None:
        """The loss axis runs from 0 to a round number above the highest loss so far,
        and moves only when a loss passes it. Fitted to the data at every report,
        it changed with each new point, and both of its axes were laid out and
        drawn again: the longest step of the GUI thread while a network trains."""
        if not np.isfinite(loss) or (self.loss_top is not None and loss <= self.loss_top):
            return
        self.loss_top = nice_ceiling(loss * 1.05)
        self._set_loss_range()

    def fit_loss_bottom(self, loss: float) -> None:
        """On a log scale the axis starts at the power of ten below the lowest
        positive loss, and moves only when a loss falls below it (once a decade).
        A loss of 0 or below has no logarithm: it is kept but not fitted."""
        if not np.isfinite(loss) or loss <= 0:
            return
        if self.loss_bottom is not None and loss >= self.loss_bottom:
            return
        self.loss_bottom = float(10.0 ** np.floor(np.log10(loss / 1.05)))
        if self.log_check.isChecked():
            self._set_loss_range()

    def set_log_loss(self, on: bool) -> None:
        """The loss plot on a log10 axis or back on a linear one from 0; the points
        stored (and handed to the curves) stay the same linear losses."""
        self.log_check.setChecked(on)  # no-op when it called us
        self.loss.setLogMode(y=on)
        self._set_loss_range()

    def _set_loss_range(self) -> None:
        """pyqtgraph takes a log axis's range in log10 units."""
        top = 1.0 if self.loss_top is None else self.loss_top
        if not self.log_check.isChecked():
            self.loss.setYRange(0, top, padding=0.02)
            return
        bottom = min(top / 10, 0.01 if self.loss_bottom is None else self.loss_bottom)
        self.loss.setYRange(np.log10(bottom), np.log10(top), padding=0.02)

    def _draw(self, item: pg.PlotDataItem) -> None:
        xs, ys = self.series[item].arrays()
        item.setData(xs, ys)
        self.drawn += 1


class Series:
    """A curve's points in preallocated arrays that double when full: a report
    appends one point, it does not rebuild the arrays from a list of pairs."""

    def __init__(self, capacity: int = 256) -> None:
        self.xs = np.empty(capacity, np.float64)
        self.ys = np.empty(capacity, np.float64)
        self.count = 0

    def append(self, x: float, y: float) -> None:
        if self.count == self.xs.size:
            # New arrays: the curve keeps views of the old ones until redrawn.
            self.xs = np.concatenate([self.xs, np.empty_like(self.xs)])
            self.ys = np.concatenate([self.ys, np.empty_like(self.ys)])
        self.xs[self.count], self.ys[self.count] = x, y
        self.count += 1

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """The points so far (views: a point once written never changes)."""
        return self.xs[: self.count], self.ys[: self.count]


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 × a power of ten that is at least `value` (> 0)."""
    if value <= 0:
        return 1.0
    power = 10.0 ** np.floor(np.log10(value))
    return float(next(power * m for m in (1, 2, 2.5, 5, 10) if power * m >= value * (1 - 1e-9)))
