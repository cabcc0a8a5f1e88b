"""Flatten: unrolls C×H×W into one vector."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cnnviz.core.layer_spec import INT, LayerType, MemoryRule, Param
from cnnviz.core.layers._common import (
    FLATTENS,
    LayerCost,
    Shape,
    always,
    no_params_line,
    nothing_inferred,
    prod,
)

if TYPE_CHECKING:
    from cnnviz.core.architecture import Layer


def cost(layer: Layer, shape: Shape) -> LayerCost:
    return LayerCost((prod(shape),))


def size_lines(layer: Layer, shape: Shape) -> list[str]:
    return [f"N = {'·'.join(str(s) for s in shape)} = {prod(shape)}"]


TYPE = LayerType(
    "Flatten",
    "shape",
    "☰",
    "unrolls C×H×W into one vector of C·H·W numbers.",
    "Flatten reshapes the feature maps into a single vector so dense (Linear) "
    "layers can follow. It has no parameters and changes no values; spatial "
    "structure is lost from here on.",
    (
        Param("start_dim", INT, 1, 1, 1, hidden=True, help="First dim to flatten (fixed)."),
        Param("end_dim", INT, -1, -1, -1, hidden=True, help="Last dim to flatten (fixed)."),
    ),
    cost=cost,
    size_lines=size_lines,
    param_line=no_params_line,
    inferred=nothing_inferred,
    field_rule=FLATTENS,
    memory=MemoryRule(shares_input=always),  # a view of its input
)
