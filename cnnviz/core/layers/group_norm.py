"""GroupNorm: normalises groups of channels by their own statistics, per image."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cnnviz.core.layer_spec import BOOL, FLOAT, INT, LayerType, Param
from cnnviz.core.layers._common import (
    MAX_CHANNELS,
    WHOLE_MAP,
    LayerCost,
    Shape,
    ShapeError,
    channels_as,
    prod,
    same_shape_lines,
)

if TYPE_CHECKING:
    from cnnviz.core.architecture import Layer


def cost(layer: Layer, shape: Shape) -> LayerCost:
    # Channels are the first axis: C of maps, and of a vector its length, as torch reads it.
    c, groups = shape[0], layer.get("num_groups")
    if c % groups:
        raise ShapeError(
            f"num_groups {groups} does not divide its {c} channels; "
            f"choose a divisor of {c} (1 normalises all channels together)"
        )
    per_group = c // groups * prod(shape[1:])
    if per_group < 2:
        # torch: "Expected more than 1 value per channel when training", in any mode.
        raise ShapeError(
            f"each of its {groups} groups holds only 1 value ({c} channels of "
            f"{'×'.join(map(str, shape[1:])) or '1'}); a mean and variance need more: "
            "use fewer groups or a larger map"
        )
    affine = c if layer.get("affine") else 0
    return LayerCost(shape, affine, affine, prod(shape))


def param_line(layer: Layer, shape: Shape) -> str:
    if not layer.get("affine"):
        return "params = 0 (affine off; no running statistics either)"
    return f"params = 2·{shape[0]} = {2 * shape[0]:,} (γ and β per channel)"


TYPE = LayerType(
    "GroupNorm",
    "normalization",
    "≣",
    "normalises groups of channels by their own mean and variance, image by image.",
    "Group normalisation splits the channels into num_groups groups and normalises "
    "each group of each image by the mean and variance of its own values (all its "
    "channels and positions), then applies a learned scale (gamma) and shift (beta) "
    "per channel. Unlike batch norm it never looks at other images, so it works the "
    "same with a batch of 1 or 1000 and the same in training and eval mode; "
    "num_groups 1 is layer norm over C×H×W, num_groups = channels is instance norm. "
    "Every output depends on every position of its group. 2 parameters per channel.",
    (
        Param(
            "num_groups",
            INT,
            None,
            1,
            MAX_CHANNELS,
            required=True,
            key=True,
            help="Number of channel groups; must divide the channels.",
        ),
        Param("eps", FLOAT, 1e-5, 1e-12, 1.0, help="Added to the variance for stability."),
        Param("affine", BOOL, True, help="Learn a scale and shift per channel."),
    ),
    cost=cost,
    size_lines=same_shape_lines,
    param_line=param_line,
    inferred=channels_as("num_channels"),
    field_rule=WHOLE_MAP,
    starter={"num_groups": 2},
)
