"""Import an ``nn.Module``: convert it (fx_convert), carry its weights over to
cnnviz's keys, and prove the converted network computes what the model does.

Weights files for the model are read under the model's own key names
(``load_model_weights``) into the model before it is converted, so the key
map of the conversion carries them to cnnviz's keys.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.fx as fx
from torch import nn

from cnnviz.compute.importers import ModelImportError, first_line, frames_of_exception, where
from cnnviz.compute.importers.fx_convert import (
    ATOL,
    EXAMPLE_BATCH,
    RTOL,
    Imported,
    convert_graph,
    measure,
    trace,
)
from cnnviz.compute.importers.opaque_units import MAX_UNITS, Unexpressed, Units, Unkept
from cnnviz.compute.model import build_model, checked_analysis
from cnnviz.compute.weights import OPTIONAL_KEYS, WeightsError, load_into
from cnnviz.core.architecture import Architecture, ArchitectureError


def example_input(shape: tuple[int, int, int], seed: int = 0) -> torch.Tensor:
    """The trace's input: batch 2 (a reshape that keeps the batch shows it), fixed values."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randn((EXAMPLE_BATCH, *shape), generator=generator)


def _size(shape) -> str:
    return "×".join(str(s) for s in shape)


def run_original(model: nn.Module, example: torch.Tensor, name: str) -> torch.Tensor:
    """The model's output for ``example``; ModelImportError in one line when it
    fails on it or returns something other than one tensor."""
    try:
        with torch.no_grad():
            # A copy: a model may work on its input in place (x.relu_()).
            out = model(example.clone())
    except Exception as exc:  # whatever the model raises for this input
        code, place = where(frames_of_exception(exc))
        at = f" at {place} (`{code}`)" if code else ""
        raise ModelImportError(
            f"{name} does not take a {_size(example.shape[1:])} input{at}: {first_line(exc)}; "
            "give the input size it expects with --input C,H,W"
        ) from None
    if not torch.is_tensor(out):
        raise ModelImportError(
            f"cannot import {name}: its forward returns a {type(out).__name__}, not one tensor"
        )
    return out


def _weights(model: nn.Module, sources: dict[str, Any]):
    """The converted layers' weights under cnnviz's keys, and the key map. A source is
    a module name, or an Opaque operation's module, whose keys are the model's own,
    or that and the prefix they lack."""
    state: dict[str, torch.Tensor] = {}
    key_map: dict[str, list[str]] = {}
    for address, source in sources.items():
        if isinstance(source, str):
            module, prefix = model.get_submodule(source), f"{source}."
        else:
            module, prefix = source if isinstance(source, tuple) else (source, "")
        for key, value in module.state_dict().items():
            state[f"{address}.{key}"] = value.detach().clone()
            key_map.setdefault(f"{prefix}{key}", []).append(f"{address}.{key}")
    return state, {key: tuple(keys) for key, keys in key_map.items()}


def import_module(
    model: nn.Module,
    shape: tuple[int, int, int],
    name: str = "imported",
    reference_output: torch.Tensor | None = None,
) -> Imported:
    """``model`` as a cnnviz network for (C, H, W) inputs; ModelImportError in one line.

    The model is put in eval mode (batch norm's running statistics, no dropout),
    as cnnviz shows a network. The converted network's output must equal the
    model's, and the model's ``reference_output``: the output, on ``example_input(shape)``,
    of what the model was rebuilt from (e.g. TorchScript), already run by the caller.
    """
    model.eval()
    example = example_input(shape)
    expected = run_original(model, example, name)
    if reference_output is not None:
        check_outputs(model, example, reference_output, name)
    # What cnnviz cannot express inside a submodule of the person's keeps that
    # submodule whole (an Opaque layer): trace again with it as a leaf.
    opaque: frozenset[str] = frozenset()
    untraceable: dict[str, ModelImportError] = {}  # units torch.fx could not trace
    for _ in range(MAX_UNITS):
        try:
            gm = trace(model, name, opaque)
            units = Units(script_only=frozenset(untraceable))
            return convert_module(gm, example, expected, name, shape, units)
        except Unexpressed as exc:
            if exc.unit in opaque:
                raise ModelImportError(str(exc)) from None
            opaque |= {exc.unit}
            if exc.untraceable is not None:
                untraceable[exc.unit] = exc.untraceable
        except Unkept as exc:  # not scripted either: what tracing it said
            if exc.unit in untraceable:
                raise untraceable[exc.unit] from None
            raise
    raise ModelImportError(f"cannot import {name}: over {MAX_UNITS} opaque submodules")


def convert_module(
    gm: fx.GraphModule,
    example: torch.Tensor,
    expected: torch.Tensor,
    name: str,
    shape,
    units: Units | None = None,
) -> Imported:
    """The graph module's network, weights and maps; its output must be ``expected``.
    ``units``: the submodules kept whole (opaque_units.Units)."""
    values = measure(gm, example, name)
    arch, sources = convert_graph(gm, values, name, shape, units)
    state, key_map = _weights(gm, sources)
    check_converted(arch, state, example, expected, name)
    names = {address: source for address, source in sources.items() if isinstance(source, str)}
    return Imported(arch, state, key_map, names)


def import_program(gm: fx.GraphModule, example: torch.Tensor, name: str) -> Imported:
    """An exported program's module (``ExportedProgram.module()``), run on ``example``,
    whose batch is the one it was exported for."""
    expected = run_original(gm, example, name)
    # Its graph cannot be traced again: a submodule holding what cnnviz cannot
    # express has its nodes made into one Opaque layer instead.
    collapsed: frozenset[str] = frozenset()
    for _ in range(MAX_UNITS):
        try:
            units = Units(collapsed=collapsed)
            return convert_module(gm, example, expected, name, tuple(example.shape[1:]), units)
        except Unexpressed as exc:
            if exc.unit in collapsed:
                raise ModelImportError(str(exc)) from None
            collapsed |= {exc.unit}
    raise ModelImportError(f"cannot import {name}: over {MAX_UNITS} opaque submodules")


def check_converted(
    arch: Architecture, state: Mapping[str, Any], example, expected: torch.Tensor, name: str
) -> None:
    """``arch`` built with ``state`` must give ``expected`` on ``example``;
    ModelImportError in one line (also for a layer whose weights cnnviz builds otherwise)."""
    try:
        checked_analysis(arch)
        converted = build_model(arch)
        load_into(converted, state, name)
    except (ArchitectureError, WeightsError) as exc:
        raise ModelImportError(f"cannot import {name}: {exc}") from None
    check_outputs(converted.eval(), example, expected, name)


def check_outputs(converted: nn.Module, example, expected: torch.Tensor, name: str) -> None:
    """ModelImportError unless ``converted`` gives ``expected`` on ``example``: refuse
    rather than show a network that computes something else."""
    with torch.no_grad():
        got = converted(example.clone())
    if got.shape != expected.shape or not torch.allclose(got, expected, rtol=RTOL, atol=ATOL):
        differs = (
            f"gives {_size(got.shape[1:])} where the model gives {_size(expected.shape[1:])}"
            if got.shape != expected.shape
            else f"differs from the model's by up to {float((got - expected).abs().max()):.3g}"
        )
        raise ModelImportError(
            f"cannot import {name}: the converted network's output {differs} (an operation "
            "cnnviz did not see, such as one in place whose result is not used)"
        )


def load_model_weights(model: nn.Module, state: Mapping[str, Any], file_name: str) -> None:
    """A state dict under the model's own keys into the model; ModelImportError naming
    the first key that is missing, extra or of another shape (both shapes)."""
    expected = model.state_dict()
    state = dict(state)
    if state and not set(state) & set(expected) and all(k.startswith("module.") for k in state):
        state = {key.removeprefix("module."): value for key, value in state.items()}
    for key, tensor in expected.items():
        if key not in state:
            if key.rsplit(".", 1)[-1] in OPTIONAL_KEYS:
                continue
            raise ModelImportError(f"{file_name} does not fit the model: the file has no '{key}'")
        got = tuple(state[key].shape)
        if got != tuple(tensor.shape):
            raise ModelImportError(
                f"{file_name} does not fit the model: '{key}' is {_size(got) or 'scalar'} in "
                f"the file but the model needs {_size(tensor.shape) or 'scalar'}"
            )
    for key in state:
        if key not in expected:
            raise ModelImportError(
                f"{file_name} does not fit the model: the file has '{key}', which the model lacks"
            )
    model.load_state_dict(state, strict=False)
