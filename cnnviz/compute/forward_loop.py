"""The layer-by-layer loop of the hooked forward, and what every step shares.

``layer_outputs`` runs an ``nn.Sequential`` layer by layer (what its own
``forward`` does, calling each layer's op directly where it can: see
layer_calls) and asks ``should_cancel`` between layers, stopping with
``Cancelled`` (the compute thread's "latest wins"). A model with blocks
(cnnviz.compute.blocks) runs along its Plan: every layer inside a block and
each block's merge is one step, and outputs are by flat index (the analysis'
pre-order).

A layer that raises is named: a failed allocation (torch's, numpy's, a GPU's)
is ``OutOfMemory``, anything else a ``LayerFailure``; both are one line.
``seeded`` makes dropout repeatable per request without touching torch's own
random stream. cnnviz.compute.forward builds the results on top of this.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import NoReturn

import torch
from torch import nn

from cnnviz.compute.blocks import Plan
from cnnviz.compute.layer_calls import prepared
from cnnviz.compute.memory_check import failure_message, is_allocation_failure

CancelCheck = Callable[[], bool] | None


class Cancelled(Exception):
    """The forward was superseded by a newer request and stopped between layers."""


class LayerFailure(RuntimeError):
    """A layer raised while computing; the message names the layer."""

    def __init__(self, index: int, type_name: str, exc: BaseException, address: str | None = None):
        detail = str(exc).strip().splitlines()
        reason = detail[0] if detail else type(exc).__name__
        super().__init__(f"layer {address or index} {type_name} failed: {reason}")
        self.index = index


class OutOfMemory(RuntimeError):
    """An allocation failed while a layer computed; one line naming the layer.

    Its message says "out of memory", so the runner's check for a GPU that ran
    out (device.is_out_of_memory) still sees it and retries on the CPU.
    """

    def __init__(self, where: str, exc: BaseException, index: int | None = None):
        super().__init__(failure_message(exc, where))
        self.index = index


def _run_layers(
    model: nn.Sequential, x: torch.Tensor, should_cancel: CancelCheck, copy_each: bool, prep
) -> list[torch.Tensor]:
    """Each layer's output; ``prep`` is layer_calls.prepared(model).

    One loop with no call of ours per layer: for a small network the loop's
    own cost is a sizeable part of the forward.
    """
    calls, plan = prep
    if plan is not None:
        return _run_plan(model, plan, x, should_cancel, copy_each)
    outputs: list[torch.Tensor] = []
    h = x
    try:
        for step in calls:
            if should_cancel is not None and should_cancel():
                raise Cancelled
            h = step(h)
            # Copies are recorded, the original goes on: a later in-place layer
            # writes into its own input, never into what was recorded.
            recorded = h.clone() if copy_each else h
            outputs.append(recorded)
    except Cancelled:
        raise
    except Exception as exc:
        _raise_named(model, len(outputs), exc)  # len(outputs): the layer that raised
    return outputs


def _raise_named(
    model: nn.Sequential, index: int, exc: Exception, plan: Plan | None = None
) -> NoReturn:
    """OutOfMemory for a failed allocation, else a LayerFailure; both name the layer
    (by its address, "3.body.0", inside a block)."""
    if plan is None:
        name, address = type(model[index]).__name__, str(index)
    else:
        name, address = plan.names[index], plan.addresses[index]
    if is_allocation_failure(exc):
        raise OutOfMemory(f"layer {address} {name}", exc, index) from exc
    raise LayerFailure(index, name, exc, address) from exc


def one_layer(model, index: int, step: Callable, h: torch.Tensor, should_cancel: CancelCheck):
    """Run layer ``index`` of a plain stack on ``h``, after asking ``should_cancel``."""
    if should_cancel is not None and should_cancel():
        raise Cancelled
    try:
        return step(h)
    except Exception as exc:
        _raise_named(model, index, exc)


def one_step(model, plan: Plan, step, values: list, should_cancel: CancelCheck):
    """Run one step of a plan (a layer, or a block's merge) on the values it reads."""
    if should_cancel is not None and should_cancel():
        raise Cancelled
    index, call, sources, is_merge, _ = step
    try:
        return call([values[s] for s in sources]) if is_merge else call(values[sources[0]])
    except Exception as exc:
        _raise_named(model, index, exc, plan)


def _run_plan(
    model: nn.Sequential, plan: Plan, x: torch.Tensor, should_cancel: CancelCheck, copy_each: bool
) -> list[torch.Tensor]:
    """Each layer's output by flat index, through the blocks (a block's own output is
    its merge), asking ``should_cancel`` before every layer and every merge."""
    values: list = [None] * (len(plan.modules) + 1)
    values[0] = x
    outputs: list = [None] * len(plan.modules)
    for step in plan.steps:
        h = one_step(model, plan, step, values, should_cancel)
        index = step[0]
        values[index + 1] = h
        outputs[index] = h.clone() if copy_each else h
    return outputs


def seeded(x: torch.Tensor, seed: int | None):
    """Dropout draws from a stream seeded per request, leaving torch's own alone."""
    if seed is None:
        return contextlib.nullcontext()
    return _forked_and_seeded(x.device, seed)


@contextlib.contextmanager
def _forked_and_seeded(device: torch.device, seed: int) -> Iterator[None]:
    devices = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


def layer_outputs(
    model: nn.Sequential,
    x: torch.Tensor,
    *,
    should_cancel: CancelCheck = None,
    seed: int | None = None,
    prep: tuple | None = None,
) -> list[torch.Tensor]:
    """Every layer's output for the batch ``x``, none overwritten by a later layer
    (by flat index for a model with blocks).

    ``seed`` makes random layers (dropout in train mode) repeatable; it is
    needed for the rare second pass after an in-place layer. ``prep``:
    layer_calls.prepared(model), when the caller has it already.
    """
    prep = prep or prepared(model)
    with torch.no_grad():
        with seeded(x, seed):
            outputs = _run_layers(model, x, should_cancel, False, prep)
        # Every in-place write bumps a tensor's version, and the ops make their
        # outputs at version 0: all at 0, nothing was written after recording.
        # (An output made at a higher version only costs the second pass.)
        if not any(t._version for t in outputs):
            return outputs
        # A layer wrote into an earlier output (an in-place op): run again, copying.
        with seeded(x, seed):
            return _run_layers(model, x, should_cancel, True, prep)
