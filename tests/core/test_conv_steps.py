"""Every step of the walkthrough equals what torch computes for the same layer."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from cnnviz.core.conv_steps import (
    CLASSROOM_IMAGE,
    CLASSROOM_KERNEL,
    CLASSROOM_POOL_INPUT,
    INPUT,
    OUTSIDE,
    PADDING,
    ConvConfig,
    PoolConfig,
    StepError,
    conv_steps,
    conv_walkthrough,
    pad_input,
    pool_steps,
    pool_walkthrough,
)

SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.filter_too_much]
)
_TORCH_PAD_MODE = {"reflect": "reflect", "replicate": "replicate", "circular": "circular"}


def torch_conv(config: ConvConfig) -> np.ndarray:
    """The same layer computed by torch (padding modes through F.pad, as nn.Conv2d does)."""
    x = torch.from_numpy(np.array(config.input))[None]
    (top, bottom), (left, right) = config.padding
    mode = config.padding_mode
    if mode == "zeros":
        x = F.pad(x, (left, right, top, bottom))
    else:
        x = F.pad(x, (left, right, top, bottom), mode=_TORCH_PAD_MODE[mode])
    out = F.conv2d(
        x,
        torch.from_numpy(np.array(config.kernel)),
        torch.from_numpy(np.array(config.bias)),
        stride=config.stride,
        dilation=config.dilation,
        groups=config.groups,
    )
    if config.activation == "relu":
        out = F.relu(out)
    return out[0].numpy()


@st.composite
def conv_configs(draw):
    groups = draw(st.sampled_from([1, 1, 2, 3]))
    channels = groups * draw(st.integers(1, 2))
    out_channels = groups * draw(st.integers(1, 2))
    h, w = draw(st.integers(1, 8)), draw(st.integers(1, 8))
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    mode = draw(st.sampled_from(["zeros", "reflect", "replicate", "circular"]))
    limit_h, limit_w = (h - 1, w - 1) if mode == "reflect" else (3, 3)
    padding = (draw(st.integers(0, max(0, min(3, limit_h)))),
               draw(st.integers(0, max(0, min(3, limit_w)))))  # fmt: skip
    if mode == "circular":
        padding = (min(padding[0], h), min(padding[1], w))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    dilation = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    assume(dilation[0] * (kh - 1) + 1 <= h + 2 * padding[0])
    assume(dilation[1] * (kw - 1) + 1 <= w + 2 * padding[1])
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    return ConvConfig(
        input=rng.normal(size=(channels, h, w)),
        kernel=rng.normal(size=(out_channels, channels // groups, kh, kw)),
        bias=rng.normal(size=out_channels) if draw(st.booleans()) else None,
        stride=stride,
        padding=padding,
        dilation=dilation,
        groups=groups,
        padding_mode=mode,
        activation=draw(st.sampled_from(["none", "relu"])),
    )


@SETTINGS
@given(conv_configs())
def test_every_conv_step_equals_torch(config):
    expected = torch_conv(config)
    steps = conv_steps(config)
    assert expected.shape == config.output_shape
    assert len(steps) == expected.size
    for step in steps:
        assert step.value == pytest.approx(expected[step.out], rel=1e-9, abs=1e-9)


@SETTINGS
@given(conv_configs())
def test_steps_show_the_padded_window_and_its_products(config):
    (top, bottom), (left, right) = config.padding
    x = torch.from_numpy(np.array(config.input))[None]
    mode = config.padding_mode
    torch_padded = (
        F.pad(x, (left, right, top, bottom))
        if mode == "zeros"
        else F.pad(x, (left, right, top, bottom), mode=_TORCH_PAD_MODE[mode])
    )[0].numpy()
    padded = pad_input(config.input, config.padding, mode)
    np.testing.assert_array_equal(padded, torch_padded)
    for step in conv_steps(config):
        o, r, c = step.out
        np.testing.assert_array_equal(step.window, torch_padded[step.indices()])
        np.testing.assert_allclose(step.products, step.window * config.kernel[o])
        np.testing.assert_allclose(step.partial_sums, step.products.sum(axis=(1, 2)))
        assert step.total == pytest.approx(step.partial_sums.sum())
        assert step.bias == config.bias[o]
        # The window starts at (r*stride, c*stride) and skips dilation-1 cells.
        assert step.rows[0] == r * config.stride[0] and step.cols[0] == c * config.stride[1]
        assert set(np.diff(step.rows)) <= {config.dilation[0]}


def test_asymmetric_padding_as_torch_same():
    rng = np.random.default_rng(3)
    image, kernel = rng.normal(size=(2, 6, 7)), rng.normal(size=(3, 2, 4, 4))
    # torch's padding='same' for kernel 4 pads 1 before and 2 after.
    config = ConvConfig(image, kernel, padding=((1, 2), (1, 2)))
    expected = F.conv2d(torch.from_numpy(image)[None], torch.from_numpy(kernel), padding="same")[
        0
    ].numpy()
    assert config.output_shape == expected.shape == (3, 6, 7)
    for step in conv_steps(config):
        assert step.value == pytest.approx(expected[step.out], abs=1e-9)


@st.composite
def pool_configs(draw, mode):
    h, w = draw(st.integers(1, 9)), draw(st.integers(1, 9))
    kernel = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    padding = (draw(st.integers(0, kernel[0] // 2)), draw(st.integers(0, kernel[1] // 2)))
    stride = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    dilation = (draw(st.integers(1, 3)), draw(st.integers(1, 3))) if mode == "max" else (1, 1)
    ceil_mode = draw(st.booleans())
    for size, k, p, d in zip((h, w), kernel, padding, dilation, strict=True):
        assume(d * (k - 1) + 1 <= size + 2 * p)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    # Small whole numbers make ties, so the test also checks which maximum is chosen.
    values = rng.integers(-3, 4, size=(draw(st.integers(1, 3)), h, w)).astype(np.float64)
    return PoolConfig(
        values, mode, kernel, stride, padding, dilation, ceil_mode, draw(st.booleans())
    )


@SETTINGS
@given(pool_configs("max"))
def test_every_max_pool_step_equals_torch(config):
    x = torch.from_numpy(np.array(config.input))[None]
    expected, indices = F.max_pool2d(
        x,
        config.kernel_size,
        config.stride,
        config.padding,
        config.dilation,
        ceil_mode=config.ceil_mode,
        return_indices=True,
    )
    expected, indices = expected[0].numpy(), indices[0].numpy()
    steps = pool_steps(config)
    assert config.output_shape == expected.shape and len(steps) == expected.size
    width = config.input.shape[2]
    for step in steps:
        assert step.value == expected[step.out]
        if step.chosen is None:  # every cell is padding: torch's answer is -inf too
            assert step.value == -np.inf
            continue
        i, j = step.chosen
        image_row = step.rows[i] - config.padding[0]
        image_col = step.cols[j] - config.padding[1]
        assert image_row * width + image_col == indices[step.out]
        assert step.window[0, i, j] == step.value


@SETTINGS
@given(pool_configs("avg"))
def test_every_avg_pool_step_equals_torch(config):
    expected = F.avg_pool2d(
        torch.from_numpy(np.array(config.input))[None],
        config.kernel_size,
        config.stride,
        config.padding,
        ceil_mode=config.ceil_mode,
        count_include_pad=config.count_include_pad,
    )[0].numpy()
    steps = pool_steps(config)
    assert config.output_shape == expected.shape and len(steps) == expected.size
    for step in steps:
        assert step.value == pytest.approx(expected[step.out], abs=1e-12)
        assert step.value == pytest.approx(step.total / step.divisor)


def test_classroom_convolution_by_hand_and_by_torch():
    walk = conv_walkthrough(ConvConfig(CLASSROOM_IMAGE, CLASSROOM_KERNEL))
    by_hand = [[4, 3, 4], [2, 4, 3], [2, 3, 4]]
    np.testing.assert_array_equal(walk.output()[0], by_hand)
    np.testing.assert_array_equal(torch_conv(walk.config)[0], by_hand)
    first = walk.steps[0]
    # Top-left window [[1,1,1],[0,1,1],[0,0,1]] × X filter keeps 1,1,1,1 (corners and centre).
    np.testing.assert_array_equal(first.products[0], [[1, 0, 1], [0, 1, 0], [0, 0, 1]])
    assert first.partial_sums.tolist() == [4] and first.value == 4
    assert walk.formula[-1].endswith("= 3")


def test_classroom_max_pooling_marks_the_chosen_values():
    walk = pool_walkthrough(PoolConfig(CLASSROOM_POOL_INPUT, "max", (2, 2)))
    np.testing.assert_array_equal(walk.output()[0], [[5, 7], [8, 9]])
    chosen = [(s.rows[s.chosen[0]], s.cols[s.chosen[1]]) for s in walk.steps]
    assert chosen == [(1, 0), (1, 2), (2, 1), (3, 2)]


def test_classroom_average_pooling():
    walk = pool_walkthrough(PoolConfig(CLASSROOM_POOL_INPUT, "avg", (2, 2)))
    np.testing.assert_array_equal(walk.output()[0], [[3, 3.75], [3.75, 5.5]])
    assert [s.divisor for s in walk.steps] == [4, 4, 4, 4]


def test_padding_stride_dilation_example_and_its_formula():
    config = ConvConfig(CLASSROOM_IMAGE, CLASSROOM_KERNEL, stride=2, padding=1, dilation=2)
    walk = conv_walkthrough(config)
    np.testing.assert_array_equal(walk.output()[0], torch_conv(config)[0])
    assert walk.formula[-1] == (
        "H_out = W_out = ⌊(5 + 2·1 − 2·(3−1) − 1) / 2⌋ + 1 = ⌊2 / 2⌋ + 1 = 2"
    )
    # Padded 7x7: the border is padding, the middle 5x5 the image.
    assert walk.cell_kind.shape == (7, 7)
    assert (walk.cell_kind[1:6, 1:6] == INPUT).all() and (walk.cell_kind[0] == PADDING).all()
    assert walk.steps[1].rows.tolist() == [0, 2, 4] and walk.steps[1].cols.tolist() == [2, 4, 6]


def test_rectangular_formula_has_a_line_per_axis():
    config = ConvConfig(np.zeros((1, 6, 9)), np.zeros((1, 1, 3, 2)), stride=(1, 3), padding=(0, 2))
    walk = conv_walkthrough(config)
    assert walk.formula[1] == "H_out = ⌊(6 + 2·0 − 1·(3−1) − 1) / 1⌋ + 1 = ⌊3 / 1⌋ + 1 = 4"
    assert walk.formula[2] == "W_out = ⌊(9 + 2·2 − 1·(2−1) − 1) / 3⌋ + 1 = ⌊11 / 3⌋ + 1 = 4"
    assert config.output_shape == (1, 4, 4)


def test_ceil_mode_pooling_marks_cells_outside_the_padding():
    config = PoolConfig(np.arange(25.0).reshape(5, 5), "max", (2, 2), ceil_mode=True)
    walk = pool_walkthrough(config)
    assert walk.output_shape == (1, 3, 3)
    assert walk.cell_kind.shape == (6, 6) and (walk.cell_kind[5] == OUTSIDE).all()
    assert walk.formula[-1].endswith("⌈3 / 2⌉ + 1 = 3")
    np.testing.assert_array_equal(walk.output()[0], [[6, 8, 9], [16, 18, 19], [21, 23, 24]])


def test_region_and_channel_subset_match_the_full_walkthrough():
    rng = np.random.default_rng(0)
    config = ConvConfig(rng.normal(size=(2, 9, 9)), rng.normal(size=(3, 2, 3, 3)), padding=1)
    full = conv_walkthrough(config).output()
    part = conv_walkthrough(config, out_channels=[2], region=(4, 3, 2, 5))
    np.testing.assert_array_equal(part.output()[0], full[2, 4:6, 3:8])
    assert part.steps[0].out == (2, 4, 3) and part.window_box() == (4, 8, 3, 10)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"padding": 5, "padding_mode": "reflect"}, "reflect padding 5 must be smaller"),
        ({"padding": 6, "padding_mode": "circular"}, "circular padding 6 must not exceed"),
        ({"dilation": 3}, "the kernel spans 7 on the height"),
        ({"groups": 2}, "groups 2 does not divide the 1 input channels"),
        ({"stride": 0}, "stride must be at least 1"),
        ({"padding_mode": "mirror"}, "padding mode must be one of"),
        ({"bias": [1.0, 2.0]}, "bias needs 1 values"),
    ],
)
def test_impossible_conv_parameters_say_why(kwargs, message):
    with pytest.raises(StepError, match=message):
        ConvConfig(CLASSROOM_IMAGE, CLASSROOM_KERNEL, **kwargs)


def test_kernel_channels_must_match_the_input():
    with pytest.raises(StepError, match="each filter has 1 channel"):
        ConvConfig(np.zeros((3, 5, 5)), np.zeros((2, 1, 3, 3)))
    with pytest.raises(StepError, match="not a finite number"):
        ConvConfig(np.full((1, 3, 3), np.nan), np.zeros((1, 1, 1, 1)))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kernel_size": 2, "padding": 2}, "at most half the kernel"),
        ({"mode": "avg", "dilation": 2}, "average pooling has no dilation"),
        ({"kernel_size": 6}, "does not fit"),
        ({"mode": "min"}, "pooling must be one of"),
    ],
)
def test_impossible_pool_parameters_say_why(kwargs, message):
    with pytest.raises(StepError, match=message):
        PoolConfig(CLASSROOM_POOL_INPUT, **kwargs)
