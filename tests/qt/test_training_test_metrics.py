"""The Training panel's overfitting-lab parts: the new form fields, the confusion
matrix and per-class table after a run, the early-stopping note, and the lab."""

from __future__ import annotations

import numpy as np
import pytest

from cnnviz.core.class_metrics import TestMetrics
from cnnviz.core.jobs import TrainConfig, TrainRequest, TrainResult
from cnnviz.qt.labs import overfitting
from cnnviz.qt.panels.training import TrainingPanel
from tests.qt.test_labs_menu import labs_menu
from tests.qt.test_main_window import make_window
from tests.tiny_net import TINY

CONFUSION = np.array([[5, 1, 0], [2, 3, 0], [0, 0, 4]])


@pytest.fixture
def panel(qtbot):
    widget = TrainingPanel()
    qtbot.addWidget(widget)
    widget.resize(1100, 600)
    widget.show()
    return widget


def test_subset_patience_l1_and_rmsprop_reach_the_config(panel):
    form = panel.form
    form.subset.setValue(120)
    form.patience.setValue(4)
    form.l1.setValue(0.0002)
    form.optimizer.setCurrentIndex(form.optimizer.findData("rmsprop"))
    config = panel.config()
    assert (config.train_subset, config.patience, config.l1) == (120, 4, 0.0002)
    assert config.optimizer == "rmsprop"
    form.subset.setValue(0)
    form.patience.setValue(0)
    assert (panel.config().train_subset, panel.config().patience) == (None, None)
    assert (form.subset.text(), form.patience.text()) == ("all", "off")
    wanted = TrainConfig(train_subset=30, patience=2, l1=0.001, optimizer="rmsprop")
    panel.set_config(wanted)
    assert panel.config() == wanted


def test_the_matrix_shows_each_count_in_its_cell_and_the_table_each_score(panel):
    metrics = TestMetrics(CONFUSION, ("a", "b", "c"))
    panel.metrics.show_metrics(metrics)
    assert panel.metrics.cell_texts() == [["5", "1", ""], ["2", "3", ""], ["", "", "4"]]
    table = panel.metrics.table
    cells = [[table.item(r, c).text() for c in range(4)] for r in range(3)]
    # a: precision 5/7, recall 5/6; b: 3/4, 3/5; c: 4/4, 4/4.
    assert cells[0] == ["0.714", "0.833", f"{2 * (5 / 7) * (5 / 6) / (5 / 7 + 5 / 6):.3f}", "6"]
    assert cells[1][:2] == ["0.750", "0.600"] and cells[2] == ["1.000", "1.000", "1.000", "4"]
    assert "accuracy 80.0% = 12 on the diagonal / 15" in panel.metrics.heading.text()
    # Row shares: a's row 5 of 6, c's row all of it.
    np.testing.assert_allclose(panel.metrics.image.image[0], [5 / 6, 1 / 6, 0], rtol=1e-6)


def test_early_stopping_is_named_with_the_epoch_kept(panel):
    panel.set_config(TrainConfig(epochs=30, patience=3))
    panel.train_button.click()
    metrics = TestMetrics(CONFUSION, ("a", "b", "c"))
    result = TrainResult(1, {}, 0.9, 0.8, 7, False, 1.0, 4, 7, metrics)
    panel.on_finished(result)
    text = panel.status.text()
    assert "had not fallen for 3 epochs" in text and "after epoch 7" in text
    assert "kept are epoch 4's" in text
    assert panel.results.currentWidget() is panel.metrics and panel.metrics.isVisible()
    assert [line.value() for line in panel.curves.kept] == [4, 4]  # the kept epoch, marked
    panel.reset()
    assert not panel.metrics.isVisible() and not panel.results.isTabEnabled(1)
    assert "appears here after a finished run" in panel.metrics.heading.text()


def test_a_real_short_run_shows_its_confusion_matrix(panel, qtbot):
    from cnnviz.qt.bridge.compute_thread import ComputeThread

    thread = ComputeThread()
    try:
        thread.training_finished.connect(panel.on_finished)
        panel.train_requested.connect(
            lambda config: thread.start_training(TrainRequest(5, TINY, config))
        )
        panel.set_config(
            TrainConfig(epochs=2, batch_size=16, learning_rate=0.01, augment=False, train_subset=60)
        )
        with qtbot.waitSignal(thread.training_finished, timeout=60000) as finished:
            panel.train_button.click()
    finally:
        thread.shutdown()
    confusion = finished.args[0].test_metrics.confusion
    assert confusion.shape == (10, 10) and confusion.sum() == 359  # the digits' test set
    assert panel.metrics.isVisible()
    shown = [[int(t) if t else 0 for t in row] for row in panel.metrics.cell_texts()]
    np.testing.assert_array_equal(shown, confusion)
    assert f"They are epoch {finished.args[0].best_epoch}'s." in panel.status.text()


def test_the_lab_fills_the_form_with_fresh_weights_and_raises_the_panel(qtbot):
    window = make_window(qtbot)
    try:
        assert window.load_preset("lenet5") and window.doc.weights_path
        entry = next(a for a in labs_menu(window).actions() if a.objectName() == "lab_overfitting")
        entry.trigger()
        training = window.panels.docks["training"]
        assert training.built and not training.dock.isHidden()
        panel = training.widget
        assert panel.config() == overfitting.OVERFIT
        assert panel.config().train_subset == 100 and not panel.config().augment
        assert not panel.guide.isHidden() and "overfitting" in panel.guide.text().lower()
        assert window.doc.weights_path is None  # fresh weights; undo brings the file back
        assert not panel.running  # pressing Train is the person's
    finally:
        window.shutdown()


def test_the_made_up_run_ends_with_a_confusion_matrix_of_about_its_accuracy():
    from cnnviz.qt.panels.training_demo import made_up_metrics

    metrics = made_up_metrics(0.9)
    assert metrics.confusion.sum(axis=1).tolist() == [36] * 10
    assert 0.8 < metrics.accuracy < 0.97
