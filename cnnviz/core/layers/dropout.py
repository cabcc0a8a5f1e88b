"""Dropout: in training, zeroes random values and scales up the rest."""

from __future__ import annotations

from cnnviz.core.layer_spec import FLOAT, LayerType, MemoryRule, Param
from cnnviz.core.layers._common import (
    ELEMENT_WISE,
    INPLACE,
    in_eval_mode,
    no_params_line,
    nothing_inferred,
    output_bytes,
    same_shape,
    same_shape_lines,
)

TYPE = LayerType(
    "Dropout",
    "regularization",
    "⁘",
    "in training, zeroes random values with probability p and scales the rest by 1/(1-p).",
    "Dropout randomly zeroes each value with probability p during training and "
    "multiplies the survivors by 1/(1-p) so the expected sum is unchanged. In eval "
    "mode it does nothing. It stops units from relying on each other "
    "(co-adaptation) and acts like averaging many thinned networks.",
    (Param("p", FLOAT, 0.5, 0.0, 1.0, key=True, help="Probability of zeroing a value."), INPLACE),
    cost=same_shape,
    size_lines=same_shape_lines,
    param_line=no_params_line,
    inferred=nothing_inferred,
    field_rule=ELEMENT_WISE,
    # In training the random mask, one value per input value; in eval mode it
    # hands on its input as it is.
    memory=MemoryRule(
        workspace=lambda layer, shape, out, w, train: output_bytes(shape) if train else 0,
        shares_input=in_eval_mode,
    ),
)
