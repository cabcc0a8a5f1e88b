"""Why non-linearity: without activations, a stack of Linear layers is one map.

Remove every element-wise activation from Flatten → Linear → ReLU → Linear → …
and what is left computes W_n(…(W_2(W_1x + b_1) + b_2)…) + b_n, which is the
single affine map x ↦ Wx + b with W = W_n···W_1 and b folded through the same
products. However deep, such a stack can represent nothing a single Linear
layer cannot; the activations are what make depth worth having.

Numpy only: weights come in as torch's state-dict keys ("3.weight") mapped to
arrays; Dropout and Identity are the identity at evaluation. This is the
closed form for Linear stacks; any activation-free network (convolutions,
pools, blocks) gets its map from compute.collapse, which asks the network
itself. The request and result of that job are declared here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from cnnviz.core.activations import COMPARABLE
from cnnviz.core.architecture import Architecture

_PASS_THROUGH = {"Identity", "Dropout"}


class CollapseError(ValueError):
    """The network is not a stack of Linear layers and activations: one line says why."""


@dataclass(frozen=True)
class Collapsed:
    weight: np.ndarray  # (out, in): W_n···W_1
    bias: np.ndarray  # (out,)
    linear_addresses: tuple[str, ...]  # the Linear layers folded in, in order
    removed: tuple[str, ...]  # the activation types taken out

    def apply(self, x: np.ndarray) -> np.ndarray:
        """The collapsed map on a batch of flattened inputs (N, in)."""
        return np.asarray(x, dtype=np.float64) @ self.weight.T + self.bias


def linear_addresses(arch: Architecture) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The Linear layers' addresses and the removed activation types, or a CollapseError."""
    linears: list[str] = []
    removed: list[str] = []
    flat = False
    for index, layer in enumerate(arch.layers):
        kind = layer.type
        if kind == "Flatten":
            flat = True
        elif kind == "Linear":
            if not flat:
                raise CollapseError(f"layer {index} is Linear before any Flatten: flatten first")
            linears.append(str(index))
        elif kind in COMPARABLE:
            removed.append(kind)
        elif kind not in _PASS_THROUGH:
            raise CollapseError(
                f"layer {index} is {kind}: only Flatten, Linear and element-wise activations "
                "collapse here (compute.collapse builds any activation-free network's map)"
            )
    if not linears:
        raise CollapseError("there is no Linear layer to collapse")
    return tuple(linears), tuple(removed)


def collapse_maps(maps: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """(W, b) of x ↦ W_n(…(W_1x + b_1)…) + b_n, from the layers' (W_i, b_i) in order."""
    weight, bias = maps[0][0].astype(np.float64), maps[0][1].astype(np.float64)
    for w, b in maps[1:]:
        w = w.astype(np.float64)
        # W_i(Wx + b) + b_i = (W_i W)x + (W_i b + b_i)
        weight, bias = w @ weight, w @ bias + b
    return weight, bias


def collapse(arch: Architecture, state: Mapping[str, np.ndarray]) -> Collapsed:
    """The one linear map the stack computes once its activations are removed."""
    addresses, removed = linear_addresses(arch)
    maps = []
    for address in addresses:
        w = np.asarray(state[f"{address}.weight"])
        b = state.get(f"{address}.bias")
        maps.append((w, np.zeros(w.shape[0]) if b is None else np.asarray(b)))
    expected = int(np.prod(arch.input.as_tuple()))
    if maps[0][0].shape[1] != expected:
        raise CollapseError(f"the first Linear takes {maps[0][0].shape[1]} values, not {expected}")
    weight, bias = collapse_maps(maps)
    return Collapsed(weight, bias, addresses, removed)


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
