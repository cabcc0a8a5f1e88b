"""The step-and-identity lab: the Activation panel on a ReLU layer, drawing Step."""

from __future__ import annotations

import numpy as np
import torch

from cnnviz.core.analysis import analyze
from cnnviz.core.architecture import Architecture, InputShape, Layer
from cnnviz.qt.labs.activations import NO_ACTIVATION, activation_row
from tests.qt.numpy_window import compute, numpy_window


def trigger(window):
    menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Labs")
    next(a for a in menu.actions() if a.objectName() == "lab_activations").trigger()


def test_the_lab_selects_the_relu_and_draws_the_step_curve(qtbot):
    with numpy_window(qtbot) as window:
        window.select_layer(0)
        trigger(window)
        assert window.selected_layer == 1  # the sample stack's ReLU
        dock = window.panels.docks["activation"]
        assert dock.built and not dock.dock.isHidden()
        panel = dock.widget
        assert panel.chooser.currentText() == "Step"
        compute(qtbot, window)
        xs, ys = panel.f_curves[0].getData()
        expected = torch.heaviside(torch.from_numpy(xs), torch.tensor(1.0, dtype=torch.float64))
        np.testing.assert_array_equal(ys, expected.numpy())
        assert panel.shares["Step"] == 1.0 and "Step" in panel.share_label.text()


def test_the_first_relu_else_another_activation_else_none():
    def arch(*types):
        layers = [Layer.make("Conv2d", out_channels=2, kernel_size=3)]
        layers += [Layer.make(t) for t in types]
        return analyze(Architecture("t", InputShape(1, 8, 8), tuple(layers)))

    assert activation_row(arch("Tanh", "ReLU")) == 2
    assert activation_row(arch("Tanh", "Sigmoid")) == 1
    assert activation_row(arch("Flatten")) is None
    assert "no activation layer" in NO_ACTIVATION
