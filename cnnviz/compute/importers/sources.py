"""Where a model comes from: a Python file and a class or factory name, a
TorchScript archive or an exported program (``.pt2``, its aten graph read by
aten_ops); and its weights file, under the model's own keys.

A Python file is run (that is what importing it means) only when asked for
explicitly. A TorchScript archive is loaded with ``torch.jit.load``, which
runs no Python code from the file; its modules are rebuilt as the torch
layers they were scripted from (a scripted ``nn.Sequential`` of known layer
types), and the rebuilt model must compute what the scripted one does.
Weights files are read as every weights file is (``weights_only=True``).
"""

from __future__ import annotations

import importlib.util
import inspect
import re
import sys
import warnings
from collections import OrderedDict
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
from cnnviz.compute.importers.module_layers import KNOWN_MODULES
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


def _rebuilt_layer(scripted, kind: str, where_: str) -> nn.Module:
    cls = getattr(nn, kind)
    args = {}
    for name, param in inspect.signature(cls.__init__).parameters.items():
        if name in ("self", "device", "dtype") or param.kind is not param.POSITIONAL_OR_KEYWORD:
            continue
        if name == "bias":
            args[name] = getattr(scripted, "bias", None) is not None
        elif hasattr(scripted, name):
            value = getattr(scripted, name)
            args[name] = tuple(value) if isinstance(value, list) else value
        elif param.default is param.empty:
            raise ModelImportError(
                f"the {kind} `{where_}` in this file keeps no {name} (torch.jit.trace keeps "
                "no constructor arguments; cnnviz reads files made with torch.jit.script)"
            )
    try:
        module = cls(**args)
        module.load_state_dict(scripted.state_dict())
    except Exception as exc:  # what torch says about these arguments or weights
        raise ModelImportError(
            f"cannot rebuild the scripted {kind} `{where_}`: {first_line(exc)}"
        ) from None
    return module


def _rebuilt(scripted, where_: str, file_name: str) -> nn.Module:
    kind = getattr(scripted, "original_name", type(scripted).__name__)
    if kind == "Sequential":
        return nn.Sequential(
            OrderedDict(
                {
                    child: _rebuilt(module, f"{where_}.{child}" if where_ else child, file_name)
                    for child, module in scripted.named_children()
                }
            )
        )
    if kind in KNOWN_MODULES.values():
        return _rebuilt_layer(scripted, kind, where_)
    if where_:  # a part cnnviz has no type for: kept as it is, an Opaque layer
        return scripted
    what = f"`{where_}` ({kind})" if where_ else f"its top module ({kind})"
    raise ModelImportError(
        f"{file_name}: cnnviz reads TorchScript files made of nn.Sequential stacks of its "
        f"layer types; {what} is not one (import the Python class instead: FILE.py:CLASS)"
    )


def load_torchscript(path: Path) -> tuple[nn.Module, nn.Module]:
    """(the rebuilt model, the scripted one) of a TorchScript archive."""
    try:
        with warnings.catch_warnings():
            # torch deprecates TorchScript; the files people have are still TorchScript.
            warnings.simplefilter("ignore", DeprecationWarning)
            scripted = torch.jit.load(str(path), map_location="cpu")
    except Exception as exc:  # torch's many archive errors
        raise ModelImportError(
            f"{path.name}: not a readable TorchScript file ({first_line(exc)})"
        ) from None
    return _rebuilt(scripted, "", path.name), scripted


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
        _load_weights_file(module, weights)
    example = torch.randn(exported, generator=torch.Generator().manual_seed(0))
    return import_program(module, example, path.stem)


def _load_weights_file(model: nn.Module, weights: str) -> None:
    try:
        state = read_weights(weights)
    except WeightsError as exc:
        raise ModelImportError(str(exc)) from None
    load_model_weights(model, state, Path(weights).name)


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
    reference = None
    if python is not None:
        model, name = load_python(*python), python[1]
    else:
        model, reference = load_torchscript(Path(source))
        name = Path(source).stem
    if weights:
        _load_weights_file(model, weights)
        if reference is not None:
            reference = None  # the scripted weights no longer apply
    return import_module(model, shape, name, reference=reference)
