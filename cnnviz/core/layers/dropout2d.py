"""Dropout2d: in training, zeroes whole channels."""

from __future__ import annotations

from cnnviz.core.layer_spec import FLOAT, LayerType, MemoryRule, Param
from cnnviz.core.layers._common import (
    ELEMENT_WISE,
    INPLACE,
    in_eval_mode,
    no_params_line,
    nothing_inferred,
    same_shape,
    same_shape_lines,
)

TYPE = LayerType(
    "Dropout2d",
    "regularization",
    "⁙",
    "in training, zeroes whole channels with probability p.",
    "Spatial dropout zeroes entire feature maps (channels) at random in training, "
    "because neighbouring pixels in a map are strongly correlated and dropping "
    "single values barely regularises conv layers. Identity in eval mode.",
    (
        Param("p", FLOAT, 0.5, 0.0, 1.0, key=True, help="Probability of zeroing a channel."),
        INPLACE,
    ),
    needs_spatial=True,
    cost=same_shape,
    size_lines=same_shape_lines,
    param_line=no_params_line,
    inferred=nothing_inferred,
    field_rule=ELEMENT_WISE,
    memory=MemoryRule(shares_input=in_eval_mode),  # eval mode hands on its input
)
