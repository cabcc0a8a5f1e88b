"""Activation functions and derivatives against torch; flat-region shares counted directly."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from cnnviz.core.activations import (
    COMPARABLE,
    FLAT_NOTE,
    activation,
    activation_for_layer,
    erf,
    histogram,
    input_range,
    is_elementwise_activation,
    share_sentence,
)
from cnnviz.core.architecture import Layer

# name, our parameters, the torch module computing the same
CASES = [
    ("ReLU", {}, torch.nn.ReLU()),
    ("LeakyReLU", {}, torch.nn.LeakyReLU()),
    ("LeakyReLU", {"negative_slope": 0.2}, torch.nn.LeakyReLU(0.2)),
    ("ELU", {}, torch.nn.ELU()),
    ("ELU", {"alpha": 0.5}, torch.nn.ELU(0.5)),
    ("GELU", {}, torch.nn.GELU()),
    ("GELU", {"approximate": "tanh"}, torch.nn.GELU(approximate="tanh")),
    ("Sigmoid", {}, torch.nn.Sigmoid()),
    ("Tanh", {}, torch.nn.Tanh()),
    ("ReLU6", {}, torch.nn.ReLU6()),
    ("SiLU", {}, torch.nn.SiLU()),
    ("Hardswish", {}, torch.nn.Hardswish()),
]


def _torch_value_and_grad(module, x: np.ndarray):
    tensor = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    out = module(tensor)
    out.sum().backward()
    return out.detach().numpy(), tensor.grad.numpy()


finite_inputs = arrays(np.float64, st.integers(1, 50), elements=st.floats(-30, 30, allow_nan=False))


@pytest.mark.parametrize(("name", "params", "module"), CASES, ids=[f"{c[0]}{c[1]}" for c in CASES])
@settings(max_examples=30, deadline=None)
@given(x=finite_inputs)
def test_function_and_derivative_equal_torch(name, params, module, x):
    act = activation(name, **params)
    value, grad = _torch_value_and_grad(module, x)
    np.testing.assert_allclose(act.function(x), value, rtol=1e-6, atol=2e-7)
    np.testing.assert_allclose(act.derivative(x), grad, rtol=1e-6, atol=2e-7)


@pytest.mark.parametrize(("name", "params", "module"), CASES, ids=[f"{c[0]}{c[1]}" for c in CASES])
def test_derivative_at_the_kink_follows_torch(name, params, module):
    x = np.array([0.0, -0.0, 1e-12, -1e-12])
    _, grad = _torch_value_and_grad(module, x)
    np.testing.assert_allclose(activation(name, **params).derivative(x), grad, atol=1e-9)


@pytest.mark.parametrize(("name", "params", "module"), CASES, ids=[f"{c[0]}{c[1]}" for c in CASES])
def test_values_and_derivatives_at_every_kink_follow_torch(name, params, module):
    """ReLU6 bends at 0 and 6, Hardswish at -3 and 3: torch's choice there too."""
    x = np.array([-6.0, -3.0, -3.0 - 1e-9, -2.999, 3.0, 3.0 + 1e-9, 6.0, 6.0 - 1e-9, 6.5])
    value, grad = _torch_value_and_grad(module, x)
    act = activation(name, **params)
    np.testing.assert_allclose(act.function(x), value, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(act.derivative(x), grad, rtol=1e-9, atol=1e-12)


def test_every_elementwise_catalogue_activation_has_a_curve():
    """The Activation panel can plot every element-wise activation of the palette."""
    from cnnviz.core.catalogue import CATALOGUE

    elementwise = {
        name for name, spec in CATALOGUE.items() if spec.is_activation and name != "Softmax"
    }
    assert elementwise == set(COMPARABLE)


def test_erf_is_torchs():
    x = np.linspace(-6, 6, 2001)
    np.testing.assert_allclose(erf(x), torch.erf(torch.from_numpy(x)).numpy(), atol=1e-15)
    assert erf(np.float64(0.5)) == pytest.approx(math.erf(0.5), abs=0)


def test_sigmoid_does_not_overflow():
    act = activation("Sigmoid")
    with np.errstate(over="raise", invalid="raise"):
        values = act.function(np.array([-1000.0, 1000.0]))
    np.testing.assert_allclose(values, [0.0, 1.0])


@settings(max_examples=50, deadline=None)
@given(x=arrays(np.float32, st.integers(1, 200), elements=st.floats(-8, 8, width=32)))
def test_dead_relu_share_is_the_fraction_of_inputs_at_most_zero(x):
    share = activation("ReLU").share_flat(x)
    assert share == pytest.approx(np.count_nonzero(x <= 0) / x.size)
    # ... which is where torch's ReLU passes no gradient at all.
    _, grad = _torch_value_and_grad(torch.nn.ReLU(), x.astype(np.float64))
    assert share == pytest.approx(np.mean(grad == 0))


@settings(max_examples=50, deadline=None)
@given(x=arrays(np.float64, st.integers(1, 200), elements=st.floats(-10, 10)))
def test_saturated_shares_are_counted_directly(x):
    assert activation("Sigmoid").share_flat(x) == pytest.approx(np.mean(np.abs(x) > 4))
    assert activation("Tanh").share_flat(x) == pytest.approx(np.mean(np.abs(x) > 2.5))
    assert activation("ELU").share_flat(x) == pytest.approx(np.mean(x < -4))
    assert activation("GELU").share_flat(x) == pytest.approx(np.mean(x < -3))
    assert activation("LeakyReLU").share_flat(x) == pytest.approx(np.mean(x < 0))


def test_flat_regions_really_have_small_gradients():
    """The thresholds in the table hold: outside the region the gradient is larger."""
    for name, bound in (
        ("Sigmoid", 0.018),
        ("Tanh", 0.027),
        ("GELU", 0.012),
        ("SiLU", 0.013),
    ):
        act = activation(name)
        x = np.linspace(-12, 12, 24001)
        inside = act.region.contains(x)
        assert np.all(np.abs(act.derivative(x[inside])) < bound), name
        assert np.all(np.abs(act.derivative(x[~inside & (np.abs(x) < 2)])) > 0), name


def test_relu6_and_hardswish_regions_are_exactly_where_the_gradient_is_0():
    x = np.linspace(-12, 12, 24001)
    for name in ("ReLU6", "Hardswish"):
        act = activation(name)
        inside = act.region.contains(x)
        _, grad = _torch_value_and_grad(getattr(torch.nn, name)(), x)
        # Hardswish's gradient also crosses 0 at -1.5 (its minimum): a point, not a region.
        flat = (grad == 0) & ~((name == "Hardswish") & (x == -1.5))
        np.testing.assert_array_equal(inside, flat, err_msg=name)


def test_empty_inputs_have_no_share():
    assert activation("ReLU").share_flat(np.array([])) == 0.0


def test_activation_for_layer_uses_the_layers_parameters():
    act = activation_for_layer(Layer.make("LeakyReLU", negative_slope=0.3))
    np.testing.assert_allclose(act.function(np.array([-1.0, 2.0])), [-0.3, 2.0])
    assert "0.3" in act.region.description
    assert activation_for_layer(Layer.make("GELU", approximate="tanh")).formula.startswith("0.5")


def test_unknown_or_not_elementwise_activation():
    with pytest.raises(ValueError, match="not an element-wise activation"):
        activation("Softmax")
    assert not is_elementwise_activation("Softmax")
    assert all(is_elementwise_activation(name) for name in COMPARABLE)


def test_input_range_and_histogram():
    x = np.array([-1.0, 0.0, 3.0, np.nan, np.inf], dtype=np.float32)
    low, high = input_range(x)
    assert low == pytest.approx(-1.2) and high == pytest.approx(3.2)
    counts, edges = histogram(x, (low, high), bins=8)
    assert counts.sum() == 3 and len(edges) == 9
    assert input_range(np.full(5, 2.0)) == (1.0, 3.0)
    assert input_range(np.array([])) == (-1.0, 1.0)


def test_a_relu_input_at_most_zero_is_off_for_this_image_not_dead():
    # One image cannot show a dead unit (never active for any input), and one
    # unit's zero gradient is not the vanishing-gradient problem (depth).
    relu = activation("ReLU")
    line = share_sentence(relu, 0.52, 12544)
    assert line == (
        "52.0% of this image's 12,544 inputs fall where ReLU is off (x ≤ 0: output 0, gradient 0)"
    )
    for name in COMPARABLE:
        text = share_sentence(activation(name), 0.1, 10).lower()
        assert "dead" not in text and "vanish" not in text, name
    assert "vanishing-gradient problem, per unit" not in FLAT_NOTE
    assert "never activates for any input" in FLAT_NOTE
    assert "multiplying small derivatives through many layers" in FLAT_NOTE
    assert "the Gradients panel (Ctrl+8) measures that" in FLAT_NOTE  # where it is seen
