"""The model is left as it was found: the one context every method runs in.

The methods never hook, swap or re-flag anything (network.py runs its own
forward; gradients come from ``torch.autograd.grad``, which writes no
``.grad``), so what is left to restore is the mode: attributions explain the
network as it predicts, in eval mode (dropout off, batch norm on its running
statistics, which then stay as they are), and every module gets its own
training flag back afterwards, even when the method raised or was cancelled.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import nn


@contextlib.contextmanager
def left_as_it_was(model: nn.Module) -> Iterator[None]:
    modes = [(module, module.training) for module in model.modules()]
    model.eval()
    try:
        # The caller may be in no_grad (a forward's habit); the methods need autograd.
        with torch.enable_grad():
            yield
    finally:
        for module, training in modes:
            module.training = training
