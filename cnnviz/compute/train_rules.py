"""Which images a run trains on and which epoch's weights it keeps.

`balanced_subset` picks the overfitting lab's small training set; `BestEpoch`
follows the validation figures epoch by epoch, keeps a copy of the best
weights and says when early stopping ends the run. Helpers for
`cnnviz.compute.train`.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from cnnviz.compute.train_setup import TrainingError


def balanced_subset(labels: torch.Tensor, size: int) -> torch.Tensor:
    """Indices of `size` of `labels`, taken from the classes in turn.

    `labels` are already in a seeded random order (the training split), so
    each class's first images are a random draw of it; taking the first of
    every class, then the second of every class, and so on keeps the classes
    as balanced as `size` allows (200 digits: 20 of each), where the first
    `size` alone could leave a class with a handful.
    """
    if size > len(labels):
        raise TrainingError(
            f"the training subset of {size} is more than the {len(labels)} training "
            "images left after the validation split: choose at most that many"
        )
    values = labels.numpy()
    rank = np.empty(len(values), dtype=np.int64)
    for label in np.unique(values):
        where = np.flatnonzero(values == label)
        rank[where] = np.arange(len(where))
    # By rank within the class first, then by place in the shuffled order.
    order = np.lexsort((np.arange(len(values)), rank))
    return torch.from_numpy(np.sort(order[:size]))


class BestEpoch:
    """The best epoch so far, its weights, and early stopping.

    Without patience the best epoch is the one with the highest validation
    accuracy (on a tie, which small validation sets often give, the lower
    loss): what cnnviz always kept. With patience, it is the one with the
    lowest validation loss, the figure early stopping watches; the run stops
    once `patience` epochs in a row have not lowered it.
    """

    def __init__(self, patience: int | None) -> None:
        self.patience = patience
        self.epoch = 0
        self.accuracy = -1.0
        self.loss = math.inf
        self.state: dict[str, torch.Tensor] | None = None

    def _better(self, loss: float, accuracy: float) -> bool:
        if self.patience is None:
            return (accuracy, -loss) > (self.accuracy, -self.loss)
        return loss < self.loss or self.state is None

    def update(self, epoch: int, loss: float, accuracy: float, model: nn.Module) -> None:
        """Keep a copy of the model's weights if this epoch is the best so far."""
        if self._better(loss, accuracy):
            self.epoch, self.loss, self.accuracy = epoch, loss, accuracy
            self.state = {k: v.detach().clone() for k, v in model.state_dict().items()}

    def should_stop(self, epoch: int) -> bool:
        """True when `patience` epochs since the best one have not improved on it."""
        return self.patience is not None and epoch - self.epoch >= self.patience
