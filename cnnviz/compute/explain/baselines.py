"""Integrated gradients' baselines: what "no information" looks like to the network.

* ``black``: an all-black picture as the network's normalisation makes it
  (zeros for a network that declares none; -mean/std for an ImageNet one);
* ``blurred``: the input under a Gaussian blur of sigma = min(H, W) / 10
  (22.4 px at 224; Sturmfels et al., "Visualizing the Impact of Feature
  Attribution Baselines", Distill 2020), edges replicated;
* ``noise``: uniform random pixels in [0, 1], normalised the same way, from
  the request's seed (the same baseline every time for the same seed).

The normalisation is the one the picture went through (the caller's
Preprocessing; else what the architecture declares; else none). Inversion,
resizing and cropping do not apply: black means black on the network's side.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch.nn import functional as F

from cnnviz.core.preprocess import Preprocessing, to_network_input


def picture_levels(prep: Preprocessing | None, channels: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(black, white): (C, 1, 1) network values of a black and a white pixel."""
    norm = Preprocessing() if prep is None else prep
    norm = Preprocessing(normalize=norm.normalize, mean=norm.mean, std=norm.std)
    levels = [
        torch.from_numpy(to_network_input(np.full((1, 1, 3), v, np.float32), channels, 1, 1, norm))
        for v in (0.0, 1.0)
    ]
    return levels[0], levels[1]


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """(N, C, H, W) blurred channel by channel, separably, edges replicated."""
    radius = max(1, math.ceil(3 * sigma))
    taps = torch.arange(-radius, radius + 1, dtype=torch.float64)
    kernel = torch.exp(-0.5 * (taps / sigma) ** 2)
    kernel = (kernel / kernel.sum()).to(x.dtype).to(x.device)
    channels = x.shape[1]
    padded = F.pad(x, (radius, radius, radius, radius), mode="replicate")
    rows = F.conv2d(padded, kernel.view(1, 1, 1, -1).repeat(channels, 1, 1, 1), groups=channels)
    return F.conv2d(rows, kernel.view(1, 1, -1, 1).repeat(channels, 1, 1, 1), groups=channels)


def baseline(kind: str, x: torch.Tensor, prep: Preprocessing | None, seed: int) -> torch.Tensor:
    """The baseline of ``kind`` for the image ``x`` (1, C, H, W), same shape and device."""
    channels, height, width = x.shape[1:]
    if kind == "blurred":
        return gaussian_blur(x, min(height, width) / 10)
    black, white = (level.to(x.device) for level in picture_levels(prep, channels))
    if kind == "black":
        return black.expand_as(x[0]).unsqueeze(0).clone()
    if kind == "noise":
        generator = torch.Generator().manual_seed(seed)
        uniform = torch.rand(x.shape, generator=generator).to(x.device)
        return black + uniform * (white - black)
    raise ValueError(f"unknown baseline {kind!r}")
