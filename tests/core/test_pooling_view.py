"""Pooling windows, winners and means, checked against torch's pooling."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from cnnviz.core.architecture import Layer
from cnnviz.core.pooling_view import (
    PoolGeometry,
    adaptive_boxes,
    box_means,
    box_outline_segments,
    flat_windows,
    max_pool_winners,
    pool_geometry,
    window_boxes,
    window_means,
)


@st.composite
def geometries(draw, dilated=True):
    kernel = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = tuple(draw(st.integers(0, k // 2)) for k in kernel)
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2))) if dilated else (1, 1)
    ceil_mode = draw(st.booleans())
    geom = PoolGeometry(kernel, stride, padding, dilation, ceil_mode)
    span = [d * (k - 1) + 1 for k, d in zip(kernel, dilation, strict=True)]
    height = draw(st.integers(max(1, span[0] - 2 * padding[0]), 12))
    width = draw(st.integers(max(1, span[1] - 2 * padding[1]), 12))
    return geom, (height, width)


def _torch_max(channel: np.ndarray, geom: PoolGeometry):
    values, indices = F.max_pool2d(
        torch.from_numpy(channel)[None, None],
        geom.kernel,
        geom.stride,
        geom.padding,
        geom.dilation,
        ceil_mode=geom.ceil_mode,
        return_indices=True,
    )
    return values[0, 0].numpy(), indices[0, 0].numpy()


@settings(max_examples=80, deadline=None)
@given(geometries(), st.integers(0, 2**31 - 1), st.booleans())
def test_max_pool_winners_are_torchs_indices(case, seed, with_ties):
    geom, hw = case
    channel = np.random.default_rng(seed).normal(size=hw).astype(np.float32)
    if with_ties:  # after a ReLU most windows are all zeros: ties everywhere
        channel = np.maximum(channel, 0)
    values, indices = _torch_max(channel, geom)
    winners = max_pool_winners(channel, geom)
    assert winners.shape[:2] == values.shape
    # A dilated window can fall wholly in the padding: torch gives -inf, we no winner.
    real = np.isfinite(values)
    np.testing.assert_array_equal(winners[~real], -1)
    found = winners[real]
    np.testing.assert_array_equal(found[:, 0] * hw[1] + found[:, 1], indices[real])
    np.testing.assert_array_equal(channel[found[:, 0], found[:, 1]], values[real])


def test_max_pool_winners_known_case():
    # The classic 4×4 example: 2×2 max pooling keeps 5, 7, 8, 9.
    channel = np.array([[4, 2, 3, 1], [5, 1, 7, 4], [2, 8, 4, 6], [1, 4, 9, 3]], dtype=np.float32)
    winners = max_pool_winners(channel, PoolGeometry((2, 2), (2, 2), (0, 0)))
    assert winners.tolist() == [[[1, 0], [1, 2]], [[2, 1], [3, 2]]]


@settings(max_examples=60, deadline=None)
@given(geometries(dilated=False), st.integers(0, 2**31 - 1), st.booleans())
def test_window_means_are_torchs_average_pooling(case, seed, count_include_pad):
    geom, hw = case
    geom = PoolGeometry(
        geom.kernel, geom.stride, geom.padding, (1, 1), geom.ceil_mode, count_include_pad
    )
    channel = np.random.default_rng(seed).normal(size=hw).astype(np.float32)
    expected = F.avg_pool2d(
        torch.from_numpy(channel)[None, None],
        geom.kernel,
        geom.stride,
        geom.padding,
        ceil_mode=geom.ceil_mode,
        count_include_pad=count_include_pad,
    )[0, 0].numpy()
    np.testing.assert_allclose(window_means(channel, geom), expected, rtol=1e-5, atol=1e-6)


def test_divisor_override_divides_every_window_alike():
    channel = np.ones((4, 4), dtype=np.float32)
    geom = PoolGeometry((2, 2), (2, 2), (0, 0), divisor_override=2)
    np.testing.assert_array_equal(window_means(channel, geom), np.full((2, 2), 2.0))


@settings(max_examples=40, deadline=None)
@given(geometries(dilated=False), st.data())
def test_window_box_holds_exactly_the_cells_its_output_sees(case, data):
    """A one-hot input reaches output (i, j) iff the hot cell is in (i, j)'s box."""
    geom, hw = case
    row = data.draw(st.integers(0, hw[0] - 1))
    col = data.draw(st.integers(0, hw[1] - 1))
    one_hot = np.zeros(hw, dtype=np.float32)
    one_hot[row, col] = 1.0
    values, _ = _torch_max(one_hot, geom)
    boxes = window_boxes(geom, hw)
    inside = (
        (boxes[..., 0] <= row)
        & (row < boxes[..., 2])
        & (boxes[..., 1] <= col)
        & (col < boxes[..., 3])
    )
    np.testing.assert_array_equal(inside, values == 1.0)


@settings(max_examples=40, deadline=None)
@given(geometries(), st.integers(0, 2**31 - 1))
def test_winners_lie_inside_their_window(case, seed):
    geom, hw = case
    channel = np.random.default_rng(seed).normal(size=hw).astype(np.float32)
    winners = max_pool_winners(channel, geom)
    boxes = window_boxes(geom, hw)
    real = winners[..., 0] >= 0
    winners, boxes = winners[real], boxes[real]
    assert np.all(boxes[..., 0] <= winners[..., 0]) and np.all(winners[..., 0] < boxes[..., 2])
    assert np.all(boxes[..., 1] <= winners[..., 1]) and np.all(winners[..., 1] < boxes[..., 3])


@settings(max_examples=40, deadline=None)
@given(
    st.integers(1, 14), st.integers(1, 14), st.integers(1, 7), st.integers(1, 7),
    st.integers(0, 2**31 - 1),
)  # fmt: skip
def test_adaptive_boxes_give_torchs_adaptive_average(h, w, oh, ow, seed):
    channel = np.random.default_rng(seed).normal(size=(h, w)).astype(np.float32)
    expected = F.adaptive_avg_pool2d(torch.from_numpy(channel)[None, None], (oh, ow))[0, 0]
    boxes = adaptive_boxes((h, w), (oh, ow))
    np.testing.assert_allclose(box_means(channel, boxes), expected.numpy(), rtol=1e-5, atol=1e-6)


def test_flat_windows():
    channel = np.zeros((4, 4), dtype=np.float32)
    channel[0, 0] = 1.0
    flat = flat_windows(channel, PoolGeometry((2, 2), (2, 2), (0, 0)))
    assert flat.tolist() == [[False, True], [True, True]]


def test_pool_geometry_reads_torch_defaults():
    geom = pool_geometry(Layer.make("MaxPool2d", kernel_size=3))
    assert (geom.kernel, geom.stride, geom.padding, geom.dilation) == (
        (3, 3),
        (3, 3),
        (0, 0),
        (1, 1),
    )
    avg = pool_geometry(Layer.make("AvgPool2d", kernel_size=2, stride=1, count_include_pad=False))
    assert avg.stride == (1, 1) and avg.count_include_pad is False
    with pytest.raises(ValueError, match="no fixed pooling window"):
        pool_geometry(Layer.make("AdaptiveAvgPool2d", output_size=1))


def test_box_outline_segments():
    xs, ys = box_outline_segments(np.array([[[1, 2, 3, 5]]]))
    # Four segments (pairs of points) around rows 1..3, cols 2..5.
    assert list(zip(xs, ys, strict=True)) == [
        (2, 1), (5, 1), (5, 1), (5, 3), (5, 3), (2, 3), (2, 3), (2, 1),
    ]  # fmt: skip
