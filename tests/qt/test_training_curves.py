"""The loss axis is not refitted at every progress report (each refit laid out
and drew both axes again: the GUI thread's longest step while training)."""

from __future__ import annotations

import numpy as np
import pytest

from cnnviz.core.jobs import TrainConfig, TrainProgress
from cnnviz.qt.panels.training import TrainingPanel
from cnnviz.qt.panels.training_curves import nice_ceiling


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


def test_falling_losses_leave_the_loss_axis_where_it_is(panel):
    panel.on_progress(report(1, 2.3))
    first = loss_range(panel)
    assert first[0] <= 0 < 2.3 < first[1]
    for step, loss in enumerate(np.linspace(2.2, 0.4, 15), start=2):
        panel.on_progress(report(step, float(loss)))
        assert loss_range(panel) == first


def test_a_higher_loss_raises_the_axis_to_a_round_number(panel):
    panel.on_progress(report(1, 0.9))
    panel.on_progress(report(2, 0.8, val_loss=3.1))
    low, high = loss_range(panel)
    assert low <= 0 and 5.0 <= high < 5.3  # 5 with the plot's 2 % padding


def test_a_new_run_starts_its_axis_afresh(panel):
    panel.on_progress(report(1, 7.0))
    panel.start(TrainConfig(epochs=3))
    panel.on_progress(report(1, 0.6))
    assert loss_range(panel)[1] < 1.1


@pytest.mark.parametrize(("value", "nice"), [(0.07, 0.1), (1.0, 1.0), (2.4, 2.5), (7, 10)])
def test_nice_ceiling(value, nice):
    assert nice_ceiling(value) == pytest.approx(nice)
