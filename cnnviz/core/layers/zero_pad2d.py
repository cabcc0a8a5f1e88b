"""ZeroPad2d: adds rows and columns of zeros around each map (or crops)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cnnviz.core.layer_spec import PAD4, LayerType, Param
from cnnviz.core.layers._common import (
    MAX_SIZE,
    FieldRule,
    LayerCost,
    Shape,
    ShapeError,
    no_params_line,
    nothing_inferred,
    spatial,
)

if TYPE_CHECKING:
    from cnnviz.core.architecture import Layer


def sides(layer: Layer) -> tuple[int, int, int, int]:
    """(left, right, top, bottom), as torch reads an int or a 4-tuple."""
    padding = layer.get("padding")
    return tuple(padding) if isinstance(padding, tuple) else (padding,) * 4  # type: ignore[return-value]


def cost(layer: Layer, shape: Shape) -> LayerCost:
    c, h, w = spatial(shape)
    left, right, top, bottom = sides(layer)
    out_h, out_w = h + top + bottom, w + left + right
    for axis, size, before, after, out in (
        ("height", h, top, bottom, out_h),
        ("width", w, left, right, out_w),
    ):
        cropped = -min(before, 0) - min(after, 0)
        if cropped > size:  # torch crops first, then pads: the crop must fit
            raise ShapeError(
                f"negative padding crops {cropped} rows/columns from its {axis} {size}; "
                f"crop at most {size}"
            )
        if out < 1:
            # torch gives an empty map here, of no use to any layer after it.
            raise ShapeError(
                f"padding {before} and {after} turn its {axis} {size} into {out}; "
                "keep at least one row/column"
            )
    return LayerCost((c, out_h, out_w))


def size_lines(layer: Layer, shape: Shape) -> list[str]:
    left, right, top, bottom = sides(layer)
    return [
        f"H_out = {top} + {shape[1]} + {bottom} = {shape[1] + top + bottom} (top + H + bottom)",
        f"W_out = {left} + {shape[2]} + {right} = {shape[2] + left + right} (left + W + right)",
    ]


def window(layer: Layer, in_hw, out_hw):
    """Output (r, c) is input (r − top, c − left): a 1×1 window shifted by the
    padding before it. A crop (negative padding) has no regular geometry: the
    cropped pixels are gone, and padding further on must not reach back into
    them as a shifted grid would; its field is kept as spans (``taps``)."""
    left, right, top, bottom = sides(layer)
    if min(left, right, top, bottom) < 0:
        return None
    return (1, 1), (1, 1), (1, 1), (top, left)


def taps(layer: Layer, axis: int, n_in: int, n_out: int) -> list[range]:
    left, _, top, _ = sides(layer)
    before = (top, left)[axis]
    return [range(o - before, o - before + 1) for o in range(n_out)]


TYPE = LayerType(
    "ZeroPad2d",
    "shape",
    "⬚",
    "adds rows and columns of zeros around each map; negative values crop.",
    "Zero padding adds `padding` rows or columns of zeros on each side of every "
    "channel: one number pads all four sides, (left, right, top, bottom) pads each "
    "side its own amount, which is how a network pads asymmetrically (TensorFlow's "
    "'same' padding for a stride-2 convolution puts the extra row at the bottom). "
    "A negative value crops that many rows or columns instead. No parameters; a "
    "convolution's own padding does the same for its input only.",
    (
        Param(
            "padding",
            PAD4,
            None,
            -MAX_SIZE,
            MAX_SIZE,
            required=True,
            key=True,
            help="Zeros on every side (one number) or (left, right, top, bottom); negative crops.",
        ),
    ),
    needs_spatial=True,
    cost=cost,
    size_lines=size_lines,
    param_line=no_params_line,
    inferred=nothing_inferred,
    field_rule=FieldRule("window", window=window, taps=taps),
    starter={"padding": 1},
)
