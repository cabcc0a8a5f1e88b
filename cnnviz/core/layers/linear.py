"""Linear: every input connected to every output, y = Wx + b."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cnnviz.core.layer_spec import BOOL, INT, LayerType, Param
from cnnviz.core.layers._common import MIXES_LAST_AXIS, LayerCost, Shape, prod

if TYPE_CHECKING:
    from cnnviz.core.architecture import Layer


def cost(layer: Layer, shape: Shape) -> LayerCost:
    n_in, n_out = shape[-1], layer.get("out_features")
    biases = n_out if layer.get("bias") else 0
    return LayerCost((*shape[:-1], n_out), n_in * n_out, biases, prod(shape[:-1]) * n_in * n_out)


def size_lines(layer: Layer, shape: Shape) -> list[str]:
    return [f"out = out_features = {layer.get('out_features')} (from {shape[-1]} inputs)"]


def param_line(layer: Layer, shape: Shape) -> str:
    n_in, n_out = shape[-1], layer.get("out_features")
    bias = n_out if layer.get("bias") else 0
    bias_term = f" + {n_out}" if bias else ""
    return f"params = {n_in}·{n_out}{bias_term} = {n_in * n_out + bias:,}"


TYPE = LayerType(
    "Linear",
    "dense",
    "⊶",
    "every input connected to every output: y = Wx + b.",
    "A dense (fully connected) layer multiplies its input vector by a weight "
    "matrix and adds a bias: in_features × out_features weights. Without "
    "parameter sharing it is expensive: a Linear from 64×56×56 to 64×56×56 would "
    "need 40 billion weights where a 3×3 conv needs 36,928. Applied to the last "
    "dimension of its input; put a Flatten before it to use all features.",
    (
        Param(
            "out_features",
            INT,
            None,
            1,
            1_000_000,
            required=True,
            key=True,
            help="Number of outputs.",
        ),
        Param("bias", BOOL, True, help="Add a learned bias to each output."),
    ),
    cost=cost,
    size_lines=size_lines,
    param_line=param_line,
    inferred=lambda layer, shape: {"in_features": shape[-1]},
    field_rule=MIXES_LAST_AXIS,
    starter={"out_features": 10},
)
