"""Identity: passes its input on unchanged."""

from __future__ import annotations

from cnnviz.core.layer_spec import LayerType, MemoryRule
from cnnviz.core.layers._common import (
    ELEMENT_WISE,
    always,
    no_params_line,
    nothing_inferred,
    same_shape,
    same_shape_lines,
)

TYPE = LayerType(
    "Identity",
    "shape",
    "═",
    "passes its input on unchanged.",
    "Identity outputs exactly its input: no parameters, no change. It is a "
    "placeholder: where a network is built from a recipe it stands for a layer "
    "that is switched off (torchvision replaces a classifier head by Identity to "
    "get the features), and it is what a residual block's empty shortcut does.",
    (),
    cost=same_shape,
    size_lines=same_shape_lines,
    param_line=no_params_line,
    inferred=nothing_inferred,
    field_rule=ELEMENT_WISE,
    memory=MemoryRule(shares_input=always),  # torch returns the input tensor itself
)
