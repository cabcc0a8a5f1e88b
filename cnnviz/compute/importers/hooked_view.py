"""A read-only view of a model torch.fx cannot trace (issue 18): hooked per module.

A model with data-dependent control flow (``if x.sum() > 0:``) has no graph
cnnviz could convert, but it still runs. This view runs the live model with a
forward hook on every leaf module (a module without children, or one of a type
cnnviz knows) and records, in the order they were called, each call's module
path, class, output shape and parameter count. A module called twice gives two
rows (``blocks.1 (call 2)``); the second shares the first's parameters, so it
counts none and the rows never count a parameter twice. The model's total is
torch's own count (parameters held outside the leaves count there too).

The rows are not a chain: each shows what its module gave when the model ran,
whatever came before it in the list. Nothing is silently dropped: a call that
gives no tensor is a row that says so.

As an architecture (``as_architecture``) each row is a ``Hooked`` layer
(core/layers/hooked.py) and ``metadata["hooked"]`` says where the model comes
from; compute/runner_hooked.py runs the live model for such an architecture.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from cnnviz.compute.importers import ModelImportError, Untraceable, first_line
from cnnviz.compute.importers.module_layers import is_known
from cnnviz.core.architecture import Architecture, InputShape, Layer
from cnnviz.core.layers import hooked


@dataclass(frozen=True)
class Row:
    """One call of one module, as it ran."""

    module: str  # its path in the model: "features.0"
    kind: str  # its class name: "Conv2d"
    call: int  # 1 for its first call, 2 for its second, ...
    shape: tuple[int, ...] | None  # its output without the batch; None: no tensor
    params: int  # its parameters; 0 for a second call (shared with the first)
    note: str = ""  # e.g. "gives a tuple: its first tensor is shown"

    @property
    def name(self) -> str:
        """ "features.0", or "blocks.1 (call 2)" for a module's later calls."""
        return hooked.call_name(self.module, self.call)


@dataclass(frozen=True)
class HookedView:
    """What the hooks saw of a model that could not be traced."""

    name: str  # "Net"
    source: str  # what names the model: "/home/me/my_net.py:Net"
    input: tuple[int, int, int]
    rows: tuple[Row, ...]
    total_params: int  # torch's count for the whole model
    place: str  # "my_net.py:14", where the trace stopped ("" if unknown)
    code: str  # "if x.sum() > 0:"
    reason: str  # the trace error's first line
    # Modules that could give a row but did not run on the test input: (path, class, params).
    not_run: tuple[tuple[str, str, int], ...] = ()

    @property
    def message(self) -> str:
        """One line saying what this view is and why."""
        code = self.code.split("  #")[0].strip()  # the line's code, not its comment
        at = f" ({self.place}: `{code}`)" if code else f" ({self.reason})"
        return (
            f"read-only view: torch.fx could not trace {self.name}{at}; every module is "
            "shown as it ran on a test input"
        )


def hooked_modules(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """(path, module) of every module a row may come from: the leaves and the known
    types; the root itself only when it is a leaf (a model of one layer)."""
    return [
        (path or type(module).__name__, module)
        for path, module in model.named_modules()
        if is_known(module) or next(module.children(), None) is None
    ]


def _first_tensor(output: Any) -> tuple[torch.Tensor | None, str]:
    if torch.is_tensor(output):
        return output, ""
    if isinstance(output, dict):
        output = list(output.values())
    if isinstance(output, list | tuple):
        for item in output:
            if torch.is_tensor(item):
                return item, f"gives a {type(output).__name__}: its first tensor is shown"
    return None, f"gives a {type(output).__name__}, no tensor"


@dataclass
class Call:
    """A call the hooks saw: its module, which call of it, and what it gave."""

    module: str
    kind: str
    call: int
    output: torch.Tensor | None
    note: str


@contextmanager
def hooks_on(model: nn.Module) -> Iterator[list[Call]]:
    """Hooks on every row module while the block runs; the calls, in order."""
    calls: list[Call] = []
    counts: dict[str, int] = {}

    def hook_for(path: str):
        def hook(module: nn.Module, _inputs, output) -> None:
            counts[path] = counts.get(path, 0) + 1
            tensor, note = _first_tensor(output)
            # A copy: a later in-place operation must not change what was recorded.
            kept = None if tensor is None else tensor.detach().clone()
            calls.append(Call(path, type(module).__name__, counts[path], kept, note))

        return hook

    handles = [m.register_forward_hook(hook_for(p)) for p, m in hooked_modules(model)]
    try:
        yield calls
    finally:
        for handle in handles:
            handle.remove()


def run_hooked(model: nn.Module, x: torch.Tensor) -> tuple[Any, list[Call]]:
    """The model's output for ``x`` and every call the hooks saw, in order."""
    with hooks_on(model) as calls, torch.no_grad():
        output = model(x)
    return output, calls


def _row(call: Call, model: nn.Module) -> Row:
    module = model if call.module == type(model).__name__ else model.get_submodule(call.module)
    params = sum(p.numel() for p in module.parameters()) if call.call == 1 else 0
    shape = None if call.output is None else tuple(call.output.shape[1:])
    return Row(call.module, call.kind, call.call, shape, params, call.note)


def record(model: nn.Module, example: torch.Tensor) -> tuple[Row, ...]:
    """The rows of one run of the model on ``example`` (batch first)."""
    _, calls = run_hooked(model, example)
    return tuple(_row(call, model) for call in calls)


def view_of(failure: Untraceable, source: str, shape: tuple[int, int, int]) -> HookedView:
    """The hooked view of the model whose trace failed, run on the import's test input."""
    from cnnviz.compute.importers.model_import import example_input

    model, name = failure.model, source.rpartition(":")[2]
    model.eval()
    try:
        rows = record(model, example_input(shape))
    except Exception as exc:  # the model's own code, on the test input
        raise ModelImportError(
            f"{failure}; running it with hooks failed too: {first_line(exc)}"
        ) from None
    if not rows:
        raise ModelImportError(f"{failure}; and it calls no modules cnnviz could show")
    total = sum(p.numel() for p in model.parameters())
    ran = {row.module for row in rows}
    not_run = tuple(
        (path, type(module).__name__, sum(p.numel() for p in module.parameters()))
        for path, module in hooked_modules(model)
        if path not in ran
    )
    return HookedView(
        name,
        source,
        tuple(shape),
        rows,
        total,
        failure.place,
        failure.code,
        failure.reason,
        not_run,
    )


def shown_shape(shape: tuple[int, ...] | None) -> tuple[int, ...]:
    """The shape a row's layer holds: maps (C, H, W), rows or a vector as they are; more
    axes flattened into a vector, a per-sample number or no tensor as one value."""
    if shape is None or not shape:
        return (1,)
    if len(shape) > 3:
        return (int(torch.Size(shape).numel()),)
    return shape


def row_layer(row: Row) -> Layer:
    """A row as a read-only ``Hooked`` layer; its label says what the shape cannot."""
    label = f"{row.name} {row.kind}"
    if row.shape is not None and len(row.shape) > 3:
        label += f" (gives {'×'.join(map(str, row.shape))}, shown flat)"
    elif row.shape == ():
        label += " (gives one number per sample)"
    elif row.note:
        label += f" ({row.note})"
    return Layer.make(
        hooked.TYPE.name,
        label=label[: hooked.MAX_TEXT],
        module=row.module,
        kind=row.kind,
        call=row.call,
        out_shape=list(shown_shape(row.shape)),
        params=row.params,
    )


def as_architecture(view: HookedView, weights: str | None = None) -> Architecture:
    """The view as an architecture of read-only ``Hooked`` rows; ``metadata["hooked"]``
    names the model's source (absolute), its weights file and why it is hooked."""
    layers = tuple(row_layer(row) for row in view.rows)
    path, _, name = view.source.rpartition(":")
    entry = {
        "source": f"{Path(path).resolve()}:{name}",
        "message": view.message,
        "total_params": view.total_params,
        "not_run": [
            {"module": path, "kind": kind, "params": params} for path, kind, params in view.not_run
        ],
    }
    if weights:
        entry["model_weights"] = str(Path(weights).resolve())
    return Architecture(view.name, InputShape(*view.input), layers, {hooked.METADATA_KEY: entry})


__all__ = [
    "Call",
    "HookedView",
    "Row",
    "as_architecture",
    "hooked_modules",
    "hooks_on",
    "record",
    "row_layer",
    "run_hooked",
    "shown_shape",
    "view_of",
]
