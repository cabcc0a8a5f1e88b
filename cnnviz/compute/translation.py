"""Two hooked forwards of one model, the input as given and shifted by k pixels.

The comparison itself is cnnviz.core.translation's (numpy). The model runs in
eval mode (dropout off, batch norm on its running statistics: a shift must be
the only difference between the two forwards) and is left in the mode it had.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from cnnviz.compute.forward import CancelCheck, class_probabilities, layer_outputs, output_index
from cnnviz.core.analysis import Analysis
from cnnviz.core.jobs import LayerActivation
from cnnviz.core.translation import TranslationReport, compare_forwards, shift_image


@dataclass(frozen=True)
class ShiftedForwards:
    """Both forwards' outputs by flat index (numpy, no batch axis) and the report."""

    report: TranslationReport
    image: np.ndarray  # the original input (C, H, W)
    shifted_image: np.ndarray
    originals: tuple[np.ndarray, ...]
    shifteds: tuple[np.ndarray, ...]


@contextlib.contextmanager
def _evaluating(model: nn.Module) -> Iterator[None]:
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)


def _device(model: nn.Module) -> torch.device:
    first = next(model.parameters(), None)
    return first.device if first is not None else torch.device("cpu")


def hooked_forward(model: nn.Module, image: np.ndarray, should_cancel: CancelCheck = None):
    """Every layer's output for one (C, H, W) image, by flat index, as float32 numpy."""
    x = torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32))[None]
    outputs = layer_outputs(model, x.to(_device(model)), should_cancel=should_cancel)
    # Copies: the tensors may be views a later in-place layer could write into.
    return tuple(t[0].detach().float().cpu().numpy().copy() for t in outputs)


def _probabilities(model: nn.Module, outputs: tuple[np.ndarray, ...]) -> np.ndarray | None:
    last = outputs[output_index(model)]
    module = list(model)[-1] if isinstance(model, nn.Sequential) and len(model) else None
    kind = type(module).__name__ if module is not None else ""
    return class_probabilities(LayerActivation(len(outputs) - 1, kind, last))


def shifted_forwards(
    model: nn.Module,
    analysis: Analysis,
    image: np.ndarray,
    shift: tuple[int, int],
    should_cancel: CancelCheck = None,
) -> ShiftedForwards:
    """The original and the shifted forward of `model` and their comparison.

    `shift` is (dy, dx) pixels; the shifted input is the original moved with
    zeros filling what enters (core.translation.shift_image).
    """
    shifted_image = shift_image(np.asarray(image, dtype=np.float32), *shift)
    with _evaluating(model):
        originals = hooked_forward(model, image, should_cancel)
        shifteds = hooked_forward(model, shifted_image, should_cancel)
    before, after = _probabilities(model, originals), _probabilities(model, shifteds)
    pair = (before, after) if before is not None and after is not None else None
    report = compare_forwards(analysis, image, originals, shifteds, shift, pair)
    return ShiftedForwards(report, image, shifted_image, originals, shifteds)
