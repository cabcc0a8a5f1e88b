"""The stepper's "flip the kernel" lab is a true convolution (scipy.signal.convolve2d).

The reference below is written from convolve2d's definition, in numpy, without
flipping anything: full[i, j] = Σ_m,n x[i - m, j - n] · k[m, n] (every input
cell scatters the kernel into the output), 'valid' keeps the cells where the
kernel lies wholly on the (padded) input; stride keeps every s-th of those and
dilation spreads the kernel's taps d apart.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from cnnviz.core.conv_flip import (
    FLIP_NOTE,
    convolution_walkthrough,
    flip_kernel,
    flipped_config,
    walkthrough_for,
)
from cnnviz.core.conv_steps import (
    CLASSROOM_IMAGE,
    CLASSROOM_KERNEL,
    ConvConfig,
    conv_walkthrough,
)


def dilate(kernel: np.ndarray, dilation: tuple[int, int]) -> np.ndarray:
    kh, kw = kernel.shape
    dh, dw = dilation
    spread = np.zeros((dh * (kh - 1) + 1, dw * (kw - 1) + 1))
    spread[::dh, ::dw] = kernel
    return spread


def convolve2d_full(x: np.ndarray, k: np.ndarray) -> np.ndarray:
    """scipy.signal.convolve2d(x, k, mode='full'), by scattering k from every input cell."""
    (h, w), (kh, kw) = x.shape, k.shape
    full = np.zeros((h + kh - 1, w + kw - 1))
    for i in range(h):
        for j in range(w):
            full[i : i + kh, j : j + kw] += x[i, j] * k
    return full


def convolve2d_valid(x: np.ndarray, k: np.ndarray) -> np.ndarray:
    (h, w), (kh, kw) = x.shape, k.shape
    return convolve2d_full(x, k)[kh - 1 : h, kw - 1 : w]


def true_convolution(x, kernel, bias, padding=0, stride=(1, 1), dilation=(1, 1)) -> np.ndarray:
    """(O, Ho, Wo): Σ over input channels of convolve2d 'valid' on the zero-padded input."""
    padded = np.pad(x, ((0, 0), (padding, padding), (padding, padding)))
    maps = []
    for o in range(kernel.shape[0]):
        total = sum(
            convolve2d_valid(padded[c], dilate(kernel[o, c], dilation)) for c in range(x.shape[0])
        )
        maps.append(total[:: stride[0], :: stride[1]] + bias[o])
    return np.stack(maps)


def test_valid_mode_is_scipy_convolve2d_and_differs_from_torch():
    rng = np.random.default_rng(3)
    image = rng.normal(size=(1, 6, 7))
    kernel = rng.normal(size=(1, 1, 3, 2))  # asymmetric: flipping matters
    config = ConvConfig(image, kernel)
    flipped = convolution_walkthrough(config).output()
    np.testing.assert_allclose(flipped[0], convolve2d_valid(image[0], kernel[0, 0]), atol=1e-12)
    torch_out = F.conv2d(torch.from_numpy(image)[None], torch.from_numpy(kernel))[0].numpy()
    np.testing.assert_allclose(conv_walkthrough(config).output(), torch_out, atol=1e-12)
    assert not np.allclose(flipped, torch_out, atol=1e-3)


@pytest.mark.parametrize(
    ("padding", "stride", "dilation"),
    [(0, (1, 1), (1, 1)), (1, (2, 1), (1, 1)), (2, (1, 2), (2, 1)), (1, (3, 3), (1, 2))],
)
def test_flipped_steps_equal_numpy_true_convolution(padding, stride, dilation):
    rng = np.random.default_rng(7 + padding)
    image = rng.normal(size=(2, 7, 8))
    kernel = rng.normal(size=(3, 2, 3, 2))
    bias = rng.normal(size=3)
    config = ConvConfig(image, kernel, bias, stride=stride, padding=padding, dilation=dilation)
    expected = true_convolution(image, kernel, bias, padding, stride, dilation)
    walk = convolution_walkthrough(config)
    np.testing.assert_allclose(walk.output(), expected, atol=1e-12)
    # Each step shows the rotated kernel and multiplies the window by it.
    for step in walk.steps[:5]:
        np.testing.assert_allclose(step.products, step.window * flip_kernel(kernel)[step.out[0]])


def test_symmetric_kernel_agrees_asymmetric_differs():
    image = CLASSROOM_IMAGE[np.newaxis]
    symmetric = CLASSROOM_KERNEL  # the X filter is its own 180° rotation
    np.testing.assert_array_equal(flip_kernel(symmetric), symmetric)
    same = ConvConfig(image, symmetric[np.newaxis, np.newaxis], padding=1)
    np.testing.assert_array_equal(
        walkthrough_for(same, flip=True).output(), walkthrough_for(same, flip=False).output()
    )
    edge = np.array([[1.0, 0.0, -1.0], [2.0, 0.0, -2.0], [1.0, 0.0, -1.0]])  # Sobel x
    tilted = ConvConfig(image, edge[np.newaxis, np.newaxis], padding=1)
    correlation = walkthrough_for(tilted, flip=False).output()
    convolution = walkthrough_for(tilted, flip=True).output()
    # A left/right antisymmetric kernel: the convolution is the correlation negated.
    np.testing.assert_allclose(convolution, -correlation)
    assert np.abs(correlation).max() > 0


def test_flip_keeps_the_layer_and_says_why():
    rng = np.random.default_rng(0)
    config = ConvConfig(rng.normal(size=(1, 5, 5)), rng.normal(size=(2, 1, 3, 3)), padding=1)
    flipped = flipped_config(config)
    assert flipped.padding == config.padding and flipped.stride == config.stride
    np.testing.assert_array_equal(flipped.kernel[0, 0], np.rot90(config.kernel[0, 0], 2))
    walk = convolution_walkthrough(config)
    np.testing.assert_array_equal(walk.kernel, flipped.kernel)
    assert "cross-correlation" in walk.padding_note() and "flips the kernel" in FLIP_NOTE
    assert "zero padding" in walk.padding_note()
    assert walk.description().startswith("true convolution")
    assert "true convolution" not in conv_walkthrough(config).description()
