"""Softmax: scores into probabilities that sum to 1."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cnnviz.core.layer_spec import OPT_INT, LayerType, Param
from cnnviz.core.layers._common import (
    ELEMENT_WISE,
    MIXES_HEIGHT,
    MIXES_LAST_AXIS,
    MIXES_VECTOR,
    FieldRule,
    LayerCost,
    Shape,
    ShapeError,
    no_params_line,
    same_shape_lines,
)

if TYPE_CHECKING:
    from cnnviz.core.architecture import Layer


def cost(layer: Layer, shape: Shape) -> LayerCost:
    dim = layer.get("dim")
    rank = len(shape) + 1  # torch sees the batch dimension too
    if dim is not None and not -rank <= dim < rank:
        raise ShapeError(
            f"dim {dim} is out of range for a {rank}-d batched input (from {-rank} to {rank - 1})"
        )
    return LayerCost(shape)


def inferred(layer: Layer, shape: Shape) -> dict[str, Any]:
    # torch's implicit choice for 2-d and 4-d batched input is dim 1; spelling
    # it out avoids its deprecation warning.
    return {"dim": 1} if layer.get("dim") is None else {}


def field_rule(layer: Layer, shape: Shape) -> FieldRule:
    """What one output reads depends on the axis it sums to 1 along (counting the
    batch): the channels at one position (dim 1) or a vector's every value, a
    whole row (dim 3) or column (dim 2) of maps, or, along the batch of one
    image (dim 0), only itself."""
    rank = len(shape) + 1
    dim = layer.get("dim")
    axis = 1 if dim is None else dim % rank
    if axis == 0:
        return ELEMENT_WISE
    if rank == 4 and axis == 2:
        return MIXES_HEIGHT
    if rank == 4 and axis == 3:
        return MIXES_LAST_AXIS
    return MIXES_VECTOR


TYPE = LayerType(
    "Softmax",
    "activation",
    "σ",
    "turns scores into probabilities that sum to 1.",
    "Softmax exponentiates each score and divides by the sum, giving positive "
    "values that sum to 1 along `dim`: class probabilities. Usually last. "
    "dim counts the batch as dim 0, so dim 1 is the channels or features; "
    "empty means torch's implicit choice, which is dim 1 here.",
    (Param("dim", OPT_INT, None, -4, 3, help="Dimension summed to 1 (batch is 0)."),),
    cost=cost,
    size_lines=same_shape_lines,
    param_line=no_params_line,
    inferred=inferred,
    field_rule=FieldRule("by parameters", pick=field_rule),
)
