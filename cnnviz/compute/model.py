"""Architecture → torch ``nn.Sequential`` whose index is the layer index.

Sizes torch needs from the previous layer (in_channels, in_features,
num_features) come from the core's shape inference, so the built model and the
analysis can never disagree about them.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from cnnviz.core.analysis import analyze
from cnnviz.core.architecture import Architecture, ArchitectureError, Layer


def _constructor_args(layer: Layer, input_shape: tuple[int, ...]) -> dict[str, Any]:
    args = layer.all_params()
    # Never in place: hooks keep views of outputs and inputs (DESIGN.md trap).
    if "inplace" in args:
        args["inplace"] = False
    if layer.type == "Conv2d":
        args["in_channels"] = input_shape[0]
    elif layer.type == "Linear":
        args["in_features"] = input_shape[-1]
    elif layer.type == "BatchNorm2d":
        args["num_features"] = input_shape[0]
    elif layer.type == "Softmax" and args["dim"] is None:
        # torch's implicit choice for 2-d and 4-d batched input is dim 1;
        # spelling it out avoids its deprecation warning.
        args["dim"] = 1
    return args


def build_layer(layer: Layer, input_shape: tuple[int, ...]) -> nn.Module:
    """One torch module for `layer` receiving (unbatched) `input_shape`."""
    cls = getattr(nn, layer.type)
    return cls(**_constructor_args(layer, input_shape))


def build_model(arch: Architecture, seed: int | None = 0) -> nn.Sequential:
    """The whole stack as nn.Sequential; ArchitectureError if a layer is invalid.

    With a seed, initialisation is deterministic and does not touch torch's
    global random state.
    """
    analysis = analyze(arch)
    bad = analysis.first_error
    if bad is not None:
        raise ArchitectureError(bad.error)
    with torch.random.fork_rng(devices=[]):
        if seed is not None:
            torch.manual_seed(seed)
        modules = [build_layer(info.layer, info.input_shape) for info in analysis.layers]
    return nn.Sequential(*modules)
