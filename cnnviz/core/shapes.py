"""Shape inference, parameter counts and MACs, layer by layer, exactly as torch.

Shapes are per sample, without the batch: ``(C, H, W)`` for feature maps and
``(N,)`` for vectors (``(C, H, N)`` after a Linear applied to maps, as torch
does). Every rule here is checked against torch by tests/core/test_against_torch.py.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from cnnviz.core.architecture import Layer

Shape = tuple[int, ...]


class ShapeError(ValueError):
    """The layer cannot take this input; the message says which parameter and why."""


@dataclass(frozen=True)
class LayerCost:
    output_shape: Shape
    weights: int = 0
    biases: int = 0
    macs: int = 0


def as_pair(value) -> tuple[int, int]:
    return tuple(value) if isinstance(value, tuple) else (value, value)


def _x(pair: tuple[int, int]) -> str:
    return f"{pair[0]}x{pair[1]}"


def _p(pair: tuple[int, int]) -> str:
    """A padding pair, as one number when both sides agree."""
    return str(pair[0]) if pair[0] == pair[1] else _x(pair)


def _spatial(layer: Layer, shape: Shape) -> tuple[int, int, int]:
    if len(shape) != 3:
        raise ShapeError(
            f"needs feature maps (C×H×W) but gets a vector of {shape[-1]}; "
            "move it before the Flatten"
        )
    return shape  # type: ignore[return-value]


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


def _conv(layer: Layer, shape: Shape) -> LayerCost:
    c, h, w = _spatial(layer, shape)
    out_c, groups = layer.get("out_channels"), layer.get("groups")
    kernel, stride = as_pair(layer.get("kernel_size")), as_pair(layer.get("stride"))
    dilation = as_pair(layer.get("dilation"))
    if c % groups:
        raise ShapeError(f"groups {groups} does not divide its {c} input channels")
    if out_c % groups:
        raise ShapeError(f"groups {groups} does not divide out_channels {out_c}")
    if layer.get("padding") == "same" and stride != (1, 1):
        raise ShapeError(f"padding 'same' needs stride 1, got stride {_x(stride)}")
    pads = conv_padding(layer)
    mode = layer.get("padding_mode")
    for axis, size, (before, after) in (("height", h, pads[0]), ("width", w, pads[1])):
        biggest = max(before, after)
        if mode == "reflect" and biggest >= size:
            raise ShapeError(
                f"reflect padding {biggest} must be smaller than the input {axis} {size}"
            )
        if mode == "circular" and biggest > size:
            raise ShapeError(f"circular padding {biggest} must not exceed the input {axis} {size}")
    out_hw = []
    for axis, size, k, s, (before, after), d in zip(
        ("height", "width"), (h, w), kernel, stride, pads, dilation, strict=True
    ):
        span = d * (k - 1) + 1
        if span > size + before + after:
            raise ShapeError(
                f"kernel {_x(kernel)}"
                + (f" with dilation {_x(dilation)} spans {span}" if d > 1 else "")
                + f" is larger than its {h}x{w} input (padding {before + after} on the {axis})"
            )
        out_hw.append(conv_out_size(size, k, s, before + after, d))
    out_shape = (out_c, out_hw[0], out_hw[1])
    per_output = (c // groups) * kernel[0] * kernel[1]
    weights = out_c * per_output
    biases = out_c if layer.get("bias") else 0
    return LayerCost(out_shape, weights, biases, math.prod(out_shape) * per_output)


def _pool(layer: Layer, shape: Shape) -> LayerCost:
    c, h, w = _spatial(layer, shape)
    kernel = as_pair(layer.get("kernel_size"))
    stride = as_pair(layer.get("stride") if layer.get("stride") is not None else kernel)
    padding = as_pair(layer.get("padding"))
    dilation = as_pair(layer.get("dilation") if layer.type == "MaxPool2d" else 1)
    ceil = layer.get("ceil_mode")
    for k, p in zip(kernel, padding, strict=True):
        if 2 * p > k:
            raise ShapeError(f"padding {_p(padding)} must be at most half the kernel {_x(kernel)}")
    out_hw = []
    for size, k, s, p, d in zip((h, w), kernel, stride, padding, dilation, strict=True):
        out_hw.append(pool_out_size(size, k, s, p, d, ceil))
    if min(out_hw) < 1:
        span = "x".join(str(d * (k - 1) + 1) for k, d in zip(kernel, dilation, strict=True))
        raise ShapeError(
            f"kernel {_x(kernel)}"
            + (f" with dilation {_x(dilation)} (spans {span})" if dilation != (1, 1) else "")
            + f" is larger than its {h}x{w} input (padding {_p(padding)})"
        )
    return LayerCost((c, out_hw[0], out_hw[1]))


def _adaptive(layer: Layer, shape: Shape) -> LayerCost:
    c, _, _ = _spatial(layer, shape)
    oh, ow = as_pair(layer.get("output_size"))
    return LayerCost((c, oh, ow))


def _batchnorm(layer: Layer, shape: Shape) -> LayerCost:
    c, h, w = _spatial(layer, shape)
    # Torch normalises with the batch's own statistics in training, and always
    # without running statistics; it then needs N·H·W > 1 values per channel
    # ("Expected more than 1 value per channel when training"). Here N is 1
    # (one image). With running statistics, eval mode takes any map size.
    if not layer.get("track_running_stats") and h * w == 1:
        raise ShapeError(
            f"with track_running_stats false it normalises each channel by its own "
            f"statistics, which needs more than 1 value, but its input is {h}x{w} "
            "for one image; set track_running_stats true or use a larger map"
        )
    affine = layer.get("affine")
    return LayerCost(shape, c if affine else 0, c if affine else 0, math.prod(shape))


def _linear(layer: Layer, shape: Shape) -> LayerCost:
    n_in, n_out = shape[-1], layer.get("out_features")
    out_shape = (*shape[:-1], n_out)
    biases = n_out if layer.get("bias") else 0
    return LayerCost(out_shape, n_in * n_out, biases, math.prod(shape[:-1]) * n_in * n_out)


def _flatten(layer: Layer, shape: Shape) -> LayerCost:
    return LayerCost((math.prod(shape),))


def _softmax(layer: Layer, shape: Shape) -> LayerCost:
    dim = layer.get("dim")
    rank = len(shape) + 1  # torch sees the batch dimension too
    if dim is not None and not -rank <= dim < rank:
        raise ShapeError(
            f"dim {dim} is out of range for a {rank}-d batched input (from {-rank} to {rank - 1})"
        )
    return LayerCost(shape)


def _same_shape(needs_spatial: bool):
    def rule(layer: Layer, shape: Shape) -> LayerCost:
        if needs_spatial:
            _spatial(layer, shape)
        return LayerCost(shape)

    return rule


_RULES = {
    "Conv2d": _conv,
    "MaxPool2d": _pool,
    "AvgPool2d": _pool,
    "AdaptiveAvgPool2d": _adaptive,
    "BatchNorm2d": _batchnorm,
    "LocalResponseNorm": _same_shape(True),
    "Dropout": _same_shape(False),
    "Dropout2d": _same_shape(True),
    "Flatten": _flatten,
    "Linear": _linear,
    "Softmax": _softmax,
}


def layer_cost(layer: Layer, input_shape: Shape) -> LayerCost:
    """Output shape, parameters and MACs of one layer, or ShapeError."""
    rule = _RULES.get(layer.type, _same_shape(False))
    return rule(layer, tuple(input_shape))
