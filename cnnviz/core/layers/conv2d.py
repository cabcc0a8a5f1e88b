"""Conv2d: learned filters slid over the input, one output channel per filter."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cnnviz.core.layer_spec import BOOL, CHOICE, INT, PADDING, LayerType, MemoryRule, Param
from cnnviz.core.layers._common import (
    AXES,
    DIL_HELP,
    FLOAT_BYTES,
    KERNEL_HELP,
    MAX_CHANNELS,
    MAX_SIZE,
    OUT_CHANNELS,
    PAD_HELP,
    STRIDE_HELP,
    FieldRule,
    LayerCost,
    Shape,
    ShapeError,
    as_pair,
    channels_as,
    pair_param,
    prod,
    spatial,
    x_text,
)
from cnnviz.core.layers._windows import conv_out_size, conv_padding, too_small

if TYPE_CHECKING:
    from cnnviz.core.architecture import Layer

PARAMS = (
    OUT_CHANNELS,
    pair_param("kernel_size", None, 1, KERNEL_HELP, required=True, key=True),
    pair_param("stride", 1, 1, STRIDE_HELP, key=True),
    Param(
        "padding",
        PADDING,
        0,
        0,
        MAX_SIZE,
        choices=("same", "valid"),
        key=True,
        help=PAD_HELP + " 'same' keeps the size (stride 1 only); 'valid' is 0.",
    ),
    pair_param("dilation", 1, 1, DIL_HELP, key=True),
    Param(
        "groups",
        INT,
        1,
        1,
        MAX_CHANNELS,
        help="Split channels into groups convolved separately; must divide "
        "in and out channels. groups = in_channels is a depthwise conv.",
    ),
    Param("bias", BOOL, True, help="Add a learned bias to each output channel."),
    Param(
        "padding_mode",
        CHOICE,
        "zeros",
        choices=("zeros", "reflect", "replicate", "circular"),
        help="What the padding cells hold: zeros, a mirror of the edge, the "
        "edge repeated, or the opposite edge (wrap-around).",
    ),
)


def _check_padding_mode(layer: Layer, h: int, w: int, pads) -> None:
    mode = layer.get("padding_mode")
    for axis, size, (before, after) in (("height", h, pads[0]), ("width", w, pads[1])):
        biggest = max(before, after)
        if mode == "reflect" and biggest >= size:
            raise ShapeError(
                f"reflect padding {biggest} must be smaller than the input {axis} {size}"
            )
        if mode == "circular" and biggest > size:
            raise ShapeError(f"circular padding {biggest} must not exceed the input {axis} {size}")


def cost(layer: Layer, shape: Shape) -> LayerCost:
    c, h, w = spatial(shape)
    out_c, groups = layer.get("out_channels"), layer.get("groups")
    kernel, stride = as_pair(layer.get("kernel_size")), as_pair(layer.get("stride"))
    dilation = as_pair(layer.get("dilation"))
    if c % groups:
        raise ShapeError(f"groups {groups} does not divide its {c} input channels")
    if out_c % groups:
        raise ShapeError(f"groups {groups} does not divide out_channels {out_c}")
    if layer.get("padding") == "same" and stride != (1, 1):
        raise ShapeError(f"padding 'same' needs stride 1, got stride {x_text(stride)}")
    pads = conv_padding(layer)
    _check_padding_mode(layer, h, w, pads)
    out_hw = []
    for axis, size, k, s, (before, after), d in zip(
        ("height", "width"), (h, w), kernel, stride, pads, dilation, strict=True
    ):
        span = d * (k - 1) + 1
        if span > size + before + after:
            raise ShapeError(
                f"kernel {x_text(kernel)}"
                + (f" with dilation {x_text(dilation)} spans {span}" if d > 1 else "")
                + f" is larger than its {h}x{w} input (padding {before + after} on the {axis})"
            )
        out_hw.append(conv_out_size(size, k, s, before + after, d))
    out_shape = (out_c, out_hw[0], out_hw[1])
    per_output = (c // groups) * kernel[0] * kernel[1]
    biases = out_c if layer.get("bias") else 0
    return LayerCost(out_shape, out_c * per_output, biases, prod(out_shape) * per_output)


def _pad_term(before: int, after: int) -> str:
    return f"2·{before}" if before == after else f"({before}+{after})"


def size_lines(layer: Layer, shape: Shape) -> list[str]:
    kernel, stride = as_pair(layer.get("kernel_size")), as_pair(layer.get("stride"))
    dilation, pads = as_pair(layer.get("dilation")), conv_padding(layer)
    lines = []
    for axis, name in enumerate(AXES):
        size, k, s, d = shape[1 + axis], kernel[axis], stride[axis], dilation[axis]
        before, after = pads[axis]
        out = conv_out_size(size, k, s, before + after, d)
        lines.append(
            f"{name}_out = ⌊({size} + {_pad_term(before, after)} − {d}·({k}−1) − 1) / {s}⌋"
            f" + 1 = {out}{too_small(out)}"
        )
    return lines


def param_line(layer: Layer, shape: Shape) -> str:
    out_c, groups = layer.get("out_channels"), layer.get("groups")
    kh, kw = as_pair(layer.get("kernel_size"))
    per_filter = (shape[0] // groups) * kh * kw
    in_term = f"{shape[0]}/{groups}" if groups > 1 else f"{shape[0]}"
    bias = out_c if layer.get("bias") else 0
    bias_term = f" + {out_c}" if bias else ""
    return f"params = {out_c}·({in_term}·{kh}·{kw}){bias_term} = {out_c * per_filter + bias:,}"


def window(layer: Layer, in_hw, out_hw):
    pads = conv_padding(layer)
    return (
        as_pair(layer.get("kernel_size")),
        as_pair(layer.get("stride")),
        as_pair(layer.get("dilation")),
        (pads[0][0], pads[1][0]),
    )


def workspace(layer: Layer, in_shape: Shape, out_shape: Shape, weight_bytes: int, train) -> int:
    """oneDNN's convolution on the CPU (measured, torch 2.13): no im2col buffer,
    but copies in its blocked layouts, about the larger of the padded input
    and the output (its channels rounded up to 16), plus a reordered copy of
    the weights. A plain 1×1 convolution is a matrix product: nothing extra."""
    kernel, stride = as_pair(layer.get("kernel_size")), as_pair(layer.get("stride"))
    pads = conv_padding(layer)
    c, h, w = in_shape
    pointwise = kernel == (1, 1) and stride == (1, 1) and pads == ((0, 0), (0, 0))
    if pointwise and layer.get("groups") == 1:
        return 0
    padded = c * (h + sum(pads[0])) * (w + sum(pads[1])) * FLOAT_BYTES
    oc, oh, ow = out_shape
    blocked = -(-oc // 16) * 16 * oh * ow * FLOAT_BYTES
    extra = max(padded, blocked) + weight_bytes
    if layer.get("padding_mode") != "zeros":
        extra += padded  # the module pads a copy of the input first
    return extra


TYPE = LayerType(
    "Conv2d",
    "convolution",
    "▦",
    "slides learned filters over the input; each filter makes one output channel.",
    "A convolution slides each of its out_channels filters (in_channels/groups × "
    "kh × kw weights, plus one bias if bias is on) over the input, multiplying and "
    "summing at every position: C_out · C_in/groups · kH · kW weights + C_out biases. "
    "The same weights are used at every position (parameter sharing), so a conv "
    "layer has far fewer parameters than a dense layer of the same output size. "
    "Output size per axis: floor((W + 2P - D(K-1) - 1) / S) + 1.",
    PARAMS,
    needs_spatial=True,
    cost=cost,
    size_lines=size_lines,
    param_line=param_line,
    inferred=channels_as("in_channels"),
    field_rule=FieldRule("window", window=window),
    memory=MemoryRule(workspace=workspace),
)
