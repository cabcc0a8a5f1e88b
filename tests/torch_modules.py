"""Torch modules for cnnviz layers, sized from the tensor torch actually receives.

The tests' independent oracle: sizes come from running torch, never from
cnnviz's own shape arithmetic.
"""

from __future__ import annotations

import torch
from torch import nn

from cnnviz.core.architecture import Layer


def torch_module(layer: Layer, x: torch.Tensor) -> nn.Module:
    """A torch module for `layer` whose input is `x` (batched)."""
    args = dict(layer.all_params())
    if layer.type in ("Conv2d", "ConvTranspose2d"):
        args["in_channels"] = x.shape[1]
    elif layer.type == "Linear":
        args["in_features"] = x.shape[-1]
    elif layer.type == "BatchNorm2d":
        args["num_features"] = x.shape[1]
    elif layer.type == "GroupNorm":
        args["num_channels"] = x.shape[1]
    elif layer.type == "Softmax" and args["dim"] is None:
        args["dim"] = 1  # what torch's implicit choice is for a batch, without its warning
    return getattr(nn, layer.type)(**args)
