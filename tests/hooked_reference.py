"""What the hooked-view tests check against: torch's own forward hooks on the
untraceable model (tests/untraceable_models.py), written without cnnviz."""

from __future__ import annotations

import torch
from torch import nn

STOP = "x = self.a(x) if bright else self.b(x)"  # the line that stops the trace


def torch_calls(model: nn.Module, x: torch.Tensor) -> list[tuple[str, torch.Tensor]]:
    """(module path, output) of every leaf call, in order: torch's own hooks."""
    calls: list[tuple[str, torch.Tensor]] = []
    handles = [
        module.register_forward_hook(lambda _m, _i, out, name=name: calls.append((name, out)))
        for name, module in model.named_modules()
        if not list(module.children())
    ]
    with torch.no_grad():
        model(x)
    for handle in handles:
        handle.remove()
    return calls


def by_call(calls) -> dict[tuple[str, int], torch.Tensor]:
    """(module, which call of it) → its output without the batch."""
    seen: dict[tuple[str, int], torch.Tensor] = {}
    for name, out in calls:
        call = 1 + sum(1 for key in seen if key[0] == name)
        seen[(name, call)] = out[0]
    return seen
