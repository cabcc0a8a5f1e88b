"""Where a model comes from: a Python file and a class or factory name, a
TorchScript archive or an exported program (``.pt2``, its aten graph read by
aten_ops); and its weights file, under the model's own keys.

A Python file is run (that is what importing it means) only when asked for
explicitly. A TorchScript archive is loaded with ``torch.jit.load``, which
runs no Python code from the file (torchscript.py: the chain of its children,
or the whole module as one Opaque layer).
Weights files are read as every weights file is (``weights_only=True``).
"""

from __future__ import annotations

import importlib.util
import inspect
import re
import sys
import warnings
from pathlib import Path
from unittest import mock

import torch
import torch.fx as fx
from torch import nn

from cnnviz.compute.importers import ModelImportError, first_line, frames_of_exception, where
from cnnviz.compute.importers.fx_convert import EXAMPLE_BATCH, Imported
from cnnviz.compute.importers.model_import import (
    import_module,
    import_program,
    load_model_weights,
)
from cnnviz.compute.importers.torchscript import import_torchscript
from cnnviz.compute.weights import WeightsError, read_weights
from cnnviz.core.model_sources import is_exported, is_torchscript, python_source


def _run_file(path: Path):
    """Run the file as a module of its own (its folder importable while it runs)."""
    if not path.is_file():
        raise ModelImportError(f"{path.name}: No such file or directory")
    module_name = f"cnnviz_import_{path.stem}_{abs(hash(str(path.resolve())))}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # dataclasses and pickling look modules up here
    sys.path.insert(0, str(path.parent.resolve()))
    try:
        spec.loader.exec_module(module)
    except SyntaxError as exc:
        sys.modules.pop(module_name, None)
        raise ModelImportError(
            f"{path.name}:{exc.lineno}: cannot run it: SyntaxError: {exc.msg}"
        ) from None
    except (Exception, SystemExit) as exc:  # the file's own code may raise anything
        sys.modules.pop(module_name, None)
        code, place = where(frames_of_exception(exc))
        at = f" at {place} (`{code}`)" if code else ""
        raise ModelImportError(f"{path.name}: cannot run it{at}: {first_line(exc)}") from None
    finally:
        sys.path.remove(str(path.parent.resolve()))
    return module


def _candidates(module) -> list[str]:
    return sorted(
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and getattr(value, "__module__", None) == module.__name__
        and (inspect.isfunction(value) or (inspect.isclass(value) and issubclass(value, nn.Module)))
    )


def load_python(path: Path, name: str) -> nn.Module:
    """``name`` from the file, called without arguments (a class or a factory)."""
    module = _run_file(path)
    target = getattr(module, name, None)
    if target is None:
        found = ", ".join(_candidates(module)) or "no classes or functions"
        raise ModelImportError(f"{path.name} has no {name!r} (it defines: {found})")
    if not callable(target):
        raise ModelImportError(f"{path.name}:{name} is a {type(target).__name__}, not a class")
    try:
        model = target()
    except Exception as exc:  # the person's constructor
        code, place = where(frames_of_exception(exc))
        at = f" at {place} (`{code}`)" if code else ""
        raise ModelImportError(
            f"{path.name}:{name}() failed{at}: {first_line(exc)}; cnnviz calls it without "
            "arguments, so give them defaults or name a factory function"
        ) from None
    if not isinstance(model, nn.Module):
        raise ModelImportError(
            f"{path.name}:{name}() gives a {type(model).__name__}, not a torch nn.Module"
        )
    return model


_GLOBAL = re.compile(r"Unsupported global: GLOBAL ([\w.]+)")


def load_exported(path: Path) -> tuple[fx.GraphModule, tuple[int, ...]]:
    """An exported program's module and the input shape (batch included) it was
    exported for. torch.export.load falls back to unpickling with
    ``weights_only=False`` when a safe read fails; here every read is a safe one,
    so a file holding Python objects is refused rather than run."""
    real_load = torch.load

    def safe_load(*args, **kwargs):
        kwargs["weights_only"] = True
        return real_load(*args, **kwargs)

    try:
        with mock.patch.object(torch, "load", safe_load), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            program = torch.export.load(str(path))
        module = program.module()
    except Exception as exc:  # torch's many archive and unpickling errors
        found = _GLOBAL.search(str(exc))
        if found:
            raise ModelImportError(
                f"{path.name}: holds Python objects ({found.group(1)}) that cnnviz will not "
                "unpickle (unsafe)"
            ) from None
        raise ModelImportError(
            f"{path.name}: not an exported program cnnviz can read ({first_line(exc)})"
        ) from None
    inputs = [n for n in program.graph.nodes if n.op == "placeholder"]
    user = [n for n in inputs if n.name in program.graph_signature.user_inputs]
    if len(user) != 1 or not torch.is_tensor(user[0].meta.get("val")):
        raise ModelImportError(f"{path.name}: the program must take one tensor input")
    # A dynamic size (a symbol) takes the trace's batch of 2; others must be numbers.
    shape = tuple(n if isinstance(n, int) else None for n in user[0].meta["val"].shape)
    if None in shape[1:]:
        raise ModelImportError(
            f"{path.name}: its input's height or width is dynamic; cnnviz needs them fixed"
        )
    return module, (shape[0] or EXAMPLE_BATCH, *shape[1:])


def _import_exported(path: Path, shape, weights: str | None) -> Imported:
    module, exported = load_exported(path)
    if len(exported) != 4 or (shape is not None and tuple(shape) != exported[1:]):
        wanted = "×".join(str(n) for n in exported)
        raise ModelImportError(
            f"{path.name} was exported for {wanted} inputs; cnnviz takes batches of C×H×W"
        )
    if weights:
        load_weights_file(module, weights)
    example = torch.randn(exported, generator=torch.Generator().manual_seed(0))
    return import_program(module, example, path.stem)


def _read_weights_file(weights: str):
    try:
        return read_weights(weights)
    except WeightsError as exc:
        raise ModelImportError(str(exc)) from None


def load_weights_file(model: nn.Module, weights: str) -> None:
    """A weights file under the model's own keys into the model; ModelImportError."""
    load_model_weights(model, _read_weights_file(weights), Path(weights).name)


def import_source(
    source: str, shape: tuple[int, int, int] | None, weights: str | None = None
) -> Imported:
    """The model named by ``source`` (``FILE.py:NAME`` or a TorchScript file) converted for
    (C, H, W) inputs, with the weights file (under the model's own keys) if given."""
    python = python_source(source)
    if python is None and is_exported(source):
        return _import_exported(Path(source), shape, weights)
    if python is None and not is_torchscript(source):
        raise ModelImportError(f"{source}: not FILE.py:CLASS or a TorchScript file")
    if shape is None:
        raise ModelImportError(
            f"{Path(source.split(':')[0]).name}: give the model's input size with "
            "--input C,H,W (e.g. --input 3,32,32)"
        )
    if python is None:
        state = _read_weights_file(weights) if weights else None
        return import_torchscript(Path(source), shape, state, Path(weights or "").name)
    model = load_python(*python)
    if weights:
        load_weights_file(model, weights)
    return import_module(model, shape, python[1])
