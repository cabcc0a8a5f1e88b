"""MaxPool2d: keeps the largest value of each window."""

from __future__ import annotations

from cnnviz.core.layer_spec import BOOL, LayerType, MemoryRule, Param
from cnnviz.core.layers._common import (
    CEIL_HELP,
    DIL_HELP,
    PAD_HELP,
    FieldRule,
    no_params_line,
    nothing_inferred,
    output_bytes,
    pair_param,
)
from cnnviz.core.layers._windows import (
    POOL_KERNEL,
    POOL_STRIDE,
    pool_cost,
    pool_lines,
    pool_window,
)

TYPE = LayerType(
    "MaxPool2d",
    "pooling",
    "⊞",
    "keeps the largest value in each window.",
    "Max pooling slides a window (no weights) and keeps only the largest value "
    "in it: the strongest response survives, its exact position is forgotten, "
    "and the map shrinks (2×2 with stride 2 halves height and width). It has no "
    "parameters; the gradient flows only through the winning cell.",
    (
        POOL_KERNEL,
        POOL_STRIDE,
        pair_param(
            "padding", 0, 0, PAD_HELP + " At most half the kernel; pads with -inf.", key=True
        ),
        pair_param("dilation", 1, 1, DIL_HELP),
        Param("ceil_mode", BOOL, False, help=CEIL_HELP),
    ),
    needs_spatial=True,
    cost=lambda layer, shape: pool_cost(layer, shape, dilated=True),
    size_lines=lambda layer, shape: pool_lines(layer, shape, dilated=True),
    param_line=no_params_line,
    inferred=nothing_inferred,
    field_rule=FieldRule("window", window=lambda layer, i, o: pool_window(layer, dilated=True)),
    # torch computes the int64 indices of the maxima too.
    memory=MemoryRule(workspace=lambda layer, i, out, w, train: 2 * output_bytes(out)),
)
