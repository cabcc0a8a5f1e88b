"""Sliding-window arithmetic shared by the windowed layer types.

Convolution and pooling output sizes (torch's formulas, ceil_mode included),
'same' padding, and adaptive pooling's uneven windows, each with the rules
(shape, formula lines, receptive-field window) the modules of those types
declare. ``shapes``, ``formula`` and ``pooling_view`` re-export the helpers
under their old names.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from cnnviz.core.layer_spec import OPT_PAIR, Param
from cnnviz.core.layers._common import (
    AXES,
    KERNEL_HELP,
    MAX_SIZE,
    STRIDE_HELP,
    LayerCost,
    Shape,
    ShapeError,
    Window,
    as_pair,
    pad_text,
    pair_param,
    spatial,
    x_text,
)

if TYPE_CHECKING:
    from cnnviz.core.architecture import Layer


def same_padding(kernel: tuple[int, int], dilation: tuple[int, int]):
    """Torch's 'same' padding per axis as (before, after): the extra goes after."""
    out = []
    for k, d in zip(kernel, dilation, strict=True):
        total = d * (k - 1)
        out.append((total // 2, total - total // 2))
    return tuple(out)


def conv_padding(layer: Layer) -> tuple[tuple[int, int], tuple[int, int]]:
    """Padding per axis as (before, after) for a Conv2d, resolving 'same'/'valid'."""
    padding = layer.get("padding")
    if padding == "same":
        return same_padding(as_pair(layer.get("kernel_size")), as_pair(layer.get("dilation")))
    if padding == "valid":
        return ((0, 0), (0, 0))
    ph, pw = as_pair(padding)
    return ((ph, ph), (pw, pw))


def conv_out_size(size: int, kernel: int, stride: int, pad_total: int, dilation: int) -> int:
    """floor((W + 2P - D(K-1) - 1) / S) + 1 with 2P = pad_total (before + after)."""
    return (size + pad_total - dilation * (kernel - 1) - 1) // stride + 1


def pool_out_size(size, kernel, stride, pad, dilation, ceil_mode) -> int:
    """Torch's pooling_output_shape, including its ceil_mode rule."""
    numerator = size + 2 * pad - dilation * (kernel - 1) - 1 + (stride - 1 if ceil_mode else 0)
    out = numerator // stride + 1
    # With ceil_mode, the last window must start inside the input or left padding.
    if ceil_mode and (out - 1) * stride >= size + pad:
        out -= 1
    return out


def too_small(out: int) -> str:
    return " (less than 1: the window does not fit)" if out < 1 else ""


# --- MaxPool2d and AvgPool2d ----------------------------------------------------

# Pooling windows: the stride defaults to the kernel size (non-overlapping).
POOL_KERNEL = pair_param("kernel_size", None, 1, KERNEL_HELP, required=True, key=True)
POOL_STRIDE = Param(
    "stride",
    OPT_PAIR,
    None,
    1,
    MAX_SIZE,
    key=True,
    help=STRIDE_HELP + " Empty means equal to kernel_size.",
)


def pool_window(layer: Layer, dilated: bool) -> Window:
    """Kernel, stride (empty: the kernel), dilation and padding of a pooling layer."""
    kernel = as_pair(layer.get("kernel_size"))
    stride = layer.get("stride")
    stride = as_pair(stride if stride is not None else kernel)
    dilation = as_pair(layer.get("dilation")) if dilated else (1, 1)
    return kernel, stride, dilation, as_pair(layer.get("padding"))


def pool_cost(layer: Layer, shape: Shape, dilated: bool) -> LayerCost:
    c, h, w = spatial(shape)
    kernel, stride, dilation, padding = pool_window(layer, dilated)
    ceil = layer.get("ceil_mode")
    for k, p in zip(kernel, padding, strict=True):
        if 2 * p > k:
            raise ShapeError(
                f"padding {pad_text(padding)} must be at most half the kernel {x_text(kernel)}"
            )
    out_hw = [
        pool_out_size(size, k, s, p, d, ceil)
        for size, k, s, p, d in zip((h, w), kernel, stride, padding, dilation, strict=True)
    ]
    if min(out_hw) < 1:
        span = "x".join(str(d * (k - 1) + 1) for k, d in zip(kernel, dilation, strict=True))
        raise ShapeError(
            f"kernel {x_text(kernel)}"
            + (f" with dilation {x_text(dilation)} (spans {span})" if dilation != (1, 1) else "")
            + f" is larger than its {h}x{w} input (padding {pad_text(padding)})"
        )
    return LayerCost((c, out_hw[0], out_hw[1]))


def pool_lines(layer: Layer, shape: Shape, dilated: bool) -> list[str]:
    kernel, stride, dilation, padding = pool_window(layer, dilated)
    ceil = layer.get("ceil_mode")
    left, right = ("⌈", "⌉") if ceil else ("⌊", "⌋")
    lines = []
    for axis, name in enumerate(AXES):
        size, k, s = shape[1 + axis], kernel[axis], stride[axis]
        p, d = padding[axis], dilation[axis]
        out = pool_out_size(size, k, s, p, d, ceil)
        numerator = size + 2 * p - d * (k - 1) - 1
        plain = (math.ceil(numerator / s) if ceil else numerator // s) + 1
        line = f"{name}_out = {left}({size} + 2·{p} − {d}·({k}−1) − 1) / {s}{right} + 1 = {out}"
        if plain != out:
            # torch drops a last window that would start in the right padding.
            line = line[: -len(str(out))] + f"{plain} − 1 = {out} (last window dropped)"
        lines.append(line + too_small(out))
    if layer.get("stride") is None:
        lines.append(f"stride empty: equal to the kernel, {kernel[0]}×{kernel[1]}")
    return lines


# --- adaptive pooling -----------------------------------------------------------


def adaptive_windows(size: int, out: int) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (half-open) of adaptive pooling's `out` windows over `size`
    cells, as torch: start = ⌊i·size/out⌋, end = ⌈(i+1)·size/out⌉. Windows vary
    in size and overlap when out does not divide size."""
    index = np.arange(out)
    return (index * size) // out, -((-(index + 1) * size) // out)


def adaptive_window_text(size: int, out: int) -> str:
    """How torch's adaptive windows fall along one axis, e.g. "windows of 2–3
    cells, overlapping" for 5 → 3 (they are [0, 2), [1, 4), [3, 5))."""
    starts, ends = adaptive_windows(size, out)
    widths = ends - starts
    low, high = int(widths.min()), int(widths.max())
    cells = f"{low} cell" if high == 1 else f"{low} cells" if low == high else f"{low}–{high} cells"
    if out == 1:
        return f"one window of {cells}"
    overlap = bool((ends[:-1] > starts[1:]).any())
    return f"windows of {cells}, " + ("overlapping" if overlap else "side by side")


def adaptive_cost(layer: Layer, shape: Shape) -> LayerCost:
    c, _, _ = spatial(shape)
    oh, ow = as_pair(layer.get("output_size"))
    return LayerCost((c, oh, ow))


def adaptive_lines(layer: Layer, shape: Shape) -> list[str]:
    out = as_pair(layer.get("output_size"))
    return [
        f"{name}_out = {o} (fixed); {adaptive_window_text(shape[1 + axis], o)}"
        for axis, (name, o) in enumerate(zip(AXES, out, strict=True))
    ]


def adaptive_window(layer: Layer, in_hw, out_hw) -> Window | None:
    """Even windows are a plain pool with k = s = in/out; uneven ones have no
    regular geometry (their taps are ``adaptive_taps``)."""
    if any(i % o for i, o in zip(in_hw, out_hw, strict=True)):
        return None
    kernel = tuple(i // o for i, o in zip(in_hw, out_hw, strict=True))
    return kernel, kernel, (1, 1), (0, 0)


def adaptive_taps(layer: Layer, axis: int, n_in: int, n_out: int) -> list[range]:
    starts, ends = adaptive_windows(n_in, n_out)
    return [range(int(a), int(b)) for a, b in zip(starts, ends, strict=True)]
