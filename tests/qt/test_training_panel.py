"""The Training panel: form ↔ TrainConfig, Train/Cancel, progress, curves, live filters."""

from __future__ import annotations

import numpy as np
import pytest

from cnnviz.core.architecture import Architecture, InputShape, Layer
from cnnviz.core.jobs import TrainConfig, TrainProgress, TrainRequest, TrainResult
from cnnviz.qt.panels.training import (
    PROGRESS_STEPS,
    TrainingPanel,
    format_duration,
    fraction_done,
)
from cnnviz.qt.panels.training_demo import FakeRun
from cnnviz.qt.panels.training_filters import filter_tiles
from cnnviz.qt.panels.training_form import DATASETS, RateSpinBox, nice_step


@pytest.fixture
def panel(qtbot):
    widget = TrainingPanel()
    qtbot.addWidget(widget)
    widget.resize(900, 500)
    widget.show()
    return widget


def progress(epoch=1, step=5, steps=10, epochs=4, val=None, filters=None):
    val_loss, val_accuracy = val if val else (None, None)
    rng = np.random.default_rng(epoch * 100 + step)
    if filters is None:
        filters = {0: (rng.normal(size=(6, 1, 5, 5)).astype(np.float32), np.zeros(6, np.float32))}
    return TrainProgress(3, epoch, epochs, step, steps, 1.5, 0.4, val_loss, val_accuracy, filters)


def result(cancelled=False):
    return TrainResult(3, {}, 0.975, None if cancelled else 0.962, 2, cancelled, 12.5)


def test_the_form_gives_back_the_config_it_was_given(panel):
    config = TrainConfig(
        dataset="fashion-mnist",
        epochs=7,
        batch_size=48,
        learning_rate=0.0005,
        optimizer="sgd",
        init="he",
        weight_decay=0.0001,
        validation_split=0.2,
        seed=11,
        schedule="constant",
        augment=False,
    )
    panel.set_config(config)
    assert panel.config() == config


def test_the_datasets_offered_are_the_ones_training_knows():
    from cnnviz.compute.datasets import DATASETS as KNOWN

    assert [choice[0] for choice in DATASETS] == list(KNOWN)


def test_train_emits_the_config_and_locks_the_form_cancel_unlocks(panel, qtbot):
    with qtbot.waitSignal(panel.train_requested) as emitted:
        panel.train_button.click()
    assert emitted.args[0] == panel.config()
    assert not panel.train_button.isEnabled() and panel.cancel_button.isEnabled()
    assert not panel.form.isEnabled()
    with qtbot.waitSignal(panel.cancel_requested):
        panel.cancel_button.click()
    assert "Stopping" in panel.progress_label.text()
    panel.on_finished(result(cancelled=True))
    assert panel.train_button.isEnabled() and panel.form.isEnabled()
    assert "Stopped after 2 epochs" in panel.progress_label.text()
    assert "best weights so far" in panel.status.text() and "97.5%" in panel.status.text()


def test_progress_moves_the_bar_and_draws_curves_and_filters(panel, qtbot):
    panel.train_button.click()
    panel.on_progress(progress(epoch=1, step=5))
    assert panel.progress_bar.value() == round(PROGRESS_STEPS * 5 / 40)
    assert panel.progress_label.text().startswith("Epoch 1 of 4 · 12% · ")
    assert "left" in panel.progress_label.text()
    end = progress(epoch=1, step=10, val=(0.9, 0.8))
    panel.on_progress(end)
    xs, ys = panel.curves.val_acc.getData()
    np.testing.assert_array_equal(xs, [1.0])
    np.testing.assert_allclose(ys, [80.0])
    xs, _ = panel.curves.train_loss.getData()
    np.testing.assert_allclose(xs, [0.5, 1.0])
    assert "validation 80.0%" in panel.progress_label.text()
    # The filter mosaic (drawn in an event of its own, after the curves) holds
    # each filter, scaled by its own largest weight.
    qtbot.waitUntil(lambda: panel.filters.image is not None)
    layout, image = panel.filters.layout, panel.filters.image
    assert (layout.rows, layout.cols) == (1, 6)
    tiles = filter_tiles(end.filters[0][0])
    for channel in range(6):
        y, x = layout.origin(channel)
        np.testing.assert_allclose(image[y : y + 5, x : x + 5], tiles[channel], rtol=1e-6)
    assert "layer 0" in panel.filter_title.text()
    # The largest weight (±1 after scaling) is coloured, not lost in the transparent gap.
    low, high = panel.filters.item.levels
    assert low < -1.0 < 1.0 < high


def test_the_panel_and_the_command_line_start_from_the_same_settings(panel):
    from cnnviz.commands.train import _DEFAULTS

    assert panel.config() == _DEFAULTS


def test_finishing_reports_the_accuracies_and_a_late_report_is_ignored(panel):
    panel.train_button.click()
    panel.on_progress(progress())
    panel.on_finished(result())
    assert panel.progress_bar.value() == PROGRESS_STEPS
    assert "test accuracy 96.2%" in panel.status.text()
    assert "best validation accuracy 97.5%" in panel.status.text()
    before = panel.curves.train_loss.getData()[0].size
    panel.on_progress(progress(epoch=2))
    assert panel.curves.train_loss.getData()[0].size == before


def test_a_failure_shows_its_message_and_frees_the_form(panel):
    panel.train_button.click()
    message = "the network gives 84 outputs but Digits has 10 classes: set out_features to 10"
    panel.on_failed(message)
    assert panel.status.text() == message
    assert panel.train_button.isEnabled() and not panel.cancel_button.isEnabled()


def test_filters_averaged_over_input_channels_and_scaled_each():
    weight = np.zeros((2, 3, 2, 2), np.float32)
    weight[0, :, 0, 0] = [1, 2, 3]  # mean 2
    weight[1, 0, 1, 1] = -6  # mean -2
    weight[1, 1, 0, 0] = 3  # mean 1
    tiles = filter_tiles(weight)
    np.testing.assert_allclose(tiles[0], [[1, 0], [0, 0]])
    np.testing.assert_allclose(tiles[1], [[0.5, 0], [0, -1]])
    np.testing.assert_array_equal(filter_tiles(np.zeros((1, 1, 3, 3))), np.zeros((1, 3, 3)))


def test_durations_and_fractions():
    assert [format_duration(s) for s in (0, 7.4, 125, 3723)] == ["0:00", "0:07", "2:05", "1:02:03"]
    assert fraction_done(progress(epoch=2, step=5, steps=10, epochs=4)) == pytest.approx(15 / 40)


def test_rate_boxes_step_one_two_five_and_read_scientific_notation(qtbot):
    box = RateSpinBox(1e-6, 10.0)
    qtbot.addWidget(box)
    box.setValue(0.001)
    box.stepBy(1)
    assert box.value() == pytest.approx(0.002)
    box.stepBy(2)
    assert box.value() == pytest.approx(0.01)
    box.stepBy(-3)
    assert box.value() == pytest.approx(0.001)
    assert box.valueFromText("3e-4") == pytest.approx(3e-4)
    assert box.textFromValue(0.0005) == "0.0005"
    assert [nice_step(v, True) for v in (0.5, 1, 2, 5)] == pytest.approx([1, 2, 5, 10])
    decay = RateSpinBox(1e-6, 0.99, allow_zero=True)
    qtbot.addWidget(decay)
    decay.setValue(1e-6)
    decay.stepBy(-1)
    assert decay.value() == 0.0


def test_the_made_up_run_plays_to_the_end(panel, qtbot):
    run = FakeRun(TrainConfig(epochs=1))
    run.progress.connect(panel.on_progress)
    run.finished.connect(panel.on_finished)
    panel.start(TrainConfig(epochs=1))
    with qtbot.waitSignal(run.finished, timeout=5000):
        run.start()
    assert panel.progress_bar.value() == PROGRESS_STEPS
    assert panel.curves.val_acc.getData()[0].size == 1


TINY = Architecture(
    "tiny",
    InputShape(1, 8, 8),
    (
        Layer.make("Conv2d", out_channels=4, kernel_size=3, padding=1),
        Layer.make("ReLU"),
        Layer.make("Flatten"),
        Layer.make("Linear", out_features=10),
    ),
)


def test_a_real_training_in_the_compute_thread_reaches_the_panel(panel, qtbot):
    from cnnviz.qt.bridge.compute_thread import ComputeThread

    thread = ComputeThread()
    try:
        thread.training_progress.connect(panel.on_progress)
        thread.training_finished.connect(panel.on_finished)
        thread.training_failed.connect(lambda failure: panel.on_failed(failure.message))
        panel.train_requested.connect(
            lambda config: thread.start_training(TrainRequest(5, TINY, config))
        )
        panel.set_config(TrainConfig(epochs=2, batch_size=64, learning_rate=0.01, augment=False))
        with qtbot.waitSignal(thread.training_finished, timeout=60000):
            panel.train_button.click()
        assert panel.curves.val_acc.getData()[0].size == 2
        assert "test accuracy" in panel.status.text()
        assert panel.filters.layout.channels == 4
    finally:
        thread.shutdown()


def test_an_untrainable_stack_from_the_compute_thread_shows_what_to_change(panel, qtbot):
    from cnnviz.qt.bridge.compute_thread import ComputeThread

    wrong = TINY.with_layers((*TINY.layers[:-1], Layer.make("Linear", out_features=4)))
    thread = ComputeThread()
    try:
        thread.training_failed.connect(lambda failure: panel.on_failed(failure.message))
        panel.train_requested.connect(
            lambda config: thread.start_training(TrainRequest(6, wrong, config))
        )
        with qtbot.waitSignal(thread.training_failed, timeout=60000):
            panel.train_button.click()
        assert "set out_features of the last Linear to 10" in panel.status.text()
    finally:
        thread.shutdown()


def test_in_the_main_window_an_untrainable_stack_gets_its_message(qtbot, tmp_path):
    """The app's own wiring: Train on a stack that ends in feature maps."""
    from PySide6.QtCore import QStandardPaths
    from PySide6.QtWidgets import QMessageBox

    from cnnviz.core.project import Project
    from cnnviz.qt.window import settings
    from cnnviz.qt.window.main_window import MainWindow

    QStandardPaths.setTestModeEnabled(True)
    settings.use_settings_folder(tmp_path / "settings")
    settings.init_application_names()
    window = MainWindow(start_compute=True)
    qtbot.addWidget(window)
    try:
        window.files.ask_to_save = lambda: QMessageBox.StandardButton.Discard
        window.doc.reset(Project(TINY.with_layers(TINY.layers[:2])), None)
        panel = window.panels.widget("training")
        panel.set_config(TrainConfig(epochs=1))
        panel.train_button.click()
        qtbot.waitUntil(lambda: not panel.running, timeout=60000)
        assert "add Flatten and Linear(10) at the end" in panel.status.text()
        assert panel.train_button.isEnabled()
    finally:
        window.shutdown()


def test_forwards_during_training_show_the_weights_learnt_so_far(qtbot):
    """Feature maps follow the training: after an epoch's end, a forward uses its weights."""
    from cnnviz.core.jobs import ForwardRequest
    from cnnviz.qt.bridge.compute_thread import ComputeThread

    thread = ComputeThread()
    ends, results = [], []
    image = np.random.default_rng(0).random((1, 8, 8), dtype=np.float32)
    try:
        finished = []
        thread.training_finished.connect(finished.append)
        # Only forwards served while training runs count (after it, the best
        # weights are installed anyway).
        thread.result_ready.connect(lambda result: None if finished else results.append(result))

        def on_progress(progress):
            if progress.weights is not None:
                ends.append(progress.weights["0.weight"])
                thread.submit(ForwardRequest(len(ends), TINY, image))

        thread.training_progress.connect(on_progress)
        config = TrainConfig(epochs=4, batch_size=8, learning_rate=0.01, augment=False)
        with qtbot.waitSignal(thread.training_finished, timeout=60000):
            thread.start_training(TrainRequest(9, TINY, config))
    finally:
        thread.shutdown()
    assert results, "no forward was served during training"
    for result in results:
        shown = result.filters[0][0]
        assert any(np.array_equal(shown, weights) for weights in ends)


def test_the_form_says_what_a_run_starts_from(panel):
    """compute/train.py starts from the weights file the controller sends, else from
    fresh weights drawn by the initialisation, even after an earlier run."""
    panel.set_start("/some/where/lenet5.safetensors")
    assert panel.form.starts_from_file() and not panel.form.init.isVisible()
    assert "lenet5.safetensors" in panel.form.start_file.text()
    assert "continues from the weights in lenet5.safetensors" in panel.start_note.text()
    panel.set_start(None, trained_before=True)
    assert not panel.form.starts_from_file() and panel.form.init.isVisible()
    assert "not from the ones trained before" in panel.start_note.text()
    assert "File > Save Trained Weights" in panel.start_note.text()
    panel.set_start(None)
    assert panel.start_note.text().startswith("Training starts from fresh random weights")


def test_augmented_training_accuracy_is_named_and_explained(panel):
    panel.set_config(TrainConfig(augment=True))
    panel.train_button.click()
    assert panel.curves.legend_texts()[0] == "training (on augmented images)"
    assert panel.curve_note.isVisible() and "below validation" in panel.curve_note.text()
    panel.on_progress(progress(epoch=1, step=10, val=(0.2, 0.95)))
    assert "training (augmented) 40.0% · validation 95.0%" in panel.progress_label.text()
    panel.on_progress(progress(epoch=2, step=5))  # between epoch ends: the last validation
    assert "training (augmented) 40.0% · validation 95.0%" in panel.progress_label.text()
    panel.on_finished(result())
    panel.set_config(TrainConfig(augment=False))
    panel.train_button.click()
    assert panel.curves.legend_texts()[0] == "training"
    assert not panel.curve_note.isVisible()


def test_the_legend_lies_outside_both_plots(panel, qtbot):
    panel.train_button.click()
    panel.on_progress(progress(epoch=1, step=10, val=(0.9, 0.8)))
    legend = panel.curves.legend
    qtbot.waitUntil(lambda: legend.sceneBoundingRect().height() > 0)
    for plot in (panel.curves.loss, panel.curves.accuracy):
        assert not legend.sceneBoundingRect().intersects(plot.vb.sceneBoundingRect())


def test_a_new_network_clears_the_last_run(panel, qtbot):
    panel.train_button.click()
    panel.on_progress(progress(epoch=1, step=10, val=(0.9, 0.8)))
    panel.on_finished(result())
    panel.reset()
    assert all(
        item.getData()[0] is None for item in (panel.curves.train_loss, panel.curves.val_acc)
    )
    assert panel.status.text() == "" and panel.progress_label.text() == "Not trained yet."
    assert panel.progress_bar.value() == 0 and panel.filters.item.image is None
    assert panel.title.text() == "Training"
    # A run still going belongs to the old network: cancelled, its end ignored.
    panel.train_button.click()
    with qtbot.waitSignal(panel.cancel_requested):
        panel.reset()
    assert panel.train_button.isEnabled()
    panel.on_finished(result(cancelled=True))
    assert panel.status.text() == ""
