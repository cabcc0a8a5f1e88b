"""The gradient view's backward pass: how large ∂L/∂activation and ∂L/∂W are per layer.

One backward from the cross-entropy loss of the current image (the target is
the top prediction unless given) or of a batch of the bundled digits (their
own labels unless a target is given), in eval mode, on the CPU. For every
layer entry of the analysis, in its order (a block's entry is its merged
output), it reports the norm of the loss's gradient with respect to that
entry's output, summed over the batch, and with respect to its ``weight``
(None for layers without one). Vanishing gradients show as norms falling by
orders of magnitude towards the input.

It always works on a copy of the model: the initialisation option (He,
Xavier) re-draws that copy's weights, and ``torch.autograd.grad`` leaves the
copy's ``.grad`` alone too, so the user's model is never touched.
"""

from __future__ import annotations

import copy
import logging

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from cnnviz.compute.blocks import BLOCK_MODULES, named_flat
from cnnviz.compute.model import build_model, checked_analysis
from cnnviz.compute.weights import WeightsError, load_into, read_weights
from cnnviz.core.architecture import ArchitectureError
from cnnviz.core.explain_jobs import GradientNorms, GradientRequest

log = logging.getLogger(__name__)

INITS = ("default", "he", "xavier")
MAX_BATCH = 256
# Values one batch's activations may hold (float32, all layers): ~1.6 GB with gradients.
MAX_VALUES = 200_000_000


class GradientError(ValueError):
    """A gradient request that cannot be computed; the message says why in one line."""


def reinitialise(model: nn.Module, init: str, seed: int = 0) -> None:
    """Draw every weight of two or more dimensions (convolutions, linear layers) again,
    in flat order from one generator seeded by `seed`, and zero their biases:
    'he' = kaiming_normal_(fan_in, relu), 'xavier' = xavier_normal_; 'default' keeps them."""
    if init == "default":
        return
    if init not in INITS:
        raise GradientError(f"unknown initialisation {init!r} (choices: {', '.join(INITS)})")
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for _, module in named_flat(model):
            weight = getattr(module, "weight", None)
            if isinstance(module, BLOCK_MODULES) or weight is None or weight.dim() < 2:
                continue
            if init == "he":
                nn.init.kaiming_normal_(
                    weight, mode="fan_in", nonlinearity="relu", generator=generator
                )
            else:
                nn.init.xavier_normal_(weight, generator=generator)
            if getattr(module, "bias", None) is not None:
                module.bias.zero_()


def model_copy(request: GradientRequest, current: nn.Module | None = None) -> nn.Module:
    """A CPU copy of `current` (the user's model for this very request, e.g. trained
    in the app) or, without it, a model built from the request's stack, seed and
    weights file; initialised as the request says. Never the user's model itself."""
    try:
        if current is not None:
            model = copy.deepcopy(current).to("cpu")
        else:
            model = build_model(request.architecture, request.seed)
            if request.weights_path:
                load_into(model, read_weights(request.weights_path), request.weights_path)
    except (ArchitectureError, WeightsError) as exc:
        raise GradientError(str(exc)) from None
    reinitialise(model, request.init, request.seed)
    return model.eval()


def fit_image(image: np.ndarray, shape: tuple[int, int, int]) -> torch.Tensor:
    """(C, H, W) image → (1, *shape): grey made colour or colour grey, resized bilinearly
    (so the current image also feeds a preset with another input size)."""
    x = torch.as_tensor(np.ascontiguousarray(image, dtype=np.float32))
    if x.dim() != 3:
        raise GradientError(f"the image must be channels × height × width, not {tuple(x.shape)}")
    channels, height, width = shape
    if x.shape[0] != channels:
        if channels == 1:
            x = x.mean(0, keepdim=True)
        elif x.shape[0] == 1:
            x = x.expand(channels, -1, -1)
        else:
            raise GradientError(f"cannot feed a {x.shape[0]}-channel image to {channels} channels")
    x = x.unsqueeze(0)
    if tuple(x.shape[-2:]) != (height, width):
        shrink = height < x.shape[-2] or width < x.shape[-1]
        x = F.interpolate(
            x, size=(height, width), mode="bilinear", align_corners=False, antialias=shrink
        )
    return x.contiguous()


def digits_batch(count: int, shape: tuple[int, int, int]) -> tuple[torch.Tensor, torch.Tensor]:
    """The first `count` test digits (always the same ones) as the network takes them."""
    from cnnviz.compute.datasets import load_digits, to_network_input

    data = load_digits()
    images, labels = data.test_images[:count], data.test_labels[:count]
    return to_network_input(images, data.max_value, shape), torch.as_tensor(labels)


def _inputs(request: GradientRequest, shape) -> tuple[torch.Tensor, torch.Tensor | None]:
    if request.image is not None:
        return fit_image(request.image, shape), None
    if not 1 <= request.batch <= MAX_BATCH:
        raise GradientError(f"the batch must hold 1 to {MAX_BATCH} digits, not {request.batch}")
    return digits_batch(request.batch, shape)


def _targets(logits: torch.Tensor, labels: torch.Tensor | None, target: int | None):
    if logits.dim() != 2:
        raise GradientError(
            "the network's output is not a vector of class scores, so it has no "
            "cross-entropy loss (end it with Flatten and Linear)"
        )
    classes = logits.shape[1]
    if target is not None:
        if not 0 <= target < classes:
            raise GradientError(f"there is no class {target} (0 to {classes - 1})")
        return torch.full((logits.shape[0],), target, dtype=torch.long)
    if labels is None:
        return logits.argmax(1).detach()
    if classes < 10:
        raise GradientError(f"the digits have 10 classes but the network gives {classes} scores")
    return labels


def gradient_norms(model: nn.Module, request: GradientRequest, analysis=None) -> GradientNorms:
    """The norms for `request` on `model` (a copy: see model_copy), per analysis entry."""
    analysis = analysis if analysis is not None else checked_analysis(request.architecture)
    shape = request.architecture.input.as_tuple()
    x, labels = _inputs(request, shape)
    values = sum(int(np.prod(i.output_shape)) for i in analysis.layers) * x.shape[0]
    if values > MAX_VALUES:
        raise GradientError(
            f"this batch would hold {values / 1e6:.0f} million values in its activations, "
            f"more than the {MAX_VALUES / 1e6:.0f} million allowed: use a smaller batch"
        )
    named = list(named_flat(model))
    outputs: dict[int, torch.Tensor] = {}
    handles = [
        module.register_forward_hook(lambda _m, _i, out, k=k: outputs.__setitem__(k, out))
        for k, (_, module) in enumerate(named)
    ]
    try:
        with torch.enable_grad():
            logits = model(x.requires_grad_(True))
            loss = F.cross_entropy(logits, _targets(logits, labels, request.target))
            weights = [getattr(m, "weight", None) for _, m in named]
            weights = [
                w if isinstance(w, torch.Tensor) and w.requires_grad else None for w in weights
            ]
            wanted = [outputs[k] for k in range(len(named))] + [w for w in weights if w is not None]
            grads = torch.autograd.grad(loss, wanted, allow_unused=True)
    finally:
        for handle in handles:
            handle.remove()
    activation = [_norm(g) for g in grads[: len(named)]]
    rest = iter(grads[len(named) :])
    weight = [None if w is None else _norm(next(rest)) for w in weights]
    return GradientNorms(
        request_id=request.request_id,
        addresses=tuple(address for address, _ in named),
        activation_grad=tuple(activation),
        weight_grad=tuple(weight),
        loss=float(loss.detach()),
    )


def _norm(gradient: torch.Tensor | None) -> float:
    """The gradient's 2-norm over all its values (0 when the loss does not depend on it)."""
    if gradient is None:
        return 0.0
    return float(torch.linalg.vector_norm(gradient.detach().double()))


def run_gradients(request: GradientRequest, current: nn.Module | None = None) -> GradientNorms:
    """Build (or copy `current`), initialise, backward: the request's norms."""
    try:
        analysis = checked_analysis(request.architecture)
    except ArchitectureError as exc:
        raise GradientError(str(exc)) from None
    model = model_copy(request, current)
    return gradient_norms(model, request, analysis)
