"""The Training panel's loss plot on a log scale: the switch, the data it leaves
alone, losses of 0 and below, the setting kept between runs, and the overfitting
lab that turns it on."""

from __future__ import annotations

import numpy as np
import pytest

from cnnviz.core.jobs import TrainConfig, TrainProgress
from cnnviz.qt.panels.training import TrainingPanel
from cnnviz.qt.window import settings
from cnnviz.qt.window.panel_wiring import LOG_LOSS_KEY
from tests.qt.test_labs_menu import labs_menu
from tests.qt.test_main_window import make_window


def report(step: int, loss: float, val_loss: float | None = None) -> TrainProgress:
    val = None if val_loss is None else 0.5
    return TrainProgress(1, 1, 3, step, 20, loss, 0.3, val_loss, val)


@pytest.fixture
def panel(qtbot):
    widget = TrainingPanel()
    qtbot.addWidget(widget)
    widget.resize(1000, 520)
    widget.show()
    widget.start(TrainConfig(epochs=3))
    return widget


def loss_range(panel) -> list[float]:
    return panel.curves.loss.getViewBox().viewRange()[1]


def shown(item) -> tuple[np.ndarray, np.ndarray]:
    """What the curve holds, in the linear units pyqtgraph stores."""
    return item.xData.copy(), item.yData.copy()


def test_the_switch_puts_the_loss_plot_in_log_mode_and_back(panel):
    curves = panel.curves
    losses = [2.3, 0.9, 0.05, 0.0006]
    for step, loss in enumerate(losses, start=1):
        panel.on_progress(report(step, loss, val_loss=0.5 if step == 4 else None))
    before = [shown(item) for item in (curves.train_loss, curves.val_loss)]
    np.testing.assert_allclose(before[0][1], losses)
    curves.log_check.setChecked(True)
    assert curves.loss.getAxis("left").logMode and curves.loss.ctrl.logYCheck.isChecked()
    assert not curves.accuracy.getAxis("left").logMode  # only the loss plot
    after = [shown(item) for item in (curves.train_loss, curves.val_loss)]
    for (x0, y0), (x1, y1) in zip(before, after, strict=True):
        np.testing.assert_array_equal(x0, x1)
        np.testing.assert_array_equal(y0, y1)
    # Drawn as log10 of those losses, and the axis (log10 units) holds them all.
    np.testing.assert_allclose(curves.train_loss.getData()[1], np.log10(losses))
    low, high = loss_range(panel)
    assert low <= np.log10(0.0006) and np.log10(2.3) <= high
    assert high - low < 6  # fitted to the losses, not to an arbitrary span
    curves.log_check.setChecked(False)
    assert not curves.loss.getAxis("left").logMode
    np.testing.assert_allclose(curves.train_loss.getData()[1], losses)
    low, high = loss_range(panel)
    assert low <= 0 < 2.3 < high < 3


def test_a_falling_loss_lowers_the_log_axis_a_decade_at_a_time(panel):
    panel.curves.set_log_loss(True)
    panel.on_progress(report(1, 0.5))
    first = loss_range(panel)
    panel.on_progress(report(2, 0.3))  # the same decade: the axis stays
    assert loss_range(panel) == first
    panel.on_progress(report(3, 0.002))
    assert loss_range(panel)[0] <= np.log10(0.002) < first[0]


@pytest.mark.parametrize("bad", [0.0, -0.25, float("nan")])
def test_losses_of_zero_or_below_do_not_break_the_log_axis(panel, bad):
    panel.curves.set_log_loss(True)
    panel.on_progress(report(1, 0.4))
    # (A NaN validation point alone makes pyqtgraph's scatter warn, log or not.)
    panel.on_progress(report(2, bad, val_loss=bad if np.isfinite(bad) else None))
    panel.on_progress(report(3, 0.01))
    low, high = loss_range(panel)
    assert np.isfinite(low) and np.isfinite(high) and low <= np.log10(0.01)
    ys = panel.curves.train_loss.yData
    np.testing.assert_array_equal(ys[[0, 2]], [0.4, 0.01])  # kept as they came
    assert ys[1] == bad or (np.isnan(bad) and np.isnan(ys[1]))
    panel.curves.set_log_loss(False)  # and back, with the odd point still there
    assert loss_range(panel)[0] <= 0


def test_the_window_remembers_the_choice(qtbot):
    window = make_window(qtbot)
    try:
        panel = window.panels.docks["training"].widget
        assert not panel.curves.log_check.isChecked()
        panel.curves.log_check.setChecked(True)
        assert settings.settings().value(LOG_LOSS_KEY, False, type=bool)
    finally:
        window.shutdown()
    window = make_window(qtbot)
    try:
        panel = window.panels.docks["training"].widget
        assert panel.curves.log_check.isChecked()
        assert panel.curves.loss.getAxis("left").logMode
    finally:
        window.shutdown()


def test_the_overfitting_lab_turns_the_log_scale_on(qtbot):
    window = make_window(qtbot)
    try:
        entry = next(a for a in labs_menu(window).actions() if a.objectName() == "lab_overfitting")
        entry.trigger()
        panel = window.panels.docks["training"].widget
        assert panel.curves.log_check.isChecked()
        assert panel.curves.loss.getAxis("left").logMode
    finally:
        window.shutdown()
