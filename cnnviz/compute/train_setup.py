"""The choices a training run is made of: settings check, initialisation, loss,
optimizer, learning-rate schedule, augmentation, and the filter snapshots sent
with progress. Pure helpers for `cnnviz.compute.train`.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from cnnviz.compute.augment import augment_photos, augment_strokes
from cnnviz.compute.blocks import flat_modules
from cnnviz.core.architecture import Architecture
from cnnviz.core.jobs import INITS, OPTIMIZERS, SCHEDULES, TrainConfig

# Filter snapshots for "watch filters learn" stop at this many numbers, so a
# VGG does not copy 60 MB ten times a second; the first conv is always sent.
SNAPSHOT_MAX_VALUES = 1_000_000


class TrainingError(ValueError):
    """Training cannot start; the message says what to change."""


def check_config(config: TrainConfig) -> None:
    """TrainingError naming the first unusable setting."""
    problems = [
        (config.epochs < 1, f"epochs must be at least 1, got {config.epochs}"),
        (config.batch_size < 1, f"batch size must be at least 1, got {config.batch_size}"),
        (
            not (0 < config.learning_rate <= 10 and math.isfinite(config.learning_rate)),
            f"learning rate must be above 0 (e.g. 0.001), got {config.learning_rate}",
        ),
        (
            config.optimizer not in OPTIMIZERS,
            f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {config.optimizer!r}",
        ),
        (config.init not in INITS, f"init must be one of {', '.join(INITS)}, got {config.init!r}"),
        (
            not (0 <= config.weight_decay < 1),
            f"weight decay must be from 0 to 1 (e.g. 0.0005), got {config.weight_decay}",
        ),
        (
            config.schedule not in SCHEDULES,
            f"schedule must be one of {', '.join(SCHEDULES)}, got {config.schedule!r}",
        ),
        (
            not (0 < config.validation_split <= 0.5),
            f"validation split must be above 0 and at most 0.5, got {config.validation_split}",
        ),
    ]
    problems += _lab_problems(config)
    for bad, message in problems:
        if bad:
            raise TrainingError(message)


def _lab_problems(config: TrainConfig) -> list[tuple[bool, str]]:
    """The overfitting lab's settings: subset, patience, L1."""
    subset, patience = config.train_subset, config.patience
    return [
        (
            subset is not None and subset < 2,
            f"the training subset needs at least 2 images, got {subset}",
        ),
        (patience is not None and patience < 1, f"patience must be at least 1, got {patience}"),
        (
            not (0 <= config.l1 < 1 and math.isfinite(config.l1)),
            f"L1 must be from 0 to 1 (e.g. 0.0001), got {config.l1}",
        ),
    ]


def initialise(model: nn.Sequential, scheme: str, seed: int) -> None:
    """Re-draw Conv2d and Linear weights with Xavier or He; 'default' keeps torch's."""
    if scheme == "default":
        return
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for module in model.modules():  # inside blocks too
            if not isinstance(module, nn.Conv2d | nn.Linear):
                continue
            if scheme == "xavier":
                nn.init.xavier_uniform_(module.weight)
            else:
                nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
            if module.bias is not None:
                nn.init.zeros_(module.bias)


def loss_function(arch: Architecture) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """Cross-entropy on logits; on probabilities if the stack already ends in (Log)Softmax."""
    last = arch.layers[-1].type
    if last == "LogSoftmax":
        return F.nll_loss
    if last == "Softmax":
        return lambda out, y: F.nll_loss(torch.log(out.clamp_min(1e-12)), y)
    return F.cross_entropy


def augmenter(dataset_key: str):
    """Strokes are varied in size, place and width; photos shifted and mirrored."""
    return augment_strokes if dataset_key in ("digits", "mnist") else augment_photos


def make_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    params = [p for p in model.parameters() if p.requires_grad]
    if config.optimizer == "sgd":
        return torch.optim.SGD(
            params, lr=config.learning_rate, momentum=0.9, weight_decay=config.weight_decay
        )
    if config.optimizer == "rmsprop":
        # torch's defaults (alpha 0.99, eps 1e-8, no momentum): the textbook RMSprop.
        return torch.optim.RMSprop(
            params, lr=config.learning_rate, weight_decay=config.weight_decay
        )
    return torch.optim.Adam(params, lr=config.learning_rate, weight_decay=config.weight_decay)


def l1_weights(model: nn.Module) -> list[torch.Tensor]:
    """The parameters L1 acts on: those with two or more dimensions, i.e. Linear
    matrices and conv kernels. Biases and BatchNorm's scale and shift (one
    dimension) are left out: shrinking them to zero makes nothing sparser, and
    they are few. (Weight decay, torch's, acts on every parameter.)"""
    return [p for p in model.parameters() if p.requires_grad and p.dim() >= 2]


def l1_penalty(weights: list[torch.Tensor], l1: float) -> torch.Tensor | float:
    """l1 · Σ|w| over `weights`; its gradient is l1 · sign(w)."""
    if l1 == 0 or not weights:
        return 0.0
    return l1 * sum(w.abs().sum() for w in weights)


def conv_filters(
    model: nn.Sequential, max_values: int = SNAPSHOT_MAX_VALUES
) -> dict[int, tuple[np.ndarray, np.ndarray | None]]:
    """Copies of the Conv2d weights and biases by flat layer index (first conv always)."""
    out: dict[int, tuple[np.ndarray, np.ndarray | None]] = {}
    budget = max_values
    for index, module in enumerate(flat_modules(model)):
        if not isinstance(module, nn.Conv2d):
            continue
        size = module.weight.numel()
        if out and size > budget:
            break
        budget -= size
        weight = module.weight.detach().numpy().copy()
        bias = None if module.bias is None else module.bias.detach().numpy().copy()
        out[index] = (weight, bias)
    return out


def learning_rate_at(config: TrainConfig, progress: float) -> float:
    """The learning rate when `progress` (0 to 1) of all steps are done."""
    if config.schedule == "constant":
        return config.learning_rate
    return config.learning_rate * 0.5 * (1.0 + math.cos(math.pi * progress))
