"""A ``torch.nn`` module of a type cnnviz knows → its catalogue layer.

The parameters are read from the module itself: cnnviz's parameter names are
the torch constructor's, and torch keeps each one under that name (``bias`` as
a tensor or None). What the catalogue cannot hold (a pool that returns
indices, a batch norm with a cumulative average) is refused by name.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from cnnviz.core.architecture import ArchitectureError, Layer
from cnnviz.core.catalogue import CATALOGUE, layer_type

# Exactly these classes are leaves; a subclass may have its own forward, so it is
# traced into like any other module of the person's own.
KNOWN_MODULES: dict[type, str] = {
    getattr(nn, name): name for name in CATALOGUE if isinstance(getattr(nn, name, None), type)
}
# Torch modules that hold other modules: traced through, never leaves.
CONTAINERS = (nn.Sequential, nn.ModuleList, nn.ModuleDict)


def is_known(module: nn.Module) -> bool:
    return type(module) in KNOWN_MODULES


def make_layer(type_name: str, **params: Any) -> Layer:
    """A checked layer holding only the values that differ from the catalogue's defaults."""
    spec = layer_type(type_name)
    given = {}
    for p in spec.params:
        if p.name not in params:
            continue
        value = _plain(params[p.name])
        if p.required or value != p.default:
            given[p.name] = value
    return Layer.make(type_name, **given)


def _plain(value: Any) -> Any:
    """torch's values as a file holds them: tuples of equal sides as one number."""
    if isinstance(value, list | tuple):
        value = tuple(_plain(v) for v in value)
        if len(value) == 2 and value[0] == value[1]:
            return value[0]
        return value
    if isinstance(value, torch.Size):
        return tuple(value)
    return value


def _refusals(module: nn.Module) -> str | None:
    """Why a module of a known type still has no catalogue layer, or None."""
    if getattr(module, "return_indices", False):
        return "it returns the indices of the maxima too"
    if getattr(module, "divisor_override", None) is not None:
        return "it divides by divisor_override"
    if isinstance(module, nn.BatchNorm2d) and module.momentum is None:
        return "its momentum is None (a cumulative average)"
    if isinstance(module, nn.Flatten) and (module.start_dim, module.end_dim) != (1, -1):
        return f"it flattens dims {module.start_dim} to {module.end_dim}, not 1 to -1"
    if isinstance(module, nn.ConvTranspose2d) and module.padding_mode != "zeros":
        return f"its padding_mode is {module.padding_mode!r}"
    return None


def _value(module: nn.Module, name: str, input_hw: tuple[int, ...]) -> Any:
    value = getattr(module, name)
    if name == "bias":
        return value is not None  # a tensor, or None without a bias
    if name == "output_size" and isinstance(value, tuple | list):
        # None keeps that side of the input (AdaptiveAvgPool2d((None, 7))).
        return tuple(n if n is not None else input_hw[i] for i, n in enumerate(value))
    if name == "scale_factor" and isinstance(value, tuple | list):
        return float(value[0]) if len(set(value)) == 1 else value
    if name == "scale_factor" and value is not None:
        return float(value)
    return value


def layer_of_module(module: nn.Module, input_shape: tuple[int, ...]) -> Layer:
    """The catalogue layer of ``module`` (an instance of a known class) receiving
    ``input_shape`` (unbatched); ValueError with the reason if it has none."""
    type_name = KNOWN_MODULES[type(module)]
    reason = _refusals(module)
    if reason:
        raise ValueError(reason)
    params = {}
    for p in layer_type(type_name).params:
        if p.name == "inplace" or not hasattr(module, p.name):
            continue  # cnnviz never computes in place (hooks keep views)
        params[p.name] = _value(module, p.name, tuple(input_shape[1:]))
    try:
        return make_layer(type_name, **params)
    except ArchitectureError as exc:
        raise ValueError(str(exc)) from None
