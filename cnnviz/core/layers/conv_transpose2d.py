"""ConvTranspose2d: a learned upsampling, each input value stamping a filter."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cnnviz.core.layer_spec import BOOL, INT, LayerType, MemoryRule, Param
from cnnviz.core.layers._common import (
    AXES,
    DIL_HELP,
    KERNEL_HELP,
    MAX_CHANNELS,
    OUT_CHANNELS,
    STRIDE_HELP,
    FieldRule,
    LayerCost,
    Shape,
    ShapeError,
    as_pair,
    channels_as,
    output_bytes,
    pair_param,
    prod,
    spatial,
    x_text,
)

if TYPE_CHECKING:
    from cnnviz.core.architecture import Layer


def _geometry(layer: Layer):
    return tuple(
        as_pair(layer.get(name))
        for name in ("kernel_size", "stride", "padding", "output_padding", "dilation")
    )


def out_size(size: int, k: int, s: int, p: int, op: int, d: int) -> int:
    """(W − 1)·S − 2P + D·(K − 1) + output_padding + 1."""
    return (size - 1) * s - 2 * p + d * (k - 1) + op + 1


def cost(layer: Layer, shape: Shape) -> LayerCost:
    c, h, w = spatial(shape)
    out_c, groups = layer.get("out_channels"), layer.get("groups")
    kernel, stride, padding, output_padding, dilation = _geometry(layer)
    if c % groups:
        raise ShapeError(f"groups {groups} does not divide its {c} input channels")
    if out_c % groups:
        raise ShapeError(f"groups {groups} does not divide out_channels {out_c}")
    for op, s, d in zip(output_padding, stride, dilation, strict=True):
        if op >= s and op >= d:
            raise ShapeError(
                f"output_padding {x_text(output_padding)} must be smaller than the stride "
                f"{x_text(stride)} or the dilation {x_text(dilation)} (it only picks one of "
                "the sizes a stride-S convolution maps to the same input size)"
            )
    per_axis = zip(kernel, stride, padding, output_padding, dilation, strict=True)
    out_hw = [out_size(n, *values) for n, values in zip((h, w), per_axis, strict=True)]
    if min(out_hw) < 1:
        raise ShapeError(
            f"padding {x_text(padding)} crops its {h}x{w} output to {out_hw[0]}x{out_hw[1]}; "
            "use less padding"
        )
    per_input = out_c // groups * kernel[0] * kernel[1]
    biases = out_c if layer.get("bias") else 0
    # Every input value times every tap of its group's filters (torch's flop counter too).
    return LayerCost((out_c, *out_hw), c * per_input, biases, prod(shape) * per_input)


def size_lines(layer: Layer, shape: Shape) -> list[str]:
    geometry = _geometry(layer)
    lines = []
    for axis, name in enumerate(AXES):
        n = shape[1 + axis]
        k, s, p, op, d = (value[axis] for value in geometry)
        out = out_size(n, k, s, p, op, d)
        lines.append(
            f"{name}_out = ({n}−1)·{s} − 2·{p} + {d}·({k}−1) + {op} + 1 = {out}"
            + (" (less than 1: padding crops everything)" if out < 1 else "")
        )
    return lines


def param_line(layer: Layer, shape: Shape) -> str:
    out_c, groups = layer.get("out_channels"), layer.get("groups")
    kh, kw = as_pair(layer.get("kernel_size"))
    out_term = f"{out_c}/{groups}" if groups > 1 else f"{out_c}"
    bias = out_c if layer.get("bias") else 0
    total = shape[0] * (out_c // groups) * kh * kw + bias
    bias_term = f" + {out_c}" if bias else ""
    return f"params = {shape[0]}·({out_term}·{kh}·{kw}){bias_term} = {total:,}"


def taps(layer: Layer, axis: int, n_in: int, n_out: int) -> list[list[int]]:
    """Output o receives input i through tap j when o = i·S − P + j·D: the inputs
    it reads are (o + P − j·D) / S for the taps where that is a whole number."""
    k, s, p, _, d = (value[axis] for value in _geometry(layer))
    reads = []
    for o in range(n_out):
        shifted = [o + p - j * d for j in range(k)]
        reads.append(sorted({t // s for t in shifted if t % s == 0 and 0 <= t // s < n_in}))
    return reads


def workspace(layer: Layer, in_shape: Shape, out_shape: Shape, weight_bytes: int, train) -> int:
    """Torch's transposed convolution on the CPU, measured (torch 2.13, 3 to 64
    channels, from the second forward on, as the app runs many): about two
    more outputs (not rounded up to 16 channels as a Conv2d's) and a copy of
    the weights, within some 10 to 25 MB; a plain 1×1 one about one more
    output."""
    kernel, stride, padding, output_padding, _ = _geometry(layer)
    plain = (kernel, stride, padding, output_padding) == ((1, 1), (1, 1), (0, 0), (0, 0))
    if plain and layer.get("groups") == 1:
        return output_bytes(out_shape)
    return 2 * output_bytes(out_shape) + weight_bytes


TYPE = LayerType(
    "ConvTranspose2d",
    "convolution",
    "▣",
    "learned upsampling: each input value stamps a weighted filter onto a larger output.",
    "A transposed convolution runs a convolution backwards: every input value "
    "multiplies a kH × kW filter and adds it onto the output, the stamps placed "
    "stride apart and summed where they overlap. With stride 2 the map doubles in "
    "size, so decoders, U-Nets and GAN generators use it to upsample with learned "
    "weights. Output size per axis: (W−1)·S − 2P + D·(K−1) + output_padding + 1; "
    "padding removes rows at the border instead of adding them, and output_padding "
    "(smaller than the stride) adds rows to reach an exact size. Weights: "
    "C_in · C_out/groups · kH · kW, plus C_out biases. Where stamps overlap unevenly "
    "the output shows a checkerboard pattern.",
    (
        OUT_CHANNELS,
        pair_param("kernel_size", None, 1, KERNEL_HELP, required=True, key=True),
        pair_param("stride", 1, 1, STRIDE_HELP + " Here: how far apart the stamps land.", key=True),
        pair_param(
            "padding", 0, 0, "Rows/columns removed from each border of the output.", key=True
        ),
        pair_param(
            "output_padding",
            0,
            0,
            "Rows/columns added at the bottom/right; smaller than stride or dilation.",
        ),
        Param(
            "groups",
            INT,
            1,
            1,
            MAX_CHANNELS,
            help="Split channels into groups convolved separately; must divide "
            "in and out channels.",
        ),
        Param("bias", BOOL, True, help="Add a learned bias to each output channel."),
        pair_param("dilation", 1, 1, DIL_HELP, key=True),
    ),
    needs_spatial=True,
    cost=cost,
    size_lines=size_lines,
    param_line=param_line,
    inferred=channels_as("in_channels"),
    field_rule=FieldRule("window", taps=taps),
    memory=MemoryRule(workspace=workspace),
    starter={"stride": 2, "kernel_size": 2},
)
