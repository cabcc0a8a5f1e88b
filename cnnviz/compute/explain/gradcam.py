"""Grad-CAM (Selvaraju et al. 2017) on one layer's (C, h, w) output.

The gradient of the target's score before softmax with respect to the layer's
output, averaged over each map, weighs that map; the weighted sum over maps,
through ReLU, is the (h, w) layer map; upsampled bilinearly to the input
(``F.interpolate``, align_corners False) it is the input map. This is captum's
``LayerGradCam(...).attribute(x, target, relu_attributions=True)`` and
``LayerAttribution.interpolate(..., "bilinear")``. Only the layers after the
chosen one are differentiated (network.run starts the graph there), so it
costs little more than a forward.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

from cnnviz.compute.explain.network import Network, choose_target
from cnnviz.compute.explain.result import Attribution


def layer_cam(net: Network, x: torch.Tensor, layer: int, target: int | None):
    """(target, score, the (1, 1, h, w) map after ReLU) for one image ``x`` (1, C, H, W)."""
    scores, maps = net.run(x, layer=layer)
    target, score = choose_target(scores[0].detach(), target)
    if not scores.requires_grad:  # nothing after the layer depends on it
        return target, score, torch.zeros_like(maps[:, :1])
    (grads,) = torch.autograd.grad(scores[0, target], maps)
    weights = grads.mean(dim=(2, 3), keepdim=True)
    cam = torch.relu((weights * maps).sum(dim=1, keepdim=True))
    return target, score, cam.detach()


def upsampled(cam: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """The (1, 1, h, w) map at the input's (H, W), bilinearly (captum's interpolate)."""
    return F.interpolate(cam, size=size, mode="bilinear")


def gradcam(net: Network, x: torch.Tensor, layer: int, target: int | None = None) -> Attribution:
    target, score, cam = layer_cam(net, x, layer, target)
    full = upsampled(cam, tuple(x.shape[2:]))
    return Attribution(target, score, full[0], layer=layer, layer_map=cam[0, 0])
