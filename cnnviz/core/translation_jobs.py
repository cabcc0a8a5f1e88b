"""The translation lab's request and result (numpy only; see core/translation.py).

Like core/jobs.py: a frozen request captured on the GUI thread, a result that
carries the id it answers so the GUI drops stale ones.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cnnviz.core.architecture import Architecture
from cnnviz.core.translation import TranslationReport

INPUT = "input"  # TranslationRequest.layer: the network input itself


@dataclass(frozen=True)
class TranslationRequest:
    # The same network fields as ForwardRequest, so the compute thread uses (or
    # keeps) the forwards' model: trained weights and hand-set kernels included.
    request_id: int
    architecture: Architecture
    image: np.ndarray  # (C, H, W) float32 network input, the forward's own
    pixels: int = 2  # the shift, pixels (negative: left or up)
    axis: str = "x"  # "x" (right) or "y" (down)
    layer: str = INPUT  # the address whose maps come back, or INPUT
    seed: int = 0
    weights_path: str | None = None
    kernel_edits: tuple = ()
    device: str = "auto"


@dataclass(frozen=True)
class TranslationResult:
    request_id: int
    report: TranslationReport
    layer: str  # the address of `original` and `shifted` (INPUT: the images)
    original: np.ndarray  # that layer's output for the input as given, no batch axis
    shifted: np.ndarray  # and for the shifted input


@dataclass(frozen=True)
class ShiftChoice:
    """What the lab's panel asks: the shift, its axis, the layer whose maps to show."""

    pixels: int = 2
    axis: str = "x"
    layer: str = INPUT
