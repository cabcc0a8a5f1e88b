"""AdaptiveMaxPool2d: keeps the largest value of each of a fixed grid of windows."""

from __future__ import annotations

from cnnviz.core.layer_spec import LayerType, MemoryRule
from cnnviz.core.layers._common import (
    FieldRule,
    no_params_line,
    nothing_inferred,
    output_bytes,
    pair_param,
)
from cnnviz.core.layers._windows import (
    adaptive_cost,
    adaptive_lines,
    adaptive_taps,
    adaptive_window,
)

TYPE = LayerType(
    "AdaptiveMaxPool2d",
    "pooling",
    "◘",
    "keeps the largest value of each window of a fixed output grid, whatever the input size.",
    "Adaptive max pooling divides each map into output_size (h, w) windows, "
    "whatever the input size, and keeps the largest value of each: with output "
    "1×1 it is global max pooling, the strongest response of each channel "
    "anywhere in the image. The windows are adaptive average pooling's: they "
    "start at ⌊i·in/out⌋ and end at ⌈(i+1)·in/out⌉, so they differ in size and "
    "overlap when out does not divide in. Only the winning cell gets a gradient.",
    (pair_param("output_size", None, 1, "Output height and width.", required=True, key=True),),
    needs_spatial=True,
    cost=adaptive_cost,
    size_lines=adaptive_lines,
    param_line=no_params_line,
    inferred=nothing_inferred,
    field_rule=FieldRule("window", window=adaptive_window, taps=adaptive_taps),
    # torch computes the int64 indices of the maxima too (as MaxPool2d;
    # measured on torch 2.13's CPU kernels from the second forward on).
    memory=MemoryRule(workspace=lambda layer, i, out, w, train: 2 * output_bytes(out)),
    starter={"output_size": 1},
)
