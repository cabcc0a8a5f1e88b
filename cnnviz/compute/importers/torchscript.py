"""TorchScript archives (``torch.jit.script`` or ``torch.jit.trace``, issue 18).

The archive is read with ``torch.jit.load``, which runs no Python code from the
file. What cnnviz can show of it depends on its forward, which cnnviz cannot
read as a graph of its own:

* when its top-level children, called in order, give its output (checked
  numerically on two seeded inputs; an ``nn.Sequential`` always does), it is
  imported as that chain: a child of a known layer type becomes that layer
  with its weights (when the rebuilt layer computes what the child did on the
  values that reached it: a trace keeps no constructor arguments), a child
  ``nn.Sequential`` is read the same way, anything else is an Opaque layer
  holding that child's program;
* otherwise (a residual add, a child called twice, a value used later) the
  whole module is ONE Opaque layer: its output, prediction and parameter count
  are still shown, and a one-line note says why and what to import instead.

Parameters keep the module's own keys (``conv1.weight``); a ``--weights`` file
under those keys is loaded into the archive's module before anything is read.
"""

from __future__ import annotations

import inspect
import logging
import warnings
from collections import OrderedDict
from dataclasses import replace
from pathlib import Path

import torch
from torch import nn

from cnnviz.compute.importers import ModelImportError, first_line
from cnnviz.compute.importers.fx_convert import Imported
from cnnviz.compute.importers.model_import import (
    check_converted,
    example_input,
    import_module,
    load_model_weights,
    run_original,
)
from cnnviz.compute.importers.module_layers import KNOWN_MODULES
from cnnviz.compute.importers.opaque_units import kind_of, opaque_layer
from cnnviz.compute.importers.traced_layers import traced_arguments
from cnnviz.core.architecture import Architecture, InputShape

logger = logging.getLogger(__name__)

# Two inputs: one could make a branch or a value-dependent step look like a chain.
# The first is import_module's own example input (seed 0): the archive's output on
# it is the reference the rebuilt chain must give there.
CHAIN_SEEDS = (0, 1)
# Calling the children in order runs the very operations the forward ran.
CHAIN_RTOL, CHAIN_ATOL = 1e-5, 1e-6


def read_archive(path: Path) -> torch.jit.ScriptModule:
    """The archive's module, on the CPU; ModelImportError in one line."""
    try:
        with warnings.catch_warnings():
            # torch deprecates TorchScript; the files people have are still TorchScript.
            warnings.simplefilter("ignore", DeprecationWarning)
            return torch.jit.load(str(path), map_location="cpu")
    except Exception as exc:  # torch's many archive errors
        raise ModelImportError(
            f"{path.name}: not a readable TorchScript file ({first_line(exc)})"
        ) from None


def _same(got, want: torch.Tensor) -> bool:
    return (
        torch.is_tensor(got)
        and got.shape == want.shape
        and torch.allclose(got, want, rtol=CHAIN_RTOL, atol=CHAIN_ATOL)
    )


def chain_values(module: nn.Module, inputs, outputs) -> list[list[torch.Tensor]] | None:
    """For each input, its value before and after each child called in order, when
    the last is the module's output; None when the children are not such a chain."""
    children = list(module.children())
    if not children:
        return None
    trail = []
    for x, want in zip(inputs, outputs, strict=True):
        values = [x]
        try:
            with torch.no_grad():
                for child in children:
                    # A copy: a child may work in place (ReLU(inplace=True)).
                    values.append(child(values[-1].clone()))
        except Exception:  # a child that takes something else than the last value
            return None
        if not _same(values[-1], want):
            return None
        trail.append(values)
    return trail


def _rebuilt_layer(scripted, kind: str, where_: str) -> nn.Module:
    """The torch layer of that kind, from the arguments the scripted one keeps (a
    traced one: those its aten call and weights show, traced_layers)."""
    cls = getattr(nn, kind)
    traced = traced_arguments(scripted, kind)  # what a trace kept in its call
    args = {}
    for name, param in inspect.signature(cls.__init__).parameters.items():
        if name in ("self", "device", "dtype") or param.kind is not param.POSITIONAL_OR_KEYWORD:
            continue
        if name == "bias":
            args[name] = getattr(scripted, "bias", None) is not None
        elif hasattr(scripted, name):
            value = getattr(scripted, name)
            args[name] = tuple(value) if isinstance(value, list) else value
        elif name in traced:
            args[name] = traced[name]
        elif param.default is param.empty:
            raise ModelImportError(f"the {kind} `{where_}` keeps no {name} (a trace keeps none)")
    try:
        module = cls(**args)
        module.load_state_dict(scripted.state_dict())
    except Exception as exc:  # what torch says about these arguments or weights
        raise ModelImportError(
            f"cannot rebuild the scripted {kind} `{where_}`: {first_line(exc)}"
        ) from None
    return module.eval()


def _rebuilt_child(child: nn.Module, where_: str, pairs) -> nn.Module:
    """A child as a torch layer, a rebuilt Sequential, or itself (an Opaque layer)."""
    kind = kind_of(child)
    if kind == "Sequential":
        inner = chain_values(child, [x for x, _ in pairs], [y for _, y in pairs])
        return child if inner is None else rebuilt_chain(child, where_, inner)
    if kind in KNOWN_MODULES.values():
        try:
            layer = _rebuilt_layer(child, kind, where_)
            with torch.no_grad():
                if all(_same(layer(x.clone()), y) for x, y in pairs):
                    return layer
        except Exception:  # a trace kept no constructor arguments, or defaults that do
            pass  # not fit its input (ModelImportError, torch's errors): its program runs
    return child


def rebuilt_chain(module: nn.Module, where_: str, trail) -> nn.Sequential:
    """The chain of ``module``'s children as an nn.Sequential under their own names
    (so the module's keys are its own); ``trail``: chain_values of it."""
    parts = OrderedDict()
    for i, (name, child) in enumerate(module.named_children()):
        address = f"{where_}.{name}" if where_ else name
        parts[name] = _rebuilt_child(child, address, [(v[i], v[i + 1]) for v in trail])
    return nn.Sequential(parts)


def _whole(scripted, shape, example, expected, name: str, file_name: str, note: str):
    """The whole module as one Opaque layer, under its own keys."""
    layer = opaque_layer(scripted, example, expected, kind_of(scripted), file_name)
    arch = Architecture(name, InputShape(*shape), (layer,), {"description": note})
    state = {f"0.{k}": v.detach().clone() for k, v in scripted.state_dict().items()}
    check_converted(arch, state, example, expected, name)
    key_map = {key.removeprefix("0."): (key,) for key in state}
    return Imported(arch, state, key_map, {"0": ""})


def import_torchscript(
    path: Path, shape: tuple[int, int, int], weights_state=None, weights_name: str = ""
) -> Imported:
    """The archive as a cnnviz network for (C, H, W) inputs: the chain of its children,
    else one Opaque layer; ``weights_state``: a state dict under its own keys."""
    scripted = read_archive(path)
    if weights_state is not None:
        load_model_weights(scripted, weights_state, weights_name)
    scripted.eval()
    name = path.stem
    inputs = [example_input(shape, seed) for seed in CHAIN_SEEDS]
    outputs = [run_original(scripted, x, path.name) for x in inputs]
    trail = chain_values(scripted, inputs, outputs)
    if trail is None:
        note = (
            f"{path.name}: its forward is not a chain of its children (e.g. a residual "
            "add); shown as one opaque layer; import the Python class (FILE.py:CLASS) to "
            "see inside it"
        )
        logger.warning("%s", note)
        return _whole(scripted, shape, inputs[0], outputs[0], name, path.name, note)
    model = rebuilt_chain(scripted, "", trail)
    imported = import_module(model, shape, name, reference_output=outputs[0])
    note = (
        f"{path.name} ({kind_of(scripted)}, TorchScript): its {len(trail[0]) - 1} children, "
        "called in order, give its output (checked numerically on two inputs)"
    )
    arch = imported.architecture
    return replace(
        imported, architecture=replace(arch, metadata={**arch.metadata, "description": note})
    )
