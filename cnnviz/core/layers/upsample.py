"""Upsample: resizes each map by repeating (nearest) or blending (bilinear) pixels."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from cnnviz.core.layer_spec import CHOICE, OPT_BOOL, OPT_FLOAT, OPT_PAIR, LayerType, Param
from cnnviz.core.layers._common import (
    AXES,
    MAX_SIZE,
    FieldRule,
    LayerCost,
    Shape,
    ShapeError,
    as_pair,
    no_params_line,
    nothing_inferred,
    spatial,
)

if TYPE_CHECKING:
    from cnnviz.core.architecture import Layer


def _check(layer: Layer) -> None:
    size, scale = layer.get("size"), layer.get("scale_factor")
    if (size is None) == (scale is None):
        which = "neither is" if size is None else "both are"
        raise ShapeError(f"needs exactly one of size and scale_factor, but {which} set")
    if layer.get("align_corners") is not None and layer.get("mode") != "bilinear":
        raise ShapeError("align_corners is only for mode 'bilinear'; leave it empty for 'nearest'")


def out_hw(layer: Layer, in_hw) -> tuple[int, int]:
    """size, or ⌊in·scale_factor⌋ per axis (torch computes it in double)."""
    size = layer.get("size")
    if size is not None:
        return as_pair(size)
    scale = layer.get("scale_factor")
    return tuple(math.floor(float(n) * scale) for n in in_hw)  # type: ignore[return-value]


def cost(layer: Layer, shape: Shape) -> LayerCost:
    c, h, w = spatial(shape)
    _check(layer)
    oh, ow = out_hw(layer, (h, w))
    if min(oh, ow) < 1:
        raise ShapeError(
            f"scale_factor {layer.get('scale_factor'):g} turns its {h}x{w} input into "
            f"{oh}x{ow}; the output needs at least one row and column"
        )
    return LayerCost((c, oh, ow))


def size_lines(layer: Layer, shape: Shape) -> list[str]:
    size, scale = layer.get("size"), layer.get("scale_factor")
    if (size is None) == (scale is None):
        return ["output size: set exactly one of size and scale_factor"]
    out = out_hw(layer, shape[1:])
    if size is not None:
        return [
            f"{name}_out = size = {o} (from {n})"
            for name, n, o in zip(AXES, shape[1:], out, strict=True)
        ]
    return [
        f"{name}_out = ⌊{n}·{scale:g}⌋ = {o}"
        for name, n, o in zip(AXES, shape[1:], out, strict=True)
    ]


# --- which input pixels each output reads, exactly as torch's CPU kernels ---------


def _scale(layer: Layer, n_in: int, n_out: int, align_corners: bool) -> np.float32:
    """torch's area_pixel_compute_scale in float: 1/scale_factor when one is
    given, else in/out; (in−1)/(out−1) with align_corners."""
    if align_corners:
        return np.float32(n_in - 1) / np.float32(n_out - 1) if n_out > 1 else np.float32(0)
    scale = layer.get("scale_factor")
    if scale is not None and scale > 0:
        return np.float32(1.0 / scale)
    return np.float32(n_in) / np.float32(n_out)


def _nearest(layer: Layer, n_in: int, n_out: int) -> list[range]:
    if n_out == n_in:
        return [range(o, o + 1) for o in range(n_out)]
    if n_out == 2 * n_in:
        return [range(o >> 1, (o >> 1) + 1) for o in range(n_out)]
    scale = _scale(layer, n_in, n_out, False)
    index = np.floor(np.arange(n_out, dtype=np.float32) * scale).astype(np.int64)
    return [range(i, i + 1) for i in np.minimum(index, n_in - 1).tolist()]


def _bilinear(layer: Layer, n_in: int, n_out: int) -> list[list[int]]:
    if n_out == n_in:  # torch copies (its scale is ignored)
        return [[o] for o in range(n_out)]
    corners = bool(layer.get("align_corners"))
    scale = _scale(layer, n_in, n_out, corners)
    dst = np.arange(n_out, dtype=np.float32)
    if corners:
        src = scale * dst
    else:
        # One rounding, as the fused multiply-add torch's compiled kernel uses:
        # the float32 product is exact in float64.
        fused = np.float64(scale) * (dst + np.float32(0.5)).astype(np.float64) - 0.5
        src = np.maximum(fused.astype(np.float32), np.float32(0))
    i0 = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
    lam = np.clip(src - i0.astype(np.float32), 0, 1)
    taps = []
    for first, weight in zip(i0.tolist(), lam.tolist(), strict=True):
        # A tap whose weight is exactly 0 reads nothing.
        read = [first] if weight < 1 else []
        if weight > 0 and first < n_in - 1:
            read.append(first + 1)
        taps.append(read)
    return taps


def taps(layer: Layer, axis: int, n_in: int, n_out: int):
    if layer.get("mode") == "nearest":
        return _nearest(layer, n_in, n_out)
    return _bilinear(layer, n_in, n_out)


TYPE = LayerType(
    "Upsample",
    "shape",
    "⤢",
    "enlarges (or shrinks) each map: repeats pixels (nearest) or blends them (bilinear).",
    "Upsampling makes each map larger without learning anything: 'nearest' repeats "
    "every pixel (scale_factor 2 turns each value into a 2×2 block), 'bilinear' "
    "blends the four nearest input pixels by distance, so edges come out smooth. "
    "Give either an output size or a scale_factor (output = ⌊input · scale⌋). "
    "Decoders and segmentation networks (U-Net, FPN) use it to bring small, deep "
    "feature maps back to the image's size; a ConvTranspose2d does the same with "
    "learned weights. align_corners (bilinear only) pins the corner pixels of input "
    "and output to each other.",
    (
        Param("size", OPT_PAIR, None, 1, MAX_SIZE, key=True, help="Output height and width."),
        Param(
            "scale_factor",
            OPT_FLOAT,
            None,
            0.01,
            32.0,
            key=True,
            help="Multiplier of height and width (output = ⌊input·scale⌋).",
        ),
        Param(
            "mode",
            CHOICE,
            "nearest",
            choices=("nearest", "bilinear"),
            key=True,
            help="Repeat the nearest pixel, or blend the four nearest by distance.",
        ),
        Param(
            "align_corners",
            OPT_BOOL,
            None,
            help="Bilinear only: corner pixels of input and output line up exactly "
            "(empty means false).",
        ),
    ),
    needs_spatial=True,
    cost=cost,
    size_lines=size_lines,
    param_line=no_params_line,
    inferred=nothing_inferred,
    field_rule=FieldRule("window", taps=taps),
    starter={"scale_factor": 2.0},
)
