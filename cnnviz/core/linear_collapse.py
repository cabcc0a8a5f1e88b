"""Why non-linearity: without activations, a network is one affine map.

Remove every activation (and replace max pooling) and what is left — convs,
Linear layers, average pools, BatchNorm and Dropout at evaluation, residual
adds, concats — computes x ↦ Wx + b over the flattened input, however deep:
it can represent nothing a single Linear layer cannot; the activations are
what make depth worth having. compute.collapse asks the network itself for W
and b; this module declares that job's request and result (numpy only).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cnnviz.core.architecture import Architecture


@dataclass(frozen=True, eq=False)
class MapRequest:
    """The lab's question: the one linear map of this (activation-free) network,
    checked on `image` (C, H, W as the network saw it; None: random inputs only)."""

    request_id: int
    architecture: Architecture
    seed: int = 0
    weights_path: str | None = None
    image: np.ndarray | None = None


@dataclass(frozen=True, eq=False)
class AffineMap:
    """x ↦ Wx + b over the flattened input, and how well it matches the network."""

    request_id: int
    weight: np.ndarray  # (out, in)
    bias: np.ndarray  # (out,)
    input_shape: tuple[int, int, int]
    network: np.ndarray | None = None  # the network's own output on the image (out,)
    mapped: np.ndarray | None = None  # Wx + b on the same image (out,)

    @property
    def max_diff(self) -> float | None:
        if self.network is None or self.mapped is None:
            return None
        return float(np.abs(self.network - self.mapped).max())

    def templates(self) -> np.ndarray:
        """Each output's row of W in the input's shape: (out, C, H, W)."""
        return self.weight.reshape(self.weight.shape[0], *self.input_shape)
