"""Vanilla gradient saliency (Simonyan et al. 2013): |∂ score / ∂ input|.

Captum's ``Saliency(model).attribute(x, target)`` (abs=True, its default),
per channel; the map sums the channels (result.py).
"""

from __future__ import annotations

import torch

from cnnviz.compute.explain.network import Network, choose_target
from cnnviz.compute.explain.result import Attribution


def input_gradient(net: Network, x: torch.Tensor, target: int | None):
    """(target, score, ∂ score / ∂ x of shape (C, H, W)) for one image (1, C, H, W)."""
    x = x.detach().requires_grad_(True)
    scores = net.scores(x)
    target, score = choose_target(scores[0].detach(), target)
    if not scores.requires_grad:  # e.g. the network ignores its input
        return target, score, torch.zeros_like(x[0])
    (grad,) = torch.autograd.grad(scores[0, target], x)
    return target, score, grad[0]


def saliency(net: Network, x: torch.Tensor, target: int | None = None) -> Attribution:
    target, score, grad = input_gradient(net, x, target)
    return Attribution(target, score, grad.abs())
