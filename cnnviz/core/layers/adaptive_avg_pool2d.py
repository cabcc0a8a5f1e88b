"""AdaptiveAvgPool2d: averages into a fixed output size, whatever the input size."""

from __future__ import annotations

from cnnviz.core.layer_spec import LayerType
from cnnviz.core.layers._common import FieldRule, no_params_line, nothing_inferred, pair_param
from cnnviz.core.layers._windows import (
    adaptive_cost,
    adaptive_lines,
    adaptive_taps,
    adaptive_window,
)

TYPE = LayerType(
    "AdaptiveAvgPool2d",
    "pooling",
    "▣",
    "averages into a fixed output size, whatever the input size.",
    "Adaptive average pooling picks its windows so that the output has exactly "
    "output_size (h, w), whatever the input size. With output 1×1 it is global "
    "average pooling: one number per channel. The windows start at ⌊i·in/out⌋ and "
    "end at ⌈(i+1)·in/out⌉, so they differ in size and overlap when out does not "
    "divide in. torchvision's AlexNet and VGG add it (6×6, 7×7) so their classifiers "
    "take any input size; the papers have no adaptive pooling.",
    (pair_param("output_size", None, 1, "Output height and width.", required=True, key=True),),
    needs_spatial=True,
    cost=adaptive_cost,
    size_lines=adaptive_lines,
    param_line=no_params_line,
    inferred=nothing_inferred,
    field_rule=FieldRule("window", window=adaptive_window, taps=adaptive_taps),
    starter={"output_size": 1},
)
