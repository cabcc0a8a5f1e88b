"""A made-up training run for the Training panel on its own (no torch, no data).

``python -m cnnviz.qt.panels.training`` opens the panel; Train plays a run
whose loss falls, whose accuracy rises and whose six 5×5 filters turn from
noise into edge and stroke detectors; Cancel stops it keeping the "best".
The numbers are invented, only their shapes are realistic.
"""

from __future__ import annotations

import argparse
import logging
import math
import sys

import numpy as np
from PySide6 import QtCore, QtWidgets

from cnnviz.core.class_metrics import TestMetrics
from cnnviz.core.jobs import TrainConfig, TrainProgress, TrainResult

STEPS_PER_EPOCH = 40
STEPS_PER_TICK = 4
TICK_MS = 60


def _edge_filters(size: int = 5) -> np.ndarray:
    """Six oriented edge/stroke kernels (6, 1, size, size), each scaled to ±1."""
    y, x = np.mgrid[-1 : 1 : size * 1j, -1 : 1 : size * 1j]
    out = []
    for angle in np.linspace(0, math.pi, 6, endpoint=False):
        along = x * math.cos(angle) + y * math.sin(angle)
        kernel = np.sin(2.2 * along) * np.exp(-(x**2 + y**2) / 1.5)
        out.append(kernel / np.abs(kernel).max())
    return np.asarray(out, dtype=np.float32)[:, None]


class FakeRun(QtCore.QObject):
    """Emits TrainProgress on a timer, then a TrainResult, like the compute thread."""

    progress = QtCore.Signal(object)
    finished = QtCore.Signal(object)

    def __init__(self, config: TrainConfig, parent: QtCore.QObject | None = None) -> None:
        super().__init__(parent)
        self.config = config
        rng = np.random.default_rng(config.seed)
        self.start_filters = rng.normal(0, 0.5, (6, 1, 5, 5)).astype(np.float32)
        self.end_filters = _edge_filters()
        self.noise = rng
        self.step = 0
        self.best = 0.0
        self.timer = QtCore.QTimer(self)
        self.timer.timeout.connect(self._tick)

    def start(self) -> None:
        self.timer.start(TICK_MS)

    def cancel(self) -> None:
        self.timer.stop()
        self.finished.emit(self._result(cancelled=True))

    def _tick(self) -> None:
        total = self.config.epochs * STEPS_PER_EPOCH
        self.step = min(total, self.step + STEPS_PER_TICK)
        epoch, in_epoch = divmod(self.step - 1, STEPS_PER_EPOCH)
        t = self.step / total
        wobble = self.noise.standard_normal(2)
        loss = 2.3 * math.exp(-5 * t) + 0.08 + 0.03 * float(wobble[0])
        accuracy = min(0.99, 1 - 0.9 * math.exp(-6 * t) + 0.01 * float(wobble[1]))
        val = None
        if in_epoch + 1 == STEPS_PER_EPOCH:
            val = (loss * 0.8, min(1.0, accuracy + 0.03))
            self.best = max(self.best, val[1])
        blend = 1 - math.exp(-4 * t)
        weight = (1 - blend) * self.start_filters + blend * self.end_filters
        self.progress.emit(
            TrainProgress(
                0,
                epoch + 1,
                self.config.epochs,
                in_epoch + 1,
                STEPS_PER_EPOCH,
                loss,
                accuracy,
                *(val or (None, None)),
                {0: (weight, np.zeros(6, np.float32))},
            )
        )
        if self.step >= total:
            self.timer.stop()
            self.finished.emit(self._result(cancelled=False))

    def _result(self, cancelled: bool) -> TrainResult:
        epochs = self.step // STEPS_PER_EPOCH
        metrics = None if cancelled else made_up_metrics(self.best)
        test = None if metrics is None else metrics.accuracy
        seconds = self.step * TICK_MS / 4000
        return TrainResult(
            0, {}, self.best, test, epochs, cancelled, seconds, epochs, None, metrics
        )


def made_up_metrics(accuracy: float, per_class: int = 36) -> TestMetrics:
    """A 10-digit confusion matrix with about `accuracy` on its diagonal, the
    mistakes spread over a few neighbouring classes."""
    rng = np.random.default_rng(1)
    confusion = np.zeros((10, 10), np.int64)
    for true in range(10):
        wrong = rng.binomial(per_class, 1 - accuracy)
        confusion[true, true] = per_class - wrong
        np.add.at(confusion[true], (true + rng.integers(1, 4, wrong)) % 10, 1)
    return TestMetrics(confusion, tuple(str(d) for d in range(10)))


def run_demo(argv=None) -> int:
    parser = argparse.ArgumentParser(description="The Training panel with a made-up run.")
    parser.add_argument("--screenshot", metavar="PNG", help="save a picture mid-run and exit")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    from cnnviz.qt.panels._samples import _follow_colour_scheme
    from cnnviz.qt.panels.training import TrainingPanel

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(sys.argv[:1])
    _follow_colour_scheme(app)
    panel = TrainingPanel()
    runs: list[FakeRun] = []

    def train(config: TrainConfig) -> None:
        run = FakeRun(config, panel)
        run.progress.connect(panel.on_progress)
        run.finished.connect(panel.on_finished)
        runs.append(run)
        run.start()

    panel.train_requested.connect(train)
    panel.cancel_requested.connect(lambda: runs and runs[-1].cancel())
    panel.resize(1000, 520)
    panel.setWindowTitle("cnnviz · Training (made-up run)")
    panel.show()
    if args.screenshot:
        panel.train_button.click()
        QtCore.QTimer.singleShot(
            int(TICK_MS * STEPS_PER_EPOCH * 4.5 / STEPS_PER_TICK),
            lambda: (panel.grab().save(args.screenshot), app.quit()),
        )
    return app.exec()
