"""Issue 17's requests and results: attribution maps and gradient norms (numpy only).

Shared contract between the attribution compute (cnnviz/compute/explain/), the
Why panel, the gradient view and the compute thread. Like core/jobs.py: frozen
requests captured on the GUI thread, results carrying the id they answer.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cnnviz.core.architecture import Architecture

METHODS = (
    "gradcam",
    "guided-backprop",
    "guided-gradcam",
    "saliency",
    "integrated-gradients",
    "occlusion",
)
BASELINES = ("black", "blurred", "noise")
AUTO_STEPS = 0  # ExplainRequest.steps: refine until the gap is under AUTO_TOLERANCE
AUTO_TOLERANCE = 0.01  # of |F(x) - F(baseline)|, the bar
AUTO_MOST_STEPS = 1024  # where refining stops even if the gap is not under it


@dataclass(frozen=True)
class ExplainRequest:
    # The same network fields as ForwardRequest, so the compute thread builds
    # (or keeps) the same model for both.
    request_id: int
    architecture: Architecture
    image: np.ndarray  # (C, H, W) float32 network input
    method: str  # one of METHODS
    # Flat index into Analysis.layers (Grad-CAM / guided Grad-CAM); None = the last conv layer.
    layer: int | None = None
    target: int | None = None  # class index; None = top prediction
    seed: int = 0
    weights_path: str | None = None
    kernel_edits: tuple = ()
    device: str = "auto"
    # Integrated gradients: N fixed Gauss-Legendre steps (captum's rule), or
    # AUTO_STEPS (the default): refined from 32 to at most 1024 steps until the
    # completeness gap is under 1 % of |F(x) - F(baseline)|.
    steps: int = 0
    baseline: str = "black"  # integrated gradients
    window: int = 16  # occlusion window (px), stride below
    stride: int = 8


@dataclass(frozen=True)
class Explanation:
    request_id: int
    method: str
    target: int
    score: float  # the class score (logit, before softmax) for target
    # (H, W) float32 at the input's resolution (channels summed as each method
    # defines it; Grad-CAM upsampled bilinearly like captum's LayerAttribution.interpolate).
    map: np.ndarray
    layer: int | None = None
    # Grad-CAM: (h, w) at the layer's resolution, after ReLU, before upsampling.
    layer_map: np.ndarray | None = None
    # Integrated gradients: sum(attr) - (F(x) - F(baseline)).
    delta: float | None = None
    input: np.ndarray | None = None  # the (C, H, W) tensor the network saw
    # Integrated gradients: the steps (gradients) computed, the request's own or
    # what AUTO_STEPS refined to (1024 at most: then the gap may still be >= 1 %).
    steps_used: int | None = None


@dataclass(frozen=True)
class ExplainProgress:
    request_id: int
    done: int
    total: int


@dataclass(frozen=True)
class GradientRequest:
    """The gradient view's request (owned by the gradient-view engineer, declared here)."""

    request_id: int
    architecture: Architecture
    image: np.ndarray | None  # None = a batch of the bundled digits
    target: int | None = None
    seed: int = 0
    weights_path: str | None = None
    init: str = "default"  # default | he | xavier
    batch: int = 32


@dataclass(frozen=True)
class GradientNorms:
    request_id: int
    # One per layer entry that has an output (Analysis.layers order).
    addresses: tuple[str, ...]
    activation_grad: tuple[float, ...]  # ||dL/d activation|| per entry
    weight_grad: tuple[float | None, ...]  # ||dL/dW|| per entry (None: no weights)
    loss: float
