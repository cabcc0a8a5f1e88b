"""Blocks as torch modules, and the order the hooked forward runs their layers in.

``Residual`` and ``Parallel`` hold their paths as ``nn.Sequential``s under the
names of the architecture file (cnnviz.core.blocks), so the state_dict keys
are torch's natural ones for that layout: ``3.body.0.weight``,
``5.shortcut.1.running_var``, ``6.branches.2.1.bias``. A state_dict saved from
any torch model built with those names loads as it is.

The analysis lists every layer in pre-order (a block before the layers inside
it); ``flat_modules`` lists the built modules in that same order, so the flat
index means the same module everywhere. ``compile_steps`` turns a model into
the steps of a forward in the order they run (a block's merge after its
paths), each reading the outputs it needs by flat index.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from cnnviz.core import blocks as core_blocks


def merge(kind: str, outputs: Sequence[torch.Tensor]) -> torch.Tensor:
    """The paths' outputs merged: 'concat' along channels, 'add' summed (out of place)."""
    if kind == "concat":
        return torch.cat(list(outputs), 1)
    total = outputs[0] + outputs[1] if len(outputs) > 1 else outputs[0]
    for more in outputs[2:]:
        total = total + more
    return total


class Residual(nn.Module):
    """body(x) + shortcut(x); an empty shortcut is the identity."""

    merge = "add"

    def __init__(self, body: Sequence[nn.Module] = (), shortcut: Sequence[nn.Module] = ()):
        super().__init__()
        self.body = nn.Sequential(*body)
        self.shortcut = nn.Sequential(*shortcut)

    @property
    def paths(self) -> tuple[nn.Sequential, ...]:
        return (self.body, self.shortcut)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x) + self.shortcut(x)


class Parallel(nn.Module):
    """Every branch gets the same input; their outputs are concatenated or added."""

    def __init__(self, branches: Sequence[Sequence[nn.Module]], merge: str = "concat"):
        super().__init__()
        if merge not in ("concat", "add"):
            raise ValueError(f"merge must be 'concat' or 'add', not {merge!r}")
        self.branches = nn.ModuleList(nn.Sequential(*branch) for branch in branches)
        self.merge = merge

    @property
    def paths(self) -> tuple[nn.Sequential, ...]:
        return tuple(self.branches)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return merge(self.merge, [branch(x) for branch in self.branches])

    def extra_repr(self) -> str:
        return f"merge={self.merge!r}"


BLOCK_MODULES = (Residual, Parallel)


def has_blocks(modules) -> bool:
    return any(isinstance(m, BLOCK_MODULES) for m in modules)


def named_flat(model: nn.Sequential) -> Iterator[tuple[str, nn.Module]]:
    """(address, module) of every layer in pre-order, as the analysis lists them."""

    def walk(address: str, module: nn.Module):
        yield address, module
        if isinstance(module, BLOCK_MODULES):
            names = ("body", "shortcut") if isinstance(module, Residual) else None
            for k, path in enumerate(module.paths):
                name = names[k] if names else f"branches.{k}"
                for i, inner in enumerate(path):
                    yield from walk(f"{address}.{name}.{i}", inner)

    for index, module in enumerate(model):
        yield from walk(str(index), module)


def flat_modules(model: nn.Sequential) -> list[nn.Module]:
    """Every layer's module by flat index (a block's own module at its index)."""
    return [module for _, module in named_flat(model)]


def assemble(infos, leaf_modules: dict[int, nn.Module]) -> nn.Sequential:
    """The model for the analysis' ``infos`` from each leaf's module (by flat index):
    blocks are made around the modules of the layers inside them."""
    children = defaultdict(list)
    for info in infos:
        if info.parent is not None:
            children[info.parent].append(info)

    def module_of(info) -> nn.Module:
        layer = info.layer
        if not layer.is_block:
            return leaf_modules[info.index]
        paths: dict[str, list[nn.Module]] = {name: [] for name in layer.path_names}
        for child in children[info.index]:
            paths[child.path].append(module_of(child))
        if layer.type == core_blocks.RESIDUAL:
            return Residual(paths["body"], paths["shortcut"])
        return Parallel(list(paths.values()), core_blocks.merge_kind(layer.type, layer.params))

    return nn.Sequential(*(module_of(info) for info in infos if info.parent is None))


# One step of a forward: (flat index it makes, what to call, the slots it reads,
# whether it is a merge (called with the list of its paths' outputs), the slots
# no later step reads). Slot 0 is the network input, slot i + 1 layer i's output.
Step = tuple[int, Callable, tuple[int, ...], bool, tuple[int, ...]]


@dataclass(frozen=True)
class Plan:
    """A model with blocks laid out for the hooked forward."""

    modules: tuple[nn.Module, ...]  # by flat index
    names: tuple[str, ...]  # type names by flat index
    addresses: tuple[str, ...]
    steps: tuple[Step, ...]  # in the order they run
    inputs: tuple[int, ...]  # by flat index: the slot of what the layer receives


def _merge_call(kind: str) -> Callable:
    return lambda outputs: merge(kind, outputs)


def compile_steps(model: nn.Sequential, call_for: Callable[[nn.Module], Callable]) -> Plan:
    """The plan of ``model``'s forward; ``call_for(module)`` says what a leaf calls."""
    named = list(named_flat(model))
    modules = tuple(module for _, module in named)
    inputs = [0] * len(modules)
    steps: list[list] = []
    counter = iter(range(len(modules)))

    def run_path(path, source: int) -> int:
        for module in path:
            index = next(counter)
            inputs[index] = source
            if isinstance(module, BLOCK_MODULES):
                ends = tuple(run_path(p, source) for p in module.paths)
                steps.append([index, _merge_call(module.merge), ends, True])
            else:
                steps.append([index, call_for(module), (source,), False])
            source = index + 1
        return source

    run_path(model, 0)
    last_read = {}
    for position, step in enumerate(steps):
        for slot in step[2]:
            last_read[slot] = position
    released = defaultdict(list)
    for slot, position in last_read.items():
        if slot:  # the network input belongs to the caller
            released[position].append(slot)
    return Plan(
        modules,
        tuple(type(m).__name__ for m in modules),
        tuple(address for address, _ in named),
        tuple((*step, tuple(released[p])) for p, step in enumerate(steps)),
        tuple(inputs),
    )
