"""Teaching kernels: the textbook values, and what they do in a real convolution."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from cnnviz.core import kernels
from cnnviz.core.kernels import (
    KernelError,
    rgb_composite,
    spread_over_inputs,
    teaching_kernel,
)

TEXTBOOK = {
    kernels.IDENTITY: [[0, 0, 0], [0, 1, 0], [0, 0, 0]],
    kernels.BOX_BLUR: np.full((3, 3), 1 / 9),
    kernels.SHARPEN: [[0, -1, 0], [-1, 5, -1], [0, -1, 0]],
    kernels.SOBEL_X: [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]],
    kernels.SOBEL_Y: [[-1, -2, -1], [0, 0, 0], [1, 2, 1]],
    kernels.LAPLACIAN: [[0, 1, 0], [1, -4, 1], [0, 1, 0]],
    kernels.EMBOSS: [[-2, -1, 0], [-1, 1, 1], [0, 1, 2]],
}


def _conv(image: np.ndarray, weight: np.ndarray, padding: int) -> np.ndarray:
    """torch's conv2d of one (C, H, W) image with one filter (C, kh, kw)."""
    out = F.conv2d(torch.from_numpy(image)[None], torch.from_numpy(weight)[None], padding=padding)
    return out[0, 0].numpy()


@pytest.mark.parametrize("name", list(TEXTBOOK))
def test_three_by_three_presets_are_the_textbook_kernels(name):
    kernel = teaching_kernel(name)
    assert kernel.dtype == np.float32
    np.testing.assert_allclose(kernel, TEXTBOOK[name], rtol=1e-6)


def test_every_preset_is_offered_and_described():
    assert set(kernels.PRESETS) == set(TEXTBOOK) | {kernels.GAUSSIAN_BLUR}
    assert set(kernels.DESCRIPTIONS) == set(kernels.PRESETS)


@pytest.mark.parametrize("size", [(3, 3), (5, 5), (7, 3), (1, 1), (2, 4)])
def test_blurs_keep_brightness_and_gaussian_is_centre_heavy(size):
    for name in (kernels.BOX_BLUR, kernels.GAUSSIAN_BLUR):
        assert teaching_kernel(name, size).sum() == pytest.approx(1.0, rel=1e-6)
    gaussian = teaching_kernel(kernels.GAUSSIAN_BLUR, size)
    np.testing.assert_allclose(gaussian, gaussian[::-1, ::-1], rtol=1e-6)
    if min(size) >= 3 and size[0] % 2 and size[1] % 2:
        assert gaussian.argmax() == gaussian.size // 2


def test_three_by_three_gaussian_is_close_to_the_binomial_kernel():
    binomial = np.outer([1, 2, 1], [1, 2, 1]) / 16
    np.testing.assert_allclose(teaching_kernel(kernels.GAUSSIAN_BLUR), binomial, atol=0.025)


@pytest.mark.parametrize("size", [3, 5, 7])
def test_identity_reproduces_the_input_in_a_real_convolution(size):
    image = np.random.default_rng(0).random((1, 9, 11)).astype(np.float32)
    weight = teaching_kernel(kernels.IDENTITY, (size, size))[None]
    np.testing.assert_allclose(_conv(image, weight, size // 2), image[0], rtol=1e-6)


@pytest.mark.parametrize(
    "name", [kernels.SOBEL_X, kernels.SOBEL_Y, kernels.LAPLACIAN, kernels.SHARPEN, kernels.EMBOSS]
)
def test_larger_kernels_compute_the_same_filter(name):
    image = np.random.default_rng(1).random((1, 10, 12)).astype(np.float32)
    small = _conv(image, teaching_kernel(name, (3, 3))[None], padding=1)
    large = _conv(image, teaching_kernel(name, (5, 5))[None], padding=2)
    np.testing.assert_allclose(large, small, rtol=1e-5, atol=1e-6)


def test_sobel_x_finds_vertical_edges_only():
    image = np.zeros((1, 6, 6), dtype=np.float32)
    image[0, :, 3:] = 1.0  # dark left half, bright right half
    response = _conv(image, teaching_kernel(kernels.SOBEL_X)[None], padding=0)
    assert np.all(response[:, 1:3] == 4.0)  # the columns that straddle the edge
    assert np.all(response[:, [0, 3]] == 0.0)
    assert np.all(_conv(image, teaching_kernel(kernels.SOBEL_Y)[None], padding=0) == 0.0)


def test_presets_that_need_three_by_three_say_so():
    with pytest.raises(KernelError, match="at least 3×3; this layer's is 2×2"):
        teaching_kernel(kernels.SOBEL_X, (2, 2))
    with pytest.raises(KernelError, match="unknown kernel preset"):
        teaching_kernel("Prewitt")
    assert teaching_kernel(kernels.IDENTITY, (2, 2)).tolist() == [[1, 0], [0, 0]]


def test_spread_over_all_inputs_filters_their_mean():
    image = np.random.default_rng(2).random((3, 8, 8)).astype(np.float32)
    kernel = teaching_kernel(kernels.SOBEL_X)
    weights = spread_over_inputs(kernel, 3)
    assert weights.shape == (3, 3, 3)
    grey = image.mean(axis=0, keepdims=True)
    np.testing.assert_allclose(
        _conv(image, weights, 1), _conv(grey, kernel[None], 1), rtol=1e-5, atol=1e-6
    )


def test_spread_over_one_input_ignores_the_others():
    weights = spread_over_inputs(teaching_kernel(kernels.IDENTITY), 3, only=1)
    image = np.random.default_rng(3).random((3, 5, 5)).astype(np.float32)
    np.testing.assert_allclose(_conv(image, weights, 1), image[1], rtol=1e-6)
    with pytest.raises(KernelError, match="input channel 3 does not exist"):
        spread_over_inputs(np.eye(3), 3, only=3)
    with pytest.raises(KernelError, match="must be 2-D"):
        spread_over_inputs(np.zeros((1, 3, 3)), 1)


def test_rgb_composite():
    weights = np.zeros((2, 3, 1, 2), dtype=np.float32)
    weights[0, 0, 0, 0] = 2.0  # a filter that likes red at its left tap
    weights[1, 2, 0, 1] = -1.0  # one that dislikes blue at its right tap
    colours = rgb_composite(weights)
    assert colours.shape == (2, 1, 2, 3)
    np.testing.assert_allclose(colours[0, 0, 0], [1.0, 0.5, 0.5])
    np.testing.assert_allclose(colours[1, 0, 1], [0.5, 0.5, 0.25])
    np.testing.assert_allclose(rgb_composite(np.zeros((1, 3, 2, 2))), 0.5)
    with pytest.raises(ValueError, match="RGB composite"):
        rgb_composite(np.zeros((1, 1, 3, 3)))
