"""Guided backpropagation (Springenberg et al. 2015): the input gradient, with
every ReLU letting back only positive gradients, and only where its input was
positive.

As captum's ``GuidedBackprop``: only ``nn.ReLU`` modules are overridden,
wherever they sit (inside a Residual's body, a Parallel's branch, ...). Other
activations (ReLU6, LeakyReLU, ELU, GELU, SiLU, Hardswish, Sigmoid, Tanh)
pass their ordinary gradient, exactly as in captum; so on EfficientNet-Lite0,
whose activations are all ReLU6, guided backprop is the plain input gradient.
The override is the call network.py makes for every ReLU, never a hook or a
module swapped into the user's model.
"""

from __future__ import annotations

import torch
from torch import nn

from cnnviz.compute.explain.network import Network
from cnnviz.compute.explain.result import Attribution
from cnnviz.compute.explain.saliency import input_gradient


class _GuidedReLU(torch.autograd.Function):
    """ReLU forward; backward relu(grad) where the output was positive (captum
    returns relu of ReLU's own input gradient, which is the same)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(x)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        (out,) = ctx.saved_tensors
        return grad.clamp(min=0) * (out > 0)


def guided_relu(x: torch.Tensor) -> torch.Tensor:
    return _GuidedReLU.apply(x)


def guided_network(model: nn.Sequential) -> Network:
    return Network(model, replace={nn.ReLU: guided_relu})


def guided_backprop(net: Network, x: torch.Tensor, target: int | None = None) -> Attribution:
    """``net`` is guided_network(model)."""
    target, score, grad = input_gradient(net, x, target)
    return Attribution(target, score, grad)
