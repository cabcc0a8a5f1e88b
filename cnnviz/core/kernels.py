"""Teaching kernels: the classic hand-made filters a person can put into a conv layer.

Setting output channel 3 of the first layer to a Sobel kernel and watching its
feature map become an edge map is the quickest way to understand what a
learned filter is. The presets are the textbook 3×3 kernels; for a larger
kernel they are centred in zeros (the same filter, as the extra taps add
nothing), and blurs fill the whole window. Kernels smaller than 3×3 take only
the presets that make sense at that size.
"""

from __future__ import annotations

import numpy as np

IDENTITY = "identity"
BOX_BLUR = "box blur"
GAUSSIAN_BLUR = "Gaussian blur"
SHARPEN = "sharpen"
SOBEL_X = "Sobel x"
SOBEL_Y = "Sobel y"
LAPLACIAN = "Laplacian"
EMBOSS = "emboss"

PRESETS = (IDENTITY, BOX_BLUR, GAUSSIAN_BLUR, SHARPEN, SOBEL_X, SOBEL_Y, LAPLACIAN, EMBOSS)

DESCRIPTIONS = {
    IDENTITY: "passes the input through unchanged",
    BOX_BLUR: "the mean of the window: blurs",
    GAUSSIAN_BLUR: "a weighted mean, centre heaviest: a softer blur",
    SHARPEN: "the centre minus its neighbours: sharpens edges",
    SOBEL_X: "brightness change from left to right: vertical edges",
    SOBEL_Y: "brightness change from top to bottom: horizontal edges",
    LAPLACIAN: "second derivative: edges in every direction",
    EMBOSS: "a diagonal derivative plus the input: a relief",
}

_THREE_BY_THREE = {
    SHARPEN: [[0, -1, 0], [-1, 5, -1], [0, -1, 0]],
    SOBEL_X: [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]],
    SOBEL_Y: [[-1, -2, -1], [0, 0, 0], [1, 2, 1]],
    LAPLACIAN: [[0, 1, 0], [1, -4, 1], [0, 1, 0]],
    EMBOSS: [[-2, -1, 0], [-1, 1, 1], [0, 1, 2]],
}


class KernelError(ValueError):
    """A preset that cannot be made at the requested size; the message says why."""


def _centre(size: int) -> int:
    # For even sizes torch's window has no middle; pick the upper-left one.
    return (size - 1) // 2


def _gaussian_1d(size: int) -> np.ndarray:
    # OpenCV's rule for σ from the window size (getGaussianKernel): 0.8 for 3
    # taps, which is close to the textbook [1, 2, 1]/4; 1.1 for 5; 1.4 for 7.
    sigma = 0.3 * ((size - 1) * 0.5 - 1) + 0.8
    x = np.arange(size) - (size - 1) / 2.0
    weights = np.exp(-0.5 * (x / sigma) ** 2)
    return weights / weights.sum()


def teaching_kernel(name: str, size: tuple[int, int] = (3, 3)) -> np.ndarray:
    """The preset `name` as a (kh, kw) float32 kernel."""
    kh, kw = size
    if kh < 1 or kw < 1:
        raise KernelError(f"kernel size {kh}×{kw} is empty")
    if name == IDENTITY:
        kernel = np.zeros((kh, kw))
        kernel[_centre(kh), _centre(kw)] = 1.0
    elif name == BOX_BLUR:
        kernel = np.full((kh, kw), 1.0 / (kh * kw))
    elif name == GAUSSIAN_BLUR:
        kernel = np.outer(_gaussian_1d(kh), _gaussian_1d(kw))
    elif name in _THREE_BY_THREE:
        if kh < 3 or kw < 3:
            raise KernelError(f"{name} needs a kernel of at least 3×3; this layer's is {kh}×{kw}")
        kernel = np.zeros((kh, kw))
        top, left = _centre(kh) - 1, _centre(kw) - 1
        kernel[top : top + 3, left : left + 3] = _THREE_BY_THREE[name]
    else:
        raise KernelError(f"unknown kernel preset {name!r} (presets: {', '.join(PRESETS)})")
    return kernel.astype(np.float32)


def spread_over_inputs(kernel: np.ndarray, in_channels: int, only: int | None = None) -> np.ndarray:
    """A (kh, kw) kernel as a conv filter over `in_channels` input channels.

    With `only`, the kernel looks at that input channel alone (zeros elsewhere).
    Otherwise it is applied to every input channel and divided by their number,
    so the filter sees the channels' mean: for an RGB input, the grey image.
    """
    kernel = np.asarray(kernel, dtype=np.float32)
    if kernel.ndim != 2:
        raise KernelError(f"a kernel must be 2-D (kh, kw), got shape {kernel.shape}")
    if in_channels < 1:
        raise KernelError("a filter needs at least one input channel")
    weights = np.zeros((in_channels, *kernel.shape), dtype=np.float32)
    if only is None:
        weights[:] = kernel / in_channels
    elif 0 <= only < in_channels:
        weights[only] = kernel
    else:
        raise KernelError(f"input channel {only} does not exist (0..{in_channels - 1})")
    return weights


def rgb_composite(weights: np.ndarray) -> np.ndarray:
    """First-layer filters of a colour network (O, 3, kh, kw) as (O, kh, kw, 3)
    colours in [0, 1]: 0.5 is a zero weight, the brightest colour the largest
    |weight| of the layer. A filter that likes red looks red."""
    weights = np.asarray(weights, dtype=np.float32)
    if weights.ndim != 4 or weights.shape[1] != 3:
        raise ValueError(f"an RGB composite needs (O, 3, kh, kw) weights, got {weights.shape}")
    bound = float(np.abs(weights).max())
    scale = 0.5 / bound if bound > 0 else 0.0
    return np.ascontiguousarray((weights * scale + 0.5).transpose(0, 2, 3, 1))
