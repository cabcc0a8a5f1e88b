"""Every backward step equals what torch's autograd computes for the same layer."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from cnnviz.core.conv_backward import (
    grad_input,
    grad_input_walkthrough,
    grad_output,
    grad_weight,
    grad_weight_walkthrough,
    pool_backward_walkthrough,
    pool_grad_input,
    pool_grad_so_far,
    pool_targets,
)
from cnnviz.core.conv_steps import INPUT, ConvConfig, PoolConfig, StepError
from cnnviz.core.conv_text import result_lines, window_text

SETTINGS = settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.filter_too_much]
)


@st.composite
def conv_cases(draw):
    groups = draw(st.sampled_from([1, 1, 2, 3]))
    channels = groups * draw(st.integers(1, 2))
    out_channels = groups * draw(st.integers(1, 2))
    h, w = draw(st.integers(1, 8)), draw(st.integers(1, 8))
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    # Asymmetric padding as torch's padding='same' makes for even kernels.
    padding = tuple((draw(st.integers(0, 3)), draw(st.integers(0, 3))) for _ in range(2))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    dilation = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    assume(dilation[0] * (kh - 1) + 1 <= h + sum(padding[0]))
    assume(dilation[1] * (kw - 1) + 1 <= w + sum(padding[1]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    config = ConvConfig(
        rng.normal(size=(channels, h, w)),
        rng.normal(size=(out_channels, channels // groups, kh, kw)),
        stride=stride, padding=padding, dilation=dilation, groups=groups,
    )  # fmt: skip
    return config, rng.normal(size=config.output_shape)


def autograd(config: ConvConfig, grad: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x = torch.tensor(np.array(config.input)[None], requires_grad=True)
    w = torch.tensor(np.array(config.kernel), requires_grad=True)
    (top, bottom), (left, right) = config.padding
    y = F.conv2d(F.pad(x, (left, right, top, bottom)), w, stride=config.stride,
                 dilation=config.dilation, groups=config.groups)  # fmt: skip
    y.backward(torch.from_numpy(grad)[None])
    return x.grad[0].numpy(), w.grad.numpy()


@SETTINGS
@given(conv_cases())
def test_every_grad_input_step_equals_autograd(case):
    config, grad = case
    expected, _ = autograd(config, grad)
    walk = grad_input_walkthrough(config, grad)
    assert len(walk.steps) == expected.size and walk.output_shape == expected.shape
    for step in walk.steps:
        assert step.value == pytest.approx(expected[step.out], rel=1e-9, abs=1e-9)
        # The products are ∂L/∂Y values (or zeros) times the flipped kernel's taps.
        c = step.out[0]
        np.testing.assert_allclose(step.products, step.window * walk.config.kernel[c])
        assert step.total == pytest.approx(step.products.sum())
    np.testing.assert_allclose(grad_input(config, grad), expected, atol=1e-9)


@SETTINGS
@given(conv_cases())
def test_grad_input_windows_hold_the_gradient_spread_by_the_stride(case):
    config, grad = case
    walk = grad_input_walkthrough(config, grad)
    (sh, sw), (top, left) = config.stride, walk.pad_before
    # Every ∂L/∂Y value sits in the spread grid at (r·S, c·S) from the shown origin;
    # every other cell is a zero.
    real = walk.cell_kind == INPUT
    rows, cols = np.nonzero(real)
    for channel in range(grad.shape[0]):
        shown = walk.padded[channel][real]
        np.testing.assert_array_equal(shown, grad[channel, (rows - top) // sh, (cols - left) // sw])
        assert not walk.padded[channel][~real].any()
    assert ((rows - top) % sh == 0).all() and ((cols - left) % sw == 0).all()
    # Each kernel shown is the layer's, flipped in both directions.
    in_per, out_per = config.input.shape[0] // config.groups, grad.shape[0] // config.groups
    for c in range(config.input.shape[0]):
        g = c // in_per
        for k, o in enumerate(range(g * out_per, (g + 1) * out_per)):
            np.testing.assert_array_equal(
                walk.config.kernel[c, k], config.kernel[o, c % in_per][::-1, ::-1]
            )


@SETTINGS
@given(conv_cases())
def test_every_grad_weight_step_equals_autograd(case):
    config, grad = case
    _, expected = autograd(config, grad)
    walk = grad_weight_walkthrough(config, grad)
    assert len(walk.steps) == expected.size
    values = np.array([step.value for step in walk.steps]).reshape(expected.shape)
    np.testing.assert_allclose(values, expected, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(grad_weight(config, grad), expected, atol=1e-9)
    for step in walk.steps:
        # One weight: X read every `stride` cells from (D·p, D·q), times all of ∂L/∂Y[o].
        _, p, q = step.out
        assert step.rows[0] == config.dilation[0] * p and step.cols[0] == config.dilation[1] * q
        assert set(np.diff(step.rows)) <= {config.stride[0]}
        assert step.window.shape[1:] == grad.shape[1:]


def test_classroom_by_hand():
    # Valid 3x3 conv of the 5x5 image, ∂L/∂Y = ones: ∂L/∂X counts how often each
    # pixel meets each kernel tap; ∂L/∂W[p, q] sums the 3x3 block of X at (p, q).
    from cnnviz.core.conv_steps import CLASSROOM_IMAGE, CLASSROOM_KERNEL

    config = ConvConfig(CLASSROOM_IMAGE, CLASSROOM_KERNEL)
    ones = grad_output(config.output_shape)
    dw = grad_weight(config, ones)[0, 0]
    blocks = [[CLASSROOM_IMAGE[p : p + 3, q : q + 3].sum() for q in range(3)] for p in range(3)]
    np.testing.assert_array_equal(dw, blocks)
    dx = grad_input(config, ones)[0]
    assert dx[0, 0] == 1 and dx[2, 2] == 5  # the centre meets every tap but the edges' 0s
    walk = grad_input_walkthrough(config, ones)
    last = walk.steps[-1]
    assert result_lines(walk, last) == ["∂L/∂X[0, 4, 4] = 1"]
    assert window_text(walk, last) == "meets ∂L/∂Y[·, r, c] at (r, c) = (2, 2)"


def test_stride_padding_texts_say_what_is_zero_and_discarded():
    config = ConvConfig(np.ones((1, 5, 5)), np.ones((1, 1, 3, 3)), stride=2, padding=1)
    walk = grad_input_walkthrough(config, np.ones(config.output_shape))
    assert "padded positions is discarded" in walk.padding_note()
    assert "full conv" in walk.description()
    # Input (1, 1) is read by no window's tap at a ∂L/∂Y value only when the spread
    # leaves zeros there; (0, 0) meets ∂L/∂Y[0, 0] under the centre tap.
    assert window_text(walk, walk.steps[0]) == "meets ∂L/∂Y[·, r, c] at (r, c) = (0, 0)"
    weights = grad_weight_walkthrough(config, np.ones(config.output_shape))
    assert weights.names.value(*weights.steps[0].out) == "∂L/∂W[0, 0, 0, 0]"


def test_backward_refuses_copy_padding_and_wrong_gradients():
    config = ConvConfig(np.ones((1, 4, 4)), np.ones((1, 1, 3, 3)), padding=1,
                        padding_mode="reflect")  # fmt: skip
    with pytest.raises(StepError, match="zero padding only"):
        grad_input_walkthrough(config, np.ones(config.output_shape))
    plain = ConvConfig(np.ones((1, 4, 4)), np.ones((1, 1, 3, 3)))
    with pytest.raises(StepError, match=r"shape \(1, 2, 2\)"):
        grad_weight_walkthrough(plain, np.ones((3, 3)))
    with pytest.raises(StepError, match="finite"):
        grad_input_walkthrough(plain, np.full((1, 2, 2), np.nan))
    with pytest.raises(StepError, match="ones, random"):
        grad_output((1, 2, 2), "zeros")
    random = grad_output((2, 3, 3), "random", seed=4)
    np.testing.assert_array_equal(random, grad_output((2, 3, 3), "random", seed=4))
    assert set(np.unique(random)) <= {-2, -1, 0, 1, 2}


@st.composite
def pool_cases(draw, mode):
    h, w = draw(st.integers(1, 9)), draw(st.integers(1, 9))
    kernel = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    padding = (draw(st.integers(0, kernel[0] // 2)), draw(st.integers(0, kernel[1] // 2)))
    stride = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    dilation = (draw(st.integers(1, 3)), draw(st.integers(1, 3))) if mode == "max" else (1, 1)
    for size, k, p, d in zip((h, w), kernel, padding, dilation, strict=True):
        assume(d * (k - 1) + 1 <= size + 2 * p)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    # Small whole numbers make ties: the gradient must go to torch's winner.
    values = rng.integers(-2, 3, size=(draw(st.integers(1, 3)), h, w)).astype(np.float64)
    config = PoolConfig(values, mode, kernel, stride, padding, dilation, draw(st.booleans()),
                        draw(st.booleans()))  # fmt: skip
    return config, rng.normal(size=config.output_shape)


def pool_autograd(config: PoolConfig, grad: np.ndarray) -> np.ndarray:
    x = torch.tensor(np.array(config.input)[None], requires_grad=True)
    if config.mode == "max":
        y = F.max_pool2d(x, config.kernel_size, config.stride, config.padding, config.dilation,
                         ceil_mode=config.ceil_mode)  # fmt: skip
    else:
        y = F.avg_pool2d(x, config.kernel_size, config.stride, config.padding,
                         ceil_mode=config.ceil_mode,
                         count_include_pad=config.count_include_pad)  # fmt: skip
    y.backward(torch.from_numpy(grad)[None])
    return x.grad[0].numpy()


def _alone(walk, step, grad):
    alone = np.zeros_like(grad)
    alone[step.out] = step.value
    return alone


@SETTINGS
@given(pool_cases("max"))
def test_max_pooling_routes_each_gradient_to_torchs_winner(case):
    config, grad = case
    walk = pool_backward_walkthrough(config, grad)
    # A dilated window that reads only padding has no winner: its forward value is −∞
    # and torch's backward writes that gradient to an unrelated cell (index −1).
    assume(all(step.chosen is not None for step in walk.steps))
    np.testing.assert_allclose(pool_grad_input(config, grad), pool_autograd(config, grad),
                               atol=1e-12)  # fmt: skip
    for step in walk.steps:
        assert step.value == grad[step.out]
        # One step alone is autograd with ∂L/∂Y zero everywhere but its cell.
        expected = pool_autograd(config, _alone(walk, step, grad))
        cells, share, _ = pool_targets(walk, step)
        assert len(cells) == 1 and share == step.value
        assert expected[cells[0]] == step.value
        assert np.count_nonzero(expected) <= 1


@SETTINGS
@given(pool_cases("avg"))
def test_average_pooling_splits_each_gradient_as_torch(case):
    config, grad = case
    walk = pool_backward_walkthrough(config, grad)
    np.testing.assert_allclose(pool_grad_input(config, grad), pool_autograd(config, grad),
                               atol=1e-12)  # fmt: skip
    for n, step in enumerate(walk.steps[:6]):
        expected = pool_autograd(config, _alone(walk, step, grad))
        cells, share, _ = pool_targets(walk, step)
        assert share == pytest.approx(step.value / step.divisor)
        assert all(expected[cell] == pytest.approx(share) for cell in cells)
        assert np.count_nonzero(expected) <= len(cells)
        # The running ∂L/∂X is the autograd of the first n+1 cells' ∂L/∂Y.
        first = np.zeros_like(grad)
        for done in walk.steps[: n + 1]:
            first[done.out] = done.value
        np.testing.assert_allclose(pool_grad_so_far(walk, n + 1), pool_autograd(config, first),
                                   atol=1e-12)  # fmt: skip


def test_pool_step_texts():
    from cnnviz.core.conv_steps import CLASSROOM_POOL_INPUT

    walk = pool_backward_walkthrough(PoolConfig(CLASSROOM_POOL_INPUT, "max"), np.ones((1, 2, 2)))
    # The last window's maximum is the 9 at row 3, column 2.
    assert result_lines(walk, walk.steps[-1]) == [
        "∂L/∂Y[0, 1, 1] = 1", "→ ∂L/∂X[0, 3, 2]", "(the window's maximum)"
    ]  # fmt: skip
    avg = PoolConfig(CLASSROOM_POOL_INPUT, "avg", 3, 2, 1)
    walk = pool_backward_walkthrough(avg, grad_output(avg.output_shape))
    assert result_lines(walk, walk.steps[0]) == [
        "∂L/∂Y[0, 0, 0] = 1", "÷ 9 = 0.11", "to each of 4 cells", "(5 on padding: discarded)"
    ]  # fmt: skip
    assert walk.description().startswith("backward: average pooling splits")
