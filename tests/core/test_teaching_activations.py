"""Step and Identity, the teaching curves: values against torch, lessons, not layers."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cnnviz.core.activations import (
    COMPARABLE,
    TEACHING,
    activation,
    is_elementwise_activation,
    share_sentence,
)

X = np.array([-1e9, -3.5, -1e-12, -0.0, 0.0, 1e-12, 0.25, 7.0, 1e9])


def test_step_is_torch_heaviside_with_one_at_zero():
    expected = torch.heaviside(torch.from_numpy(X), torch.tensor(1.0, dtype=torch.float64))
    np.testing.assert_array_equal(activation("Step").function(X), expected.numpy())
    assert activation("Step").function(np.array([0.0]))[0] == 1.0  # x ≥ 0 gives 1


def test_step_derivative_is_zero_except_undefined_at_zero():
    grad = activation("Step").derivative(X)
    at_zero = X == 0
    assert np.all(np.isnan(grad[at_zero]))
    np.testing.assert_array_equal(grad[~at_zero], 0.0)
    # The finite-difference slope agrees away from 0 and blows up across it.
    h = 1e-6
    step = activation("Step").function
    assert (step(np.array([h])) - step(np.array([-h])))[0] / (2 * h) > 1e5
    away = X[np.abs(X) > h]
    np.testing.assert_array_equal(step(away + h) - step(away - h), 0.0)


def test_step_lesson_says_why_gradient_descent_stops():
    step = activation("Step")
    assert "undefined" in step.lesson and "gradient 0" in step.lesson
    assert "gradient descent never moves them" in step.lesson
    # Every input is in the flat region: no gradient anywhere.
    assert step.share_flat(X) == 1.0


def test_identity_is_torch_identity_with_gradient_one():
    x = torch.tensor(X, requires_grad=True)
    out = torch.nn.Identity()(x)
    (out * 1.0).sum().backward()
    identity = activation("Identity")
    np.testing.assert_array_equal(identity.function(X), out.detach().numpy())
    np.testing.assert_array_equal(identity.derivative(X), x.grad.numpy())
    assert identity.share_flat(X) == 0.0
    assert "one linear map" in identity.lesson
    assert "nowhere" in share_sentence(identity, 0.0, 9)


def test_teaching_curves_are_not_layer_types():
    from cnnviz.core.catalogue import CATALOGUE

    assert "Step" not in CATALOGUE
    # nn.Identity is a pass-through layer of the palette, not one of its activations.
    assert not CATALOGUE["Identity"].is_activation
    for name in TEACHING:
        assert name not in COMPARABLE
        assert not is_elementwise_activation(name)
    with pytest.raises(ValueError, match="Step, Identity"):
        activation("Softmax")
