"""Panels behind other tabs are built on first use, not at start-up, and once
built they show the current result and their signals reach the window."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Signal

from cnnviz.core.jobs import KernelEdit, TrainConfig
from tests.qt.numpy_window import NumpyCompute, click_tab, compute, numpy_window

HIDDEN_AT_START = ("filters", "pooling", "activation", "conv_stepper", "training", "draw_pad")
SHOWN_AT_START = ("feature_maps", "input_image", "prediction", "overview")


class TrainingCompute(NumpyCompute):
    """Also takes training requests (and only records them)."""

    training_progress = Signal(object)
    training_finished = Signal(object)
    training_failed = Signal(object)

    def __init__(self):
        super().__init__()
        self.trainings = []

    def start_training(self, request) -> None:
        self.trainings.append(request)


@pytest.fixture
def window(qtbot):
    with numpy_window(qtbot, TrainingCompute()) as win:
        yield win


def test_hidden_tabs_are_not_built_at_start_up(window, qtbot):
    docks = window.panels.docks
    # The panels in sight are built just after the first paint, one by one.
    qtbot.waitUntil(lambda: all(docks[key].built for key in SHOWN_AT_START))
    built = {key: panel.built for key, panel in docks.items()}
    assert not any(built[key] for key in HIDDEN_AT_START), str(built)
    assert all(built[key] for key in SHOWN_AT_START), built


def test_results_do_not_build_hidden_panels(window, qtbot):
    compute(qtbot, window)
    window.select_layer(2)
    compute(qtbot, window)
    assert not any(window.panels.docks[key].built for key in HIDDEN_AT_START)


def test_a_tab_raised_for_the_first_time_is_built_with_the_current_result(window, qtbot):
    compute(qtbot, window)
    filters = window.panels.docks["filters"]
    click_tab(qtbot, window, filters.spec.title)
    qtbot.waitUntil(lambda: filters.built and filters.fed is window.panels._data)
    assert filters.widget.weight.shape[0] == 2


def test_kernel_edits_of_a_lazily_built_filters_panel_go_on_the_undo_stack(window, qtbot):
    compute(qtbot, window)
    window.panel_actions["filters"].trigger()  # Ctrl+2
    qtbot.waitUntil(lambda: window.panels.docks["filters"].built)
    stack = window.doc.undo_stack
    count = stack.count()
    edit = KernelEdit(0, 1, np.ones((1, 3, 3), np.float32), bias=0.5)
    window.panels.docks["filters"].widget.kernel_edit_requested.emit(edit)
    assert stack.count() == count + 1


def test_a_lazily_built_training_panel_starts_training(window, qtbot):
    training = window.panels.widget("training")  # needed: built now
    assert window.panels.docks["training"].built
    training.set_config(TrainConfig(epochs=1, batch_size=8, learning_rate=0.01))
    training.train_button.click()
    qtbot.waitUntil(lambda: len(window.compute.trainings) == 1)
    assert window.compute.trainings[0].config.epochs == 1


def test_the_conv_stepper_is_built_when_first_raised(window, qtbot):
    compute(qtbot, window)
    stepper = window.panels.docks["conv_stepper"]
    assert not stepper.built
    click_tab(qtbot, window, stepper.spec.title)
    qtbot.waitUntil(lambda: stepper.built and stepper.widget.real is not None)
    assert stepper.widget.real.config.output_shape == (2, 10, 10)
