"""The output-size and parameter-count formulas, with one layer's numbers filled in.

The properties panel shows these live so a learner sees *why* a layer's output
has its size: ``H_out = ⌊(32 + 2·1 − 1·(3−1) − 1) / 2⌋ + 1 = 16``. The result on
the right is always the core's own arithmetic (each type's module under
``cnnviz/core/layers/`` writes its lines from the same functions as its shape
rule), so the line can never disagree with the stack.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cnnviz.core.catalogue import layer_type
from cnnviz.core.layers._common import Shape, no_params_line, same_shape_lines
from cnnviz.core.layers._windows import adaptive_window_text

if TYPE_CHECKING:
    from cnnviz.core.architecture import Layer

__all__ = ["adaptive_window_text", "output_size_lines", "parameter_line"]


def _applies(layer: Layer, shape: Shape) -> bool:
    """Whether the type's own formula fits this input (a spatial type on a
    vector has none: the stack marks it invalid)."""
    return not layer_type(layer.type).needs_spatial or len(shape) == 3


def output_size_lines(layer: Layer, input_shape: Shape | None) -> list[str]:
    """The output-size formula per axis with the layer's numbers, or a short
    description for layers that do not slide a window. Empty when unknown."""
    if input_shape is None:
        return []
    shape = tuple(input_shape)
    rule = layer_type(layer.type).size_lines
    if rule is None or not _applies(layer, shape):
        return same_shape_lines(layer, shape)
    return rule(layer, shape)


def parameter_line(layer: Layer, input_shape: Shape | None) -> str:
    """How the layer's parameter count comes about, with its numbers."""
    if input_shape is None:
        return ""
    shape = tuple(input_shape)
    rule = layer_type(layer.type).param_line
    if rule is None or not _applies(layer, shape):
        return no_params_line(layer, shape)
    return rule(layer, shape)
