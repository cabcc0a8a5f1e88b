"""LocalResponseNorm: each value divided by the activity of neighbouring channels."""

from __future__ import annotations

from cnnviz.core.layer_spec import FLOAT, INT, LayerType, MemoryRule, Param
from cnnviz.core.layers._common import (
    ELEMENT_WISE,
    no_params_line,
    nothing_inferred,
    output_bytes,
    same_shape,
    same_shape_lines,
)

TYPE = LayerType(
    "LocalResponseNorm",
    "normalization",
    "≈",
    "divides each value by the activity of neighbouring channels (AlexNet).",
    "Local response normalisation divides each activation by a power of the sum "
    "of squares over `size` neighbouring channels at the same position: "
    "b = a / (k + alpha/n · Σ a²)^beta. Strongly active channels inhibit their "
    "neighbours (lateral inhibition). AlexNet used it; batch norm replaced it.",
    (
        Param(
            "size",
            INT,
            None,
            1,
            1024,
            required=True,
            key=True,
            help="Number of neighbouring channels summed over.",
        ),
        Param("alpha", FLOAT, 1e-4, 0.0, 10.0, help="Scale of the sum of squares."),
        Param("beta", FLOAT, 0.75, 0.0, 10.0, help="Exponent."),
        Param("k", FLOAT, 1.0, 0.0, 100.0, help="Additive constant."),
    ),
    needs_spatial=True,
    cost=same_shape,
    size_lines=same_shape_lines,
    param_line=no_params_line,
    inferred=nothing_inferred,
    # It mixes channels at one position, never positions: spatially element-wise.
    field_rule=ELEMENT_WISE,
    # The squares, then their padded average over the channels.
    memory=MemoryRule(workspace=lambda layer, shape, out, w, train: 2 * output_bytes(shape)),
    starter={"size": 5},
)
