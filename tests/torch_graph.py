"""An independent torch model of an architecture file, blocks included.

The tests' oracle for nested networks: built straight from the JSON dict with
torch alone, never through cnnviz. Every size torch needs from the previous
layer (in_channels, in_features, num_features, num_channels) is read from the
tensor that actually arrives, by running it through the layers built so far.
Module names follow the file's contract, so a state_dict has the keys
``3.body.0.weight``, ``6.branches.2.1.bias`` and the like.
"""

from __future__ import annotations

import functools
import inspect
import operator
import warnings
from dataclasses import dataclass, field

import torch
from torch import nn

# What torch raises for a layer that cannot take its input (or parameters that
# do not fit it): construction and forward both.
REJECTIONS = (RuntimeError, ValueError, IndexError, ZeroDivisionError)

# Constructor arguments torch needs from the input: name → how to read it from
# a batched tensor.
_INFERRED = {
    "in_channels": lambda x: x.shape[1],
    "num_features": lambda x: x.shape[1],
    "num_channels": lambda x: x.shape[1],
    "in_features": lambda x: x.shape[-1],
}


@functools.cache
def _arguments(cls) -> frozenset[str]:
    return frozenset(inspect.signature(cls).parameters)


class Residual(nn.Module):
    """body(x) + shortcut(x); an empty shortcut is the identity."""

    def __init__(self, body, shortcut):
        super().__init__()
        self.body = nn.Sequential(*body)
        self.shortcut = nn.Sequential(*shortcut)

    def merge(self, outputs):
        return outputs[0] + outputs[1]

    def forward(self, x):
        return self.merge([self.body(x), self.shortcut(x)])


class Parallel(nn.Module):
    """The same input through every branch; outputs concatenated along channels or added."""

    def __init__(self, merge: str, branches):
        super().__init__()
        self.merge_kind = merge
        self.branches = nn.ModuleList(nn.Sequential(*b) for b in branches)

    def merge(self, outputs):
        if self.merge_kind == "concat":
            return torch.cat(outputs, dim=1)
        return functools.reduce(operator.add, outputs)

    def forward(self, x):
        return self.merge([branch(x) for branch in self.branches])


def leaf_module(raw: dict, x: torch.Tensor) -> nn.Module:
    """The torch module for one layer entry receiving batched `x`."""
    cls = getattr(nn, raw["type"])
    args = {k: tuple(v) if isinstance(v, list) else v for k, v in raw.items() if k != "type"}
    # Never in place: body(x) + x would add the overwritten x (the contract's
    # block is the arithmetic body(x) + shortcut(x), as cnnviz builds it).
    if "inplace" in args:
        args["inplace"] = False
    if raw["type"] == "Softmax" and args.get("dim") is None:
        args["dim"] = 1  # torch's implicit choice for 2-d and 4-d input, without its warning
    wanted = _arguments(cls)
    for name, read in _INFERRED.items():
        if name in wanted:
            args[name] = int(read(x))
    return cls(**args).eval()


@dataclass
class Built:
    """What torch made of a file: the model (None where a layer failed), every
    output by address in the order torch computed them (a block's after its
    paths'), each block's path outputs, and the address where torch failed."""

    model: nn.Sequential | None = None
    outputs: dict[str, torch.Tensor] = field(default_factory=dict)
    path_outputs: dict[str, list[torch.Tensor]] = field(default_factory=dict)
    failed_at: str | None = None
    reason: str = ""


class _Failed(Exception):
    def __init__(self, address: str, reason: str):
        super().__init__(address)
        self.address, self.reason = address, reason


def build(graph: dict, x: torch.Tensor | None = None) -> Built:
    """Build the file's model by running `x` (random by default) through it."""
    if x is None:
        shape = graph["input"]
        size = (1, shape["channels"], shape["height"], shape["width"])
        x = torch.randn(size, generator=torch.Generator().manual_seed(0))
    built = Built()
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            modules, _ = _stack(graph["layers"], x, "", built)
    except _Failed as failed:
        built.failed_at, built.reason = failed.address, failed.reason
        return built
    built.model = nn.Sequential(*modules).eval()
    return built


def _stack(raws: list, x: torch.Tensor, prefix: str, built: Built):
    modules = []
    for i, raw in enumerate(raws):
        module, x = _entry(raw, x, f"{prefix}{i}", built)
        modules.append(module)
    return modules, x


def _entry(raw: dict, x: torch.Tensor, address: str, built: Built):
    if raw["type"] in ("Residual", "Parallel"):
        return _block(raw, x, address, built)
    try:
        module = leaf_module(raw, x)
        y = module(x)
    except REJECTIONS as exc:
        raise _Failed(address, f"{type(exc).__name__}: {exc}") from None
    built.outputs[address] = y
    return module, y


def _block(raw: dict, x: torch.Tensor, address: str, built: Built):
    if raw["type"] == "Residual":
        names, stacks = ("body", "shortcut"), (raw["body"], raw.get("shortcut", []))
    else:
        names = tuple(f"branches.{k}" for k in range(len(raw["branches"])))
        stacks = raw["branches"]
    paths, outputs = [], []
    for name, layers in zip(names, stacks, strict=True):
        modules, y = _stack(layers, x, f"{address}.{name}.", built)
        paths.append(modules)
        outputs.append(y)
    if raw["type"] == "Residual":
        module = Residual(*paths)
    else:
        module = Parallel(raw.get("merge", "concat"), paths)
    built.path_outputs[address] = outputs
    try:
        y = module.merge(outputs)
    except REJECTIONS as exc:
        raise _Failed(address, f"{type(exc).__name__}: {exc}") from None
    built.outputs[address] = y
    return module, y


def layer_addresses(model: nn.Module) -> list[str]:
    """The names of the modules that are layers or blocks (not the containers
    torch puts between them: the Sequentials and the ModuleList)."""
    return [
        name
        for name, module in model.named_modules()
        if name and not isinstance(module, nn.Sequential | nn.ModuleList)
    ]
