"""One module per layer type: everything cnnviz knows about it in one place.

Each module declares a ``LayerType`` (layer_spec.py): its parameters with
torch's names and defaults, its palette group, glyph and explanation, and its
rules: ``cost`` (output shape, weights, biases, MACs), ``size_lines`` and
``param_line`` (the formula text of the Properties panel), ``inferred`` (the
constructor arguments torch needs from the input, e.g. in_channels ← C),
``field_rule`` (how the receptive field changes) and ``memory`` (what it needs
beyond parameters and output). The registries (catalogue.CATALOGUE,
shapes.layer_cost, receptive_field.step, memory.estimate, formula) only
dispatch to these, and compute/model.py builds every type as
``getattr(nn, type)(**params, **inferred)``. README "Adding a layer type".

``LEAF_TYPES`` is the palette order within each group. ``IMPORTED_TYPES``
are leaf types only an import makes (Opaque): known to ``layer_type`` and to
architecture files, but not in the palette or the random-stack generators.
"""

from __future__ import annotations

from cnnviz.core.layer_spec import LayerType
from cnnviz.core.layers import (
    activations,
    adaptive_avg_pool2d,
    adaptive_max_pool2d,
    avg_pool2d,
    batch_norm2d,
    conv2d,
    conv_transpose2d,
    dropout,
    dropout2d,
    flatten,
    group_norm,
    hooked,
    identity,
    linear,
    local_response_norm,
    max_pool2d,
    opaque,
    softmax,
    upsample,
    zero_pad2d,
)

LEAF_TYPES: tuple[LayerType, ...] = (
    conv2d.TYPE,
    conv_transpose2d.TYPE,
    max_pool2d.TYPE,
    avg_pool2d.TYPE,
    adaptive_avg_pool2d.TYPE,
    adaptive_max_pool2d.TYPE,
    batch_norm2d.TYPE,
    group_norm.TYPE,
    local_response_norm.TYPE,
    dropout.TYPE,
    dropout2d.TYPE,
    flatten.TYPE,
    zero_pad2d.TYPE,
    upsample.TYPE,
    identity.TYPE,
    linear.TYPE,
    *activations.TYPES,
    softmax.TYPE,
)

IMPORTED_TYPES: tuple[LayerType, ...] = (opaque.TYPE, hooked.TYPE)
