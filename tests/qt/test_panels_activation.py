"""The activation panel: the curves are the functions, the shares are counted directly."""

from __future__ import annotations

import numpy as np
import pytest
from panel_inputs import panel_input, shown_panel

from cnnviz.core.activations import COMPARABLE
from cnnviz.qt.panels.activation import ALL, ActivationPanel

STACK = [
    {"type": "Conv2d", "out_channels": 4, "kernel_size": 3},
    {"type": "ReLU"},
    {"type": "Sigmoid"},
    {"type": "LeakyReLU", "negative_slope": 0.2},
    {"type": "Softmax", "dim": 1},
]


@pytest.fixture
def panel(qtbot):
    return shown_panel(qtbot, ActivationPanel, (800, 700))


def test_relu_off_share_equals_the_fraction_counted_directly(panel):
    data = panel_input(STACK, 1, size=12)
    panel.show(data)
    inputs = data.result.layers[0].output
    share = np.count_nonzero(inputs <= 0) / inputs.size
    assert 0 < share < 1
    assert panel.shares["ReLU"] == pytest.approx(share)
    # Off for this image's inputs: not "dead", which one image cannot show.
    assert panel.share_label.text().startswith(
        f"{share:.1%} of this image's {inputs.size:,} inputs fall where ReLU is off"
    )
    assert "dead" not in panel.share_label.text()
    assert "vanishing-gradient problem, per unit" not in panel.note.text()
    assert "Gradients panel" in panel.note.text()  # vanishing gradients are measured there


def test_curves_are_the_function_and_its_gradient_over_the_real_inputs(panel):
    data = panel_input(STACK, 1, size=12)
    panel.show(data)
    inputs = data.result.layers[0].output
    xs, ys = panel.f_curves[0].getData()
    assert xs.min() < inputs.min() and xs.max() > inputs.max()  # the inputs' range (plus margin)
    np.testing.assert_allclose(ys, np.maximum(xs, 0))
    xs, grads = panel.d_curves[0].getData()
    np.testing.assert_array_equal(grads, (xs > 0).astype(float))
    _edges, counts = panel.histogram.getData()
    assert counts.sum() == inputs.size
    assert [r.isVisible() for r in panel.regions[panel.f_plot]] == [True, False]


def test_the_layers_own_parameters_are_used(panel):
    data = panel_input(STACK, 3, size=12)
    panel.show(data)
    xs, ys = panel.f_curves[0].getData()
    np.testing.assert_allclose(ys, np.where(xs > 0, xs, 0.2 * xs))
    inputs = data.result.layers[2].output  # sigmoid outputs: all positive
    assert panel.shares["LeakyReLU"] == pytest.approx(np.mean(inputs < 0))


def test_saturated_sigmoid_share(panel):
    data = panel_input(STACK, 2, size=12)
    panel.show(data)
    inputs = data.result.layers[1].output
    assert panel.shares["Sigmoid"] == pytest.approx(np.mean(np.abs(inputs) > 4))
    assert "saturated" in panel.share_label.text()


def test_compare_all_functions_on_the_same_inputs(panel):
    data = panel_input(STACK, 1, size=12)
    panel.show(data)
    panel.set_choice(ALL)
    inputs = data.result.layers[0].output
    assert [c.isVisible() for c in panel.f_curves] == [True] * len(COMPARABLE)
    assert set(panel.shares) == set(COMPARABLE)
    assert panel.shares["Tanh"] == pytest.approx(np.mean(np.abs(inputs) > 2.5))
    assert all(not r.isVisible() for regions in panel.regions.values() for r in regions)
    table = panel.comparison.text()
    assert all(name in table for name in COMPARABLE)
    assert "x ≤ 0" in table  # descriptions are escaped, not eaten as HTML
    # ReLU and LeakyReLU nearly coincide: each drawn with its own width or dash.
    pens = [(c.opts["pen"].widthF(), c.opts["pen"].style()) for c in panel.f_curves[:3]]
    assert len(set(pens)) == 3 and pens[0][0] > pens[1][0]
    assert "ReLU, LeakyReLU and ELU are the same line y = x for x > 0" in panel.note.text()
    panel.set_choice("Tanh")
    assert [c.isVisible() for c in panel.f_curves][:2] == [True, False]
    xs, ys = panel.f_curves[0].getData()
    np.testing.assert_allclose(ys, np.tanh(xs))


@pytest.mark.parametrize(
    ("layer", "hint"), [(0, "Select an activation layer"), (4, "Softmax is not element-wise")]
)
def test_hints(panel, layer, hint):
    panel.show(panel_input(STACK, layer, size=12))
    assert panel.showing_hint and panel.hint.text().startswith(hint)
