"""Guided Grad-CAM (Selvaraju et al. 2017): guided backprop times the Grad-CAM
map upsampled to the input, channel by channel.

Captum's ``GuidedGradCam(model, layer).attribute(x, target,
interpolate_mode="bilinear")``: the same bilinear upsampling as the Grad-CAM
map cnnviz shows (captum's own default there is nearest; the paper's is
bilinear). The target is settled by Grad-CAM's forward, then used for both.
"""

from __future__ import annotations

import torch

from cnnviz.compute.explain.gradcam import layer_cam, upsampled
from cnnviz.compute.explain.guided_backprop import guided_backprop, guided_network
from cnnviz.compute.explain.network import Network
from cnnviz.compute.explain.result import Attribution


def guided_gradcam(
    net: Network, x: torch.Tensor, layer: int, target: int | None = None
) -> Attribution:
    target, score, cam = layer_cam(net, x, layer, target)
    guided = guided_backprop(guided_network(net.model), x, target)
    values = guided.values * upsampled(cam, tuple(x.shape[2:]))[0]
    return Attribution(target, score, values, layer=layer, layer_map=cam[0, 0])
