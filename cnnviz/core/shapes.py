"""Shape inference, parameter counts and MACs, layer by layer, exactly as torch.

Shapes are per sample, without the batch: ``(C, H, W)`` for feature maps and
``(N,)`` for vectors (``(C, H, N)`` after a Linear applied to maps, as torch
does). Each type's rule is declared in its module (``cnnviz/core/layers/``);
``layer_cost`` dispatches to it. Every rule is checked against torch by
tests/core/test_against_torch.py. The helpers stay importable from here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cnnviz.core.catalogue import layer_type
from cnnviz.core.layers._common import LayerCost, Shape, ShapeError, as_pair, spatial
from cnnviz.core.layers._windows import conv_out_size, conv_padding, pool_out_size, same_padding

if TYPE_CHECKING:
    from cnnviz.core.architecture import Layer

__all__ = [
    "LayerCost",
    "Shape",
    "ShapeError",
    "as_pair",
    "conv_out_size",
    "conv_padding",
    "layer_cost",
    "pool_out_size",
    "same_padding",
]


def layer_cost(layer: Layer, input_shape: Shape) -> LayerCost:
    """Output shape, parameters and MACs of one layer, or ShapeError."""
    spec = layer_type(layer.type)
    if spec.cost is None:
        raise TypeError(f"{layer.type} has no shape rule of its own (a block: see analysis.py)")
    shape = tuple(input_shape)
    if spec.needs_spatial:
        spatial(shape)
    return spec.cost(layer, shape)
