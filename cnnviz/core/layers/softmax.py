"""Softmax: scores into probabilities that sum to 1."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cnnviz.core.layer_spec import OPT_INT, LayerType, Param
from cnnviz.core.layers._common import (
    MIXES_VECTOR,
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
    # On maps it mixes channels at one position (dim 1), not positions.
    field_rule=MIXES_VECTOR,
)
