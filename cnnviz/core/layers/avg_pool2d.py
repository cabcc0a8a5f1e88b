"""AvgPool2d: replaces each window by its mean."""

from __future__ import annotations

from cnnviz.core.layer_spec import BOOL, LayerType, Param
from cnnviz.core.layers._common import (
    CEIL_HELP,
    PAD_HELP,
    FieldRule,
    no_params_line,
    nothing_inferred,
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
    "AvgPool2d",
    "pooling",
    "▤",
    "replaces each window by its mean.",
    "Average pooling slides a window and outputs the mean of the values in it. "
    "It smooths rather than selects: every cell of the window contributes and "
    "receives an equal share of the gradient. LeNet-5's subsampling was close (a 2×2 "
    "sum times a learned weight, plus a bias, then a sigmoid); modern networks mostly "
    "use max pooling inside and global average pooling at the end.",
    (
        POOL_KERNEL,
        POOL_STRIDE,
        pair_param(
            "padding", 0, 0, PAD_HELP + " At most half the kernel; pads with zeros.", key=True
        ),
        Param("ceil_mode", BOOL, False, help=CEIL_HELP),
        Param(
            "count_include_pad", BOOL, True, help="Count padding zeros in the divisor of the mean."
        ),
    ),
    needs_spatial=True,
    cost=lambda layer, shape: pool_cost(layer, shape, dilated=False),
    size_lines=lambda layer, shape: pool_lines(layer, shape, dilated=False),
    param_line=no_params_line,
    inferred=nothing_inferred,
    field_rule=FieldRule("window", window=lambda layer, i, o: pool_window(layer, dilated=False)),
)
