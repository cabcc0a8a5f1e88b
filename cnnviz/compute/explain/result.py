"""What every method returns: the full attribution, and how it becomes one map.

``values`` keeps the attribution at the input's full shape (C, H, W), as
captum returns it (Grad-CAM: its one upsampled map, (1, H, W)), so tests can
compare it value for value. The (H, W) map shown and saved is the **sum over
channels**, for every method alike: that is how captum's own visualisation
combines channels, and it keeps integrated gradients' completeness (the map
adds up to F(x) - F(baseline) + delta). For occlusion, whose window covers
all channels so each channel holds the same value, the map is C times that
value.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class Attribution:
    target: int
    score: float  # the target's score before softmax
    values: torch.Tensor  # (C, H, W); Grad-CAM (1, H, W)
    layer: int | None = None
    layer_map: torch.Tensor | None = None  # Grad-CAM: (h, w), after ReLU, before upsampling
    delta: float | None = None  # integrated gradients' completeness gap
    steps: int | None = None  # integrated gradients' steps (gradients) used

    def map(self) -> np.ndarray:
        """(H, W) float32: the channels summed."""
        return as_numpy(self.values.sum(0))

    def full(self) -> np.ndarray:
        return as_numpy(self.values)


def as_numpy(tensor: torch.Tensor) -> np.ndarray:
    """A float32 copy on the CPU, owned by nobody else (a CPU tensor's numpy is a view)."""
    return np.array(tensor.detach().cpu().numpy(), dtype=np.float32, order="C")
