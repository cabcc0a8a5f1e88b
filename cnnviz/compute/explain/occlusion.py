"""Occlusion (Zeiler and Fergus 2014): how the target's score drops when a
window of the input, across all channels, is set to 0.

Captum's ``Occlusion(model).attribute(x, sliding_window_shapes=(C, window,
window), strides=(C, stride, stride), baselines=0, target=t)``: the window
starts at 0, stride, 2·stride, ... ceil((H - window) / stride) + 1 times per
axis, the last one cut at the edge; each value is the mean, over the windows
covering it, of F(x) - F(x with that window zeroed). Every channel gets the
same value. Windows run in bounded batches with progress and cancel.
"""

from __future__ import annotations

import math

import torch

from cnnviz.compute.explain.batches import Progress, in_batches
from cnnviz.compute.explain.network import Network, choose_target
from cnnviz.compute.explain.result import Attribution
from cnnviz.compute.forward import CancelCheck


def window_starts(size: int, window: int, stride: int) -> list[int]:
    """Where the windows start along an axis of ``size`` (captum's shift counts)."""
    return [i * stride for i in range(math.ceil((size - window) / stride) + 1)]


def positions(height: int, width: int, window: int, stride: int) -> list[tuple[int, int]]:
    rows, columns = window_starts(height, window, stride), window_starts(width, window, stride)
    return [(top, left) for top in rows for left in columns]


def occlusion(
    net: Network,
    x: torch.Tensor,
    target: int | None = None,
    window: int = 16,
    stride: int = 8,
    batch: int = 16,
    should_cancel: CancelCheck = None,
    progress: Progress = None,
) -> Attribution:
    height, width = x.shape[2:]
    with torch.no_grad():
        scores = net.scores(x)[0]
    target, score = choose_target(scores, target)
    places = positions(height, width, window, stride)
    total = torch.zeros((height, width), dtype=torch.float64)
    count = torch.zeros((height, width), dtype=torch.float64)
    for part in in_batches(len(places), batch, should_cancel, progress):
        chunk = places[part]
        occluded = x.repeat(len(chunk), 1, 1, 1)
        for i, (top, left) in enumerate(chunk):
            occluded[i, :, top : top + window, left : left + window] = 0
        with torch.no_grad():
            drops = (scores[target] - net.scores(occluded)[:, target]).cpu().double()
        for drop, (top, left) in zip(drops, chunk, strict=True):
            total[top : top + window, left : left + window] += drop
            count[top : top + window, left : left + window] += 1
    mean = (total / count).to(x.dtype).to(x.device)
    return Attribution(target, score, mean.expand(x.shape[1], -1, -1))
