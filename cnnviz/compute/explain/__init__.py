"""Attribution maps: which input pixels made the network give its class score.

``run_explain(model, analysis, request)`` answers an ExplainRequest
(cnnviz.core.explain_jobs) with an Explanation: Grad-CAM, guided backprop,
guided Grad-CAM, vanilla saliency, integrated gradients or occlusion, each in
its own module and each equal to captum's implementation
(tests/compute/test_explain_vs_captum.py). Shared: network.py (the forward
the methods differentiate, the score before softmax, the target class),
untouched.py (the model is left exactly as it was: no hook, no swapped
module, no gradient written, its mode restored), batches.py (bounded batches,
progress and cancel), result.py (the full attribution and the (H, W) map:
channels summed, for every method).

Problems the user can fix (an unknown class, a layer without maps, a window
larger than the image, memory) are a ComputeError of one line; a newer request
stops a long method between batches with ``Cancelled``.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from cnnviz.compute.explain.baselines import baseline
from cnnviz.compute.explain.batches import Progress, batch_size
from cnnviz.compute.explain.gradcam import gradcam
from cnnviz.compute.explain.guided_backprop import guided_backprop, guided_network
from cnnviz.compute.explain.guided_gradcam import guided_gradcam
from cnnviz.compute.explain.integrated import (
    MOST_STEPS,
    auto_integrated_gradients,
    integrated_gradients,
)
from cnnviz.compute.explain.network import Network
from cnnviz.compute.explain.occlusion import occlusion, positions
from cnnviz.compute.explain.result import Attribution, as_numpy
from cnnviz.compute.explain.saliency import saliency
from cnnviz.compute.explain.untouched import left_as_it_was
from cnnviz.compute.forward import CancelCheck, Cancelled
from cnnviz.compute.memory_check import failure_message, is_allocation_failure
from cnnviz.compute.runner import ComputeError
from cnnviz.core.analysis import Analysis
from cnnviz.core.explain_jobs import (
    AUTO_STEPS,
    BASELINES,
    METHODS,
    ExplainRequest,
    Explanation,
)
from cnnviz.core.preprocess import Preprocessing, declared

__all__ = ["Attribution", "attribute", "checked_layer", "default_layer", "run_explain"]

CAM_METHODS = ("gradcam", "guided-gradcam")
MAX_STEPS = 1000


def _shape(shape) -> str:
    return "×".join(str(s) for s in shape)


def default_layer(analysis: Analysis) -> int:
    """Grad-CAM's usual layer: the last Conv2d (by flat index); when that one sits
    inside a block, the block's merged output instead. A conv inside a block sees
    only its own path (in a ResNet the last one is the 1x1 shortcut), while the
    block's output is what the classifier reads: the paper's "last convolutional
    feature maps" (torchvision ResNet's layer4)."""
    convs = [info for info in analysis.layers if info.layer.type == "Conv2d"]
    if not convs:
        raise ComputeError("the network has no Conv2d layer for Grad-CAM")
    last = convs[-1]
    return last.index if last.parent is None else analysis.top_level[last.top].index


def checked_layer(analysis: Analysis, layer: int | None) -> int:
    """``layer`` (a flat index), or the default; ComputeError unless it has maps."""
    if layer is None:
        return default_layer(analysis)
    if not 0 <= layer < len(analysis.layers):
        raise ComputeError(f"there is no layer {layer} (0 to {len(analysis.layers) - 1})")
    info = analysis.layers[layer]
    if info.output_shape is None or len(info.output_shape) != 3:
        shape = _shape(info.output_shape) if info.output_shape else "nothing"
        raise ComputeError(
            f"{info.name} {info.layer.type} gives {shape}, not channels × height × width "
            "maps: Grad-CAM needs a convolutional layer"
        )
    return layer


def _check(analysis: Analysis, request: ExplainRequest) -> None:
    if request.method not in METHODS:
        raise ComputeError(f"unknown method {request.method!r} (methods: {', '.join(METHODS)})")
    if not analysis.valid:
        first = analysis.first_error
        raise ComputeError(first.error if first else "the network cannot be computed")
    image = np.asarray(request.image)
    if image.shape != tuple(analysis.input_shape):
        raise ComputeError(
            f"the image is {_shape(image.shape)} but the network takes "
            f"{_shape(analysis.input_shape)} (channels × height × width)"
        )
    last = analysis.top_level[-1]
    scored = last.input_shape if last.layer.type == "Softmax" else last.output_shape
    if len(scored) != 1:
        raise ComputeError(
            f"the network gives {_shape(scored)}, not one score per class: "
            "an attribution map explains a class score"
        )
    _check_settings(request, image.shape[1:])


def _check_settings(request: ExplainRequest, size: tuple[int, ...]) -> None:
    if request.method == "integrated-gradients":
        if request.steps != AUTO_STEPS and not 1 <= request.steps <= MAX_STEPS:
            raise ComputeError(
                f"steps must be 1 to {MAX_STEPS} (or {AUTO_STEPS}: until the gap is "
                f"under 1 %), not {request.steps}"
            )
        if request.baseline not in BASELINES:
            raise ComputeError(
                f"unknown baseline {request.baseline!r} (baselines: {', '.join(BASELINES)})"
            )
    if request.method == "occlusion":
        if not 1 <= request.window <= min(size):
            raise ComputeError(
                f"the occlusion window must be 1 to {min(size)} pixels (the image is "
                f"{_shape(size)}), not {request.window}"
            )
        if request.stride < 1:
            raise ComputeError(f"the occlusion stride must be at least 1, not {request.stride}")


def attribute(
    model: nn.Sequential,
    analysis: Analysis,
    request: ExplainRequest,
    should_cancel: CancelCheck = None,
    progress: Progress = None,
    preprocessing: Preprocessing | None = None,
) -> Attribution:
    """The full attribution for a checked request (run_explain checks, then calls this)."""
    net = Network(model) if request.method != "guided-backprop" else guided_network(model)
    x = torch.from_numpy(np.array(request.image, np.float32))[None].to(net.device)
    method, target = request.method, request.target
    if method in CAM_METHODS:
        layer = checked_layer(analysis, request.layer)
        cam = gradcam if method == "gradcam" else guided_gradcam
        return cam(net, x, layer, target)
    if method == "saliency":
        return saliency(net, x, target)
    if method == "guided-backprop":
        return guided_backprop(net, x, target)
    if method == "integrated-gradients":
        auto = request.steps == AUTO_STEPS
        batch = batch_size(analysis, MOST_STEPS if auto else request.steps, backward=True)
        base = baseline(request.baseline, x, preprocessing, request.seed)
        if auto:
            return auto_integrated_gradients(net, x, base, target, batch, should_cancel, progress)
        return integrated_gradients(
            net, x, base, target, request.steps, batch, should_cancel, progress
        )
    count = len(positions(*x.shape[2:], request.window, request.stride))
    batch = batch_size(analysis, count, backward=False)
    return occlusion(net, x, target, request.window, request.stride, batch, should_cancel, progress)


def run_explain(
    model: nn.Sequential,
    analysis: Analysis,
    request: ExplainRequest,
    should_cancel: CancelCheck = None,
    progress: Progress = None,
    preprocessing: Preprocessing | None = None,
) -> Explanation:
    """The Explanation for ``request`` on ``model`` (built for ``analysis``, on its
    device). ``preprocessing``: what the picture went through (for the black and
    noise baselines); by default what the architecture declares. The model is
    left as it was, whatever happens (untouched.py)."""
    _check(analysis, request)
    if preprocessing is None:
        preprocessing = _declared(request)
    if should_cancel is not None and should_cancel():
        raise Cancelled
    try:
        with left_as_it_was(model):
            result = attribute(model, analysis, request, should_cancel, progress, preprocessing)
    except (MemoryError, RuntimeError) as exc:
        if not is_allocation_failure(exc):
            raise
        raise ComputeError(failure_message(exc, where=request.method)) from None
    return Explanation(
        request_id=request.request_id,
        method=request.method,
        target=result.target,
        score=result.score,
        map=result.map(),
        layer=result.layer,
        layer_map=None if result.layer_map is None else as_numpy(result.layer_map),
        delta=result.delta,
        input=np.array(request.image, np.float32),
        steps_used=result.steps,
    )


def _declared(request: ExplainRequest) -> Preprocessing | None:
    try:
        return declared(request.architecture.metadata)
    except ValueError:  # an unusable declaration: the forward says so elsewhere
        return None
