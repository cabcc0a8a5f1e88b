"""The activation panel offers Step and Identity beside the layer's own function."""

from __future__ import annotations

import numpy as np
import pytest
from panel_inputs import panel_input, shown_panel

from cnnviz.core.activations import TEACHING
from cnnviz.qt.panels.activation import ActivationPanel

STACK = [{"type": "Conv2d", "out_channels": 4, "kernel_size": 3}, {"type": "ReLU"}]


@pytest.fixture
def panel(qtbot):
    return shown_panel(qtbot, ActivationPanel, (800, 700))


def test_chooser_offers_the_teaching_curves(panel):
    items = [panel.chooser.itemText(i) for i in range(panel.chooser.count())]
    assert all(name in items for name in TEACHING)


def test_step_curve_gradient_and_lesson(panel):
    data = panel_input(STACK, 1, size=12)
    panel.show(data)
    panel.set_choice("Step")
    inputs = data.result.layers[0].output
    xs, ys = panel.f_curves[0].getData()
    np.testing.assert_array_equal(ys, (xs >= 0).astype(float))
    _, grads = panel.d_curves[0].getData()
    np.testing.assert_array_equal(grads[xs != 0], 0.0)
    assert panel.shares["Step"] == 1.0  # every input sits where no gradient flows
    assert inputs.size > 0 and "gradient descent never moves them" in panel.note.text()
    assert not panel.f_curves[1].isVisible()


def test_identity_curve_and_collapse_lesson(panel):
    panel.show(panel_input(STACK, 1, size=12))
    panel.set_choice("Identity")
    xs, ys = panel.f_curves[0].getData()
    np.testing.assert_array_equal(ys, xs)
    _, grads = panel.d_curves[0].getData()
    np.testing.assert_array_equal(grads, 1.0)
    assert panel.shares["Identity"] == 0.0
    assert "one linear map" in panel.note.text()
    assert all(not r.isVisible() for regions in panel.regions.values() for r in regions)
    panel.set_choice("this layer")
    assert "one linear map" not in panel.note.text()
