"""Training: train the current stack and watch its loss, accuracy and first filters.

The form collects a TrainConfig; Train emits ``train_requested(TrainConfig)``
and the main window hands it to the compute thread, whose progress comes back
through ``on_progress(TrainProgress)`` and ends in ``on_finished(TrainResult)``
or ``on_failed(message)``. Cancel emits ``cancel_requested()``: training stops
after the current batch and keeps the best weights so far.

The curves: training loss and accuracy are running means over the current
epoch (on the augmented images, so usually below validation, and the panel
says so); validation points come at each epoch's end. The grid shows the
first conv layer's filters as they learn, each on a blue–white–red scale
centred on zero. After a finished run a "Test results" tab beside the filters
shows the kept weights' confusion matrix on the test set and each class's
precision, recall and F1 (training_metrics.py); a dashed line on the curves
marks the epoch whose weights were kept, and the status says when early
stopping ended the run. A lab may put a few lines of guidance above the
curves (``set_guide``).

"Log scale (loss)" (``curves.log_check``) puts the loss plot on a log axis;
the window keeps the choice in its settings.

A run starts from the document's weights file when there is one (the
controller sends it), else from fresh weights drawn by the chosen
initialisation, even after an earlier run: the form says which
(``set_start``). A new document (``reset``) clears the last network's run.

Standalone with a made-up run: ``python -m cnnviz.qt.panels.training``.
"""

from __future__ import annotations

import time
from pathlib import Path

import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from cnnviz.core.jobs import TrainConfig, TrainProgress, TrainResult
from cnnviz.qt.panels.base import (
    DEAD,
    graphics_widget,
    info_label,
    title_label,
)
from cnnviz.qt.panels.training_curves import AUGMENTED_NOTE, TrainingCurves
from cnnviz.qt.panels.training_filters import FilterGrid
from cnnviz.qt.panels.training_form import TrainingForm
from cnnviz.qt.panels.training_metrics import TestMetricsView
from cnnviz.qt.style.quiet import QuietBox

pg.setConfigOptions(imageAxisOrder="row-major")

PROGRESS_STEPS = 1000
# The filters change slowly: drawn at each epoch's end and at most this often
# between (each drawing of the scaled mosaic costs the GUI thread a few ms).
FILTER_INTERVAL_S = 1.0
NOT_TRAINED = "Not trained yet."
FILTERS_HINT = "First-layer filters appear here as they learn."


def format_duration(seconds: float) -> str:
    """0:07, 2:05, 1:02:03."""
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def fraction_done(progress: TrainProgress) -> float:
    """Share of all batches of the run that are done."""
    total = max(1, progress.epochs * progress.steps)
    return min(1.0, ((progress.epoch - 1) * progress.steps + progress.step) / total)


class TrainingPanel(QtWidgets.QWidget):
    """The Train view: settings, Train/Cancel, progress with ETA, curves, live filters."""

    train_requested = QtCore.Signal(object)  # TrainConfig
    cancel_requested = QtCore.Signal()

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.form = TrainingForm()
        self.train_button = QtWidgets.QPushButton("Train")
        self.train_button.setToolTip("Train the current stack with these settings")
        self.cancel_button = QtWidgets.QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop after this batch, keeping the best weights so far")
        self.cancel_button.setEnabled(False)
        self.progress_bar = QtWidgets.QProgressBar()
        self.progress_bar.setRange(0, PROGRESS_STEPS)
        self.progress_bar.setTextVisible(False)
        self.progress_label = info_label(NOT_TRAINED)
        self.status = info_label("")
        self.start_note = info_label("")
        self.title = title_label("Training")
        self.canvas = graphics_widget()
        self.canvas.setMinimumHeight(160)  # a lab's guide or the results must not crush it
        self.curves = TrainingCurves(self.canvas)
        self.curve_note = info_label(AUGMENTED_NOTE)
        self.curve_note.hide()
        self.filter_canvas = graphics_widget()
        self.filter_canvas.setMinimumHeight(90)
        self.filters = FilterGrid(self.filter_canvas)
        self.filter_title = info_label(FILTERS_HINT)
        self.metrics = TestMetricsView()
        self.results = QtWidgets.QTabWidget()  # the filters as they learn | test results
        self.guide = info_label("", style="", size=12)  # a lab's instructions
        self.guide.hide()
        self._patience: int | None = None
        self.augmented = False
        self.set_start(None)
        self.running = False
        self._started = 0.0
        self._validation: float | None = None  # the last epoch end's, shown between them
        # The latest filters not drawn yet, and when filters were last drawn.
        self._pending_filters: dict | None = None
        self._filters_drawn_at: float | None = None
        # Filters are drawn in an event of their own, after the curves' repaint:
        # two short steps of the GUI thread rather than one long one.
        self._filter_timer = QtCore.QTimer(self)
        self._filter_timer.setSingleShot(True)
        self._filter_timer.setInterval(0)
        self._filter_timer.timeout.connect(self._draw_filters)
        self._build_layout()
        self.train_button.clicked.connect(self._on_train_clicked)
        self.cancel_button.clicked.connect(self._on_cancel_clicked)

    def _build_layout(self) -> None:
        buttons = QtWidgets.QHBoxLayout()
        buttons.addWidget(self.train_button)
        buttons.addWidget(self.cancel_button)
        left = QtWidgets.QVBoxLayout()
        left.addWidget(self.form)
        left.addWidget(self.start_note)
        left.addLayout(buttons)
        left.addWidget(self.progress_bar)
        # A new text at every report must not lay the window out again.
        left.addWidget(QuietBox(self.progress_label, lines=3))
        left.addWidget(self.status)
        left.addStretch(1)
        right = QtWidgets.QVBoxLayout()
        header = QtWidgets.QHBoxLayout()  # the loss plot's log switch beside the title
        header.addWidget(self.title, 1)
        header.addWidget(self.curves.log_check)
        right.addLayout(header)
        right.addWidget(self.guide)
        right.addWidget(self.canvas, 3)
        right.addWidget(self.curve_note)
        filters = QtWidgets.QWidget()
        column = QtWidgets.QVBoxLayout(filters)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.filter_title)
        column.addWidget(self.filter_canvas, 1)
        self.results.addTab(filters, "First-layer filters")  # not "Filters": the panel of that name
        self.results.addTab(self.metrics, "Test results")
        self.results.setTabEnabled(1, False)
        right.addWidget(self.results, 2)
        layout = QtWidgets.QHBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        left_widget = QtWidgets.QWidget()
        left_widget.setLayout(left)
        left_widget.setMaximumWidth(300)
        layout.addWidget(left_widget)
        layout.addLayout(right, 1)

    # -- the user's side ---------------------------------------------------------
    def config(self) -> TrainConfig:
        return self.form.config()

    def set_config(self, config: TrainConfig) -> None:
        self.form.set_config(config)

    def set_guide(self, text: str) -> None:
        """A lab's few lines above the curves ('' hides them)."""
        self.guide.setText(text)
        self.guide.setVisible(bool(text))

    def set_start(self, weights_path: str | None, trained_before: bool = False) -> None:
        """What the next run starts from: the document's weights file, else fresh
        weights (also after an earlier run in the app, which compute/train.py does
        not continue unless its weights were saved to a file)."""
        name = Path(weights_path).name if weights_path else None
        self.form.set_start(name)
        if name:
            text = (
                f"Training continues from the weights in {name}. "
                "For a fresh start: File > Use Random Weights."
            )
        elif trained_before:
            text = (
                "Training starts again from fresh random weights, not from the ones "
                "trained before. To continue those, save them first: "
                "File > Save Trained Weights…"
            )
        else:
            text = "Training starts from fresh random weights (the initialisation above)."
        self.start_note.setText(text)

    def reset(self) -> None:
        """A new network: forget the last one's run (curves, filters, messages).
        A run still going is for the old network, so it is cancelled."""
        if self.running:
            self.cancel_requested.emit()
        self.running = False
        self._set_controls(running=False)
        self.curves.forget_run()
        self.curve_note.hide()
        self._forget_filters()
        self.filters.clear()
        self.filter_title.setText(FILTERS_HINT)
        self._show_test_results(None)
        self._set_progress(0)
        self.progress_label.setText(NOT_TRAINED)
        self.status.setText("")
        self.title.setText("Training")

    def _on_train_clicked(self) -> None:
        config = self.form.config()
        self.start(config)
        self.train_requested.emit(config)

    def _on_cancel_clicked(self) -> None:
        self.cancel_button.setEnabled(False)
        self.progress_label.setText("Stopping after this batch…")
        self.cancel_requested.emit()

    def start(self, config: TrainConfig) -> None:
        """Show a run starting (the Train button calls this; so may the main window)."""
        self.running = True
        self._started = time.monotonic()
        self._validation = None
        self._forget_filters()
        self.curves.clear()
        self.augmented = config.augment
        self.curves.name_training(config.augment)
        self.curve_note.setVisible(config.augment)
        self.curves.set_epochs(config.epochs)
        self._show_test_results(None)
        self._patience = config.patience
        self._set_progress(0)
        self.progress_label.setText(f"Preparing {config.dataset} and the network…")
        self.status.setText("")
        self.status.setStyleSheet("font-size: 12px;")
        self.title.setText(f"Training on {self.form.dataset_title()}")
        self._set_controls(running=True)

    def _set_progress(self, value: int) -> None:
        """QProgressBar.setValue repaints at once, and that repaint draws every
        region of the window waiting to be painted: the plots were drawn twice per
        report, once here and once more after the new points. Posted instead."""
        bar = self.progress_bar
        if value == bar.value():
            return
        bar.setUpdatesEnabled(False)
        bar.setValue(value)
        bar.setUpdatesEnabled(True)
        bar.update()

    def _set_controls(self, running: bool) -> None:
        self.train_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)
        self.form.setEnabled(not running)

    # -- the compute thread's side ---------------------------------------------------
    @QtCore.Slot(object)
    def on_progress(self, progress: TrainProgress) -> None:
        if not self.running:  # a late report after finishing or failing
            return
        done = fraction_done(progress)
        self._set_progress(round(done * PROGRESS_STEPS))
        elapsed = time.monotonic() - self._started
        left = elapsed * (1 - done) / done if done > 0 else 0.0
        text = (
            f"Epoch {progress.epoch} of {progress.epochs} · {done:.0%} · "
            f"{format_duration(left)} left"
        )
        on = " (augmented)" if self.augmented else ""
        text += f" · training{on} {progress.train_accuracy:.1%}"
        if progress.val_accuracy is not None:
            self._validation = progress.val_accuracy
        if self._validation is not None:
            # Beside the training accuracy, so the two are read together.
            text += f" · validation {self._validation:.1%}"
        self.progress_label.setText(text)
        # Hidden (another tab in front), the panel keeps the points and the
        # filters and draws them when shown.
        self.curves.add(progress, draw=self.isVisible())
        if progress.filters:
            self._pending_filters = progress.filters
            epoch_end = progress.val_accuracy is not None
            last = self._filters_drawn_at
            due = last is None or time.monotonic() - last >= FILTER_INTERVAL_S
            if (epoch_end or due) and self.isVisible():
                self._filter_timer.start()

    def _draw_filters(self) -> None:
        """Draw the latest filters received (the timer's event, or at the end)."""
        self._filter_timer.stop()
        filters, self._pending_filters = self._pending_filters, None
        if not filters:
            return
        self._filters_drawn_at = time.monotonic()
        if self.filters.show(filters):
            layer = self.filters.layer
            self.filter_title.setText(
                f"Filters of layer {layer} (Conv2d) as they learn: red adds, blue subtracts"
            )

    def _forget_filters(self) -> None:
        self._filter_timer.stop()
        self._pending_filters = None
        self._filters_drawn_at = None

    def showEvent(self, event) -> None:
        """Draw what came while hidden."""
        super().showEvent(event)
        self.curves.redraw()
        if self._pending_filters:
            self._filter_timer.start()

    @QtCore.Slot(object)
    def on_finished(self, result: TrainResult) -> None:
        if not self.running:  # the run of a network that has been replaced
            return
        self.running = False
        self._set_controls(running=False)
        self._draw_filters()  # the last ones, whatever their time
        self._show_test_results(result.test_metrics)
        if result.cancelled:
            self.progress_label.setText(f"Stopped after {result.epochs_run} epochs.")
            self.status.setText(
                f"Kept the best weights so far (validation accuracy "
                f"{result.best_val_accuracy:.1%}); they are now the network's."
            )
            return
        self._set_progress(PROGRESS_STEPS)
        self.progress_label.setText(
            f"Done: {result.epochs_run} epochs in {format_duration(result.seconds)}."
        )
        test = "" if result.test_accuracy is None else f"test accuracy {result.test_accuracy:.1%}, "
        self.status.setText(
            f"{test}best validation accuracy {result.best_val_accuracy:.1%}. "
            "The best weights are now the network's." + self._stopping_note(result)
        )
        self.status.setStyleSheet("font-size: 12px; font-weight: 600;")
        self.curves.mark_kept(result.best_epoch)

    def _show_test_results(self, metrics) -> None:
        """The confusion matrix and scores in front after a finished run; else the
        filters (a cancelled run measures nothing on the test set)."""
        self.metrics.show_metrics(metrics)
        self.results.setTabEnabled(1, metrics is not None)
        self.results.setCurrentIndex(0 if metrics is None else 1)

    def _stopping_note(self, result: TrainResult) -> str:
        """Which epoch's weights were kept, and why the run ended where it did."""
        if result.stopped_epoch is None:
            return f" They are epoch {result.best_epoch}'s." if result.best_epoch else ""
        return (
            f" Early stopping: the validation loss had not fallen for {self._patience} "
            f"epochs, so the run ended after epoch {result.stopped_epoch}; the weights "
            f"kept are epoch {result.best_epoch}'s (lowest validation loss)."
        )

    @QtCore.Slot(str)
    def on_failed(self, message: str) -> None:
        if not self.running:  # the run of a network that has been replaced
            return
        self.running = False
        self._set_controls(running=False)
        self._set_progress(0)
        self.progress_label.setText("Training did not run.")
        self.status.setText(message)
        self.status.setStyleSheet(f"color: {DEAD}; font-size: 12px;")


def main(argv=None) -> int:
    from cnnviz.qt.panels.training_demo import run_demo

    return run_demo(argv)


if __name__ == "__main__":
    raise SystemExit(main())
