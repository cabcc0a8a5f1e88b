"""A Conv2d's dense matrix: M @ x + b is torch's conv2d; its counts are torch's modules'."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from torch import nn

from cnnviz.core.architecture import Layer
from cnnviz.core.conv_as_dense import (
    MAX_ENTRIES,
    ConvGeometry,
    DenseTooLarge,
    bytes_in_words,
    crop,
    crop_weight,
    dense_bias,
    dense_matrix,
    entry_at,
    in_words,
    weight_index,
)
from cnnviz.core.layers._common import ShapeError


@st.composite
def convs(draw):
    """A Conv2d layer and an input it fits, small enough for a dense matrix."""
    groups = draw(st.integers(1, 3))
    c_in = groups * draw(st.integers(1, 2))
    c_out = groups * draw(st.integers(1, 2))
    kernel = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    # Stride 1 half the time: 'same' padding (uneven for even spans) needs it.
    strides = st.sampled_from([1, 1, 1, 2, 3])
    stride = (draw(strides), draw(strides))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    padding = draw(
        st.one_of(
            st.tuples(st.integers(0, 2), st.integers(0, 2)),
            st.sampled_from(["same", "valid"]) if stride == (1, 1) else st.just("valid"),
        )
    )
    spans = [d * (k - 1) + 1 for k, d in zip(kernel, dilation, strict=True)]
    height = draw(st.integers(spans[0], spans[0] + 6))
    width = draw(st.integers(spans[1], spans[1] + 6))
    params = dict(
        out_channels=c_out,
        kernel_size=kernel,
        stride=stride,
        padding=padding,
        dilation=dilation,
        groups=groups,
        bias=draw(st.booleans()),
    )
    return params, (c_in, height, width)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=convs(), seed=st.integers(0, 2**31 - 1))
@example(
    case=(
        dict(
            out_channels=1,
            kernel_size=(4, 2),
            stride=1,
            padding="same",
            dilation=1,
            groups=1,
            bias=True,
        ),
        (1, 5, 4),
    ),
    seed=0,
)
def test_dense_matrix_times_input_is_torch_conv2d(case, seed):
    params, shape = case
    torch.manual_seed(seed)
    conv = nn.Conv2d(shape[0], **params).double()
    x = torch.randn(1, *shape, dtype=torch.float64)
    geometry = ConvGeometry.of(Layer.make("Conv2d", **params), shape)
    weight = conv.weight.detach().numpy()
    bias = None if conv.bias is None else conv.bias.detach().numpy()
    matrix = dense_matrix(weight, geometry)
    expected = conv(x).detach().numpy().reshape(-1)
    assert matrix.shape == (expected.size, x.numel())
    found = matrix @ x.numpy().reshape(-1) + dense_bias(bias, geometry)
    np.testing.assert_allclose(found, expected, rtol=1e-10, atol=1e-10)


@settings(max_examples=60, deadline=None)
@given(case=convs())
def test_every_entry_is_one_kernel_weight_used_once_per_output(case):
    """Sharing: each row holds each tap of its filter at most once; each weight
    appears in many rows (every position whose window it falls inside)."""
    params, shape = case
    geometry = ConvGeometry.of(Layer.make("Conv2d", **params), shape)
    index = weight_index(geometry)
    for row in index:
        used = row[row >= 0]
        assert len(np.unique(used)) == len(used)
    used = index[index >= 0]
    assert used.max(initial=-1) < np.prod(geometry.weight_shape)
    # Torch agrees on which entries are non-zero: the conv's Jacobian.
    weight = np.arange(1, np.prod(geometry.weight_shape) + 1, dtype=np.float64)
    weight = weight.reshape(geometry.weight_shape)
    jacobian = torch.autograd.functional.jacobian(
        lambda x: _conv(x, weight, params, shape).reshape(-1), torch.zeros(geometry.cols).double()
    )
    np.testing.assert_array_equal(
        jacobian.numpy(), np.where(index >= 0, weight.reshape(-1)[index], 0)
    )


def _conv(x_flat, weight, params, shape):
    return F.conv2d(
        x_flat.reshape(1, *shape),
        torch.from_numpy(weight),
        stride=params["stride"],
        padding=params["padding"],
        dilation=params["dilation"],
        groups=params["groups"],
    )


CASES = [
    (dict(out_channels=16, kernel_size=3, padding=1), (3, 32, 32)),
    (dict(out_channels=6, kernel_size=5), (1, 32, 32)),
    (dict(out_channels=8, kernel_size=(3, 1), stride=2, bias=False), (4, 9, 7)),
    (dict(out_channels=6, kernel_size=3, groups=3, dilation=2, padding=2), (3, 10, 12)),
    (dict(out_channels=64, kernel_size=3, padding=1), (64, 224, 224)),  # VGG-16 conv 2
]


@pytest.mark.parametrize(("params", "shape"), CASES)
def test_counts_equal_torch_conv_and_meta_linear(params, shape):
    geometry = ConvGeometry.of(Layer.make("Conv2d", **params), shape)
    found = geometry.counts()
    with torch.device("meta"):
        conv = nn.Conv2d(shape[0], **params)
        out = conv(torch.empty(1, *shape))
        dense = nn.Linear(int(np.prod(shape)), out.numel(), bias=params.get("bias", True))
    assert geometry.out_shape == tuple(out.shape[1:])
    assert found.conv_params == sum(p.numel() for p in conv.parameters())
    assert found.dense_params == sum(p.numel() for p in dense.parameters())
    assert found.ratio == pytest.approx(found.dense_params / found.conv_params)


def test_vgg_sized_conv_is_refused_in_one_line_with_its_counts():
    geometry = ConvGeometry.of(
        Layer.make("Conv2d", out_channels=64, kernel_size=3, padding=1), (64, 224, 224)
    )
    with pytest.raises(DenseTooLarge) as caught:
        weight_index(geometry)
    line = str(caught.value)
    assert "\n" not in line
    assert "3,211,264 × 3,211,264 = 10,312,216,477,696 entries (10.3 trillion)" in line
    assert f"over the {MAX_ENTRIES:,} drawn" in line
    # 64·64·3·3 + 64 = 36,928 against 3,211,264² + 3,211,264.
    assert "conv 36,928 params, dense 10,312,219,688,960" in line


def test_just_under_the_bound_is_built_just_over_is_refused():
    under = ConvGeometry((1, 2000, 1), 1, (1, 1))  # 2,000 × 2,000 = 4,000,000
    assert weight_index(under).shape == (2000, 2000)
    with pytest.raises(DenseTooLarge):
        weight_index(ConvGeometry((1, 2001, 1), 1, (1, 1)))


def test_entry_at_names_output_input_and_kernel_weight():
    layer = Layer.make("Conv2d", out_channels=2, kernel_size=3, padding=1)
    geometry = ConvGeometry.of(layer, (1, 4, 4))
    index = weight_index(geometry)
    # Output (1, 2, 3) reads input (0, 1, 3) with tap i = 1 - 2 + 1 = 0, j = 3 - 3 + 1 = 1.
    row, col = (1 * 4 + 2) * 4 + 3, 1 * 4 + 3
    entry = entry_at(geometry, index, row, col)
    assert (entry.output, entry.input, entry.weight) == ((1, 2, 3), (0, 1, 3), (1, 0, 0, 1))
    assert entry_at(geometry, index, 0, 15).weight is None  # far outside the window


def test_crop_keeps_the_kernel_and_gives_a_readable_matrix():
    geometry = ConvGeometry.of(
        Layer.make("Conv2d", out_channels=6, kernel_size=5), (1, 32, 32)
    )  # LeNet-5 conv 0: 4,704 × 1,024 is over the bound
    small = crop(geometry)
    assert (small.in_shape, small.out_shape) == ((1, 10, 10), (1, 6, 6))
    weight = np.random.default_rng(0).normal(size=geometry.weight_shape)
    kernel = crop_weight(weight, 2)
    matrix = dense_matrix(kernel, small)
    x = np.random.default_rng(1).normal(size=small.in_shape)
    expected = F.conv2d(torch.from_numpy(x)[None], torch.from_numpy(kernel)).numpy().reshape(-1)
    np.testing.assert_allclose(matrix @ x.reshape(-1), expected)
    # 36 outputs × 25 taps: every weight of filter 2 used at all 36 positions.
    assert np.count_nonzero(matrix) == 36 * 25


def test_non_conv_and_reflect_padding_are_refused_in_one_line():
    with pytest.raises(ShapeError, match="ReLU is not a Conv2d"):
        ConvGeometry.of(Layer.make("ReLU"), (1, 8, 8))
    reflect = Layer.make("Conv2d", out_channels=1, kernel_size=3, padding=1, padding_mode="reflect")
    with pytest.raises(ShapeError, match="zero padding only"):
        ConvGeometry.of(reflect, (1, 8, 8))
    with pytest.raises(ShapeError):
        ConvGeometry.of(Layer.make("Conv2d", out_channels=1, kernel_size=5), (1, 3, 3))


def test_in_words():
    assert in_words(10_312_216_477_696) == "10.3 trillion"
    assert in_words(4_816_896) == "4.8 million"
    assert in_words(999) == "999"
    assert bytes_in_words(4 * 10_312_219_688_960) == "41.2 TB"
    assert bytes_in_words(4 * 1_792) == "7.2 kB"
