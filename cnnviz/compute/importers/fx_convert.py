"""An ``nn.Module`` → a cnnviz architecture with blocks, and its weights.

``torch.fx`` traces the model with the layer types cnnviz knows as leaves;
each node of the graph becomes layers (a known module, a functional relu or
max pool, a reshape that is a Flatten) or a merge (an ``add`` of paths, a
``cat`` along channels). The graph is read backwards from the output: a
merge's paths run back to the point where they split (their latest common
ancestor), so an ``add`` of two paths becomes a Residual (a path that is the
fork itself is an empty, identity shortcut), an ``add`` of more paths a
Parallel add and a ``cat`` a Parallel concat. A graph that is not made of
such nested splits and merges (a path that feeds two merges) is refused.

The trace runs on an example input of batch 2, so a reshape that keeps the
batch is told apart from one that does not. The converted network is built,
given the model's weights (``key_map``: the model's keys → cnnviz's) and run
on the same input: its output must equal the model's, else the import is
refused rather than shown wrong.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
import torch.fx as fx
from torch import nn

from cnnviz.compute.importers import (
    ModelImportError,
    Untraceable,
    first_line,
    frames_of_exception,
    frames_of_text,
    where,
)
from cnnviz.compute.importers.module_layers import CONTAINERS, is_known
from cnnviz.compute.importers.node_kinds import Chain, Leaf, Merge, NodeKinds, refuse, shape_text
from cnnviz.compute.importers.opaque_units import Unexpressed, Units, innermost_unit
from cnnviz.core import blocks
from cnnviz.core.architecture import Architecture, ArchitectureError, InputShape, Layer
from cnnviz.core.blocks import MAX_NESTING

EXAMPLE_BATCH = 2
# Float32 sums in another order (an adaptive pool for a mean) differ this much.
RTOL, ATOL = 1e-4, 1e-5


@dataclass
class _Block:
    type: str
    params: dict[str, Any]
    paths: list[list[Any]]
    node: fx.Node


@dataclass(frozen=True)
class Imported:
    """A converted model: the architecture, its weights under cnnviz's keys, and maps
    back to the model (its state_dict keys, and its module of each converted layer)."""

    architecture: Architecture
    state: dict[str, torch.Tensor]
    key_map: dict[str, tuple[str, ...]]  # the model's key → cnnviz's keys (shared: several)
    modules: dict[str, str] = field(default_factory=dict)  # cnnviz address → module name


class _Tracer(fx.Tracer):
    """Known layer types are leaves; torch's other layers too, so they become Opaque
    layers whole; containers and the person's own modules are traced through, except
    those the import keeps whole (``opaque``: their module paths)."""

    def __init__(self, opaque: frozenset[str] = frozenset()) -> None:
        super().__init__()
        self.record_stack_traces = True
        self.opaque = opaque

    def is_leaf_module(self, m: nn.Module, module_qualified_name: str) -> bool:
        if is_known(m) or module_qualified_name in self.opaque:
            return True
        if isinstance(m, torch.jit.ScriptModule):
            return True  # TorchScript (an exported Opaque layer) is kept whole
        if isinstance(m, CONTAINERS):
            return False
        return type(m).__module__.startswith("torch.nn")


def trace(model: nn.Module, name: str, opaque: frozenset[str] = frozenset()) -> fx.GraphModule:
    """The model's graph (the submodules named in ``opaque`` as leaves); a model that
    cannot be traced names the line that stopped it."""
    tracer = _Tracer(opaque)
    try:
        graph = tracer.trace(model)
    except Exception as exc:  # fx raises TraceError, the model's code anything
        code, place = where(frames_of_exception(exc))
        at = f" at {place} (`{code}`)" if code else ""
        untraceable = Untraceable(
            f"cannot trace {name}{at}: {first_line(exc)}; cnnviz needs a network whose "
            "layers do not depend on the values it computes",
            model,
            place,
            code,
            first_line(exc),
        )
        # Inside a submodule of the person's own, that submodule alone is kept whole
        # (an Opaque layer, if TorchScript can script it); else the hooked view.
        unit = innermost_unit(tracer.module_stack.values())
        if unit is not None and unit not in opaque:
            raise Unexpressed(str(untraceable), unit, untraceable) from None
        raise untraceable from None
    return fx.GraphModule(tracer.root, graph)


class _Recorder(fx.Interpreter):
    """Runs the graph, keeping every node's value; names the node that failed."""

    def __init__(self, gm: fx.GraphModule) -> None:
        super().__init__(gm)
        self.values: dict[fx.Node, Any] = {}
        self.failed: fx.Node | None = None

    def run_node(self, n: fx.Node) -> Any:
        try:
            value = super().run_node(n)
        except Exception:
            self.failed = n
            raise
        self.values[n] = value
        return value


def measure(gm: fx.GraphModule, example: torch.Tensor, name: str) -> dict[fx.Node, Any]:
    """Every node's value on the example input; the wrong input size in one line."""
    recorder = _Recorder(gm)
    try:
        with torch.no_grad():
            recorder.run(example.clone())
    except Exception as exc:  # whatever the model raises for this input
        node = recorder.failed
        code, place = where(frames_of_text(node.stack_trace)) if node is not None else ("", "")
        at = f" at {place} (`{code}`)" if code else ""
        size = shape_text(example.shape[1:])
        raise ModelImportError(
            f"{name} does not take a {size} input{at}: {first_line(exc)}; "
            "give the input size it expects with --input C,H,W"
        ) from None
    return recorder.values


class _Converter(NodeKinds):
    """Reads the classified graph back from its output as nested paths."""

    def __init__(
        self, gm: fx.GraphModule, values: dict[fx.Node, Any], units: Units | None = None
    ) -> None:
        super().__init__(gm, values, units)
        self.order = {node: i for i, node in enumerate(gm.graph.nodes)}
        self.visited: set[fx.Node] = set()
        self._ancestors: dict[fx.Node, frozenset[fx.Node]] = {}

    # --- the graph as nested paths ----------------------------------------------

    def ancestors(self, node: fx.Node) -> frozenset[fx.Node]:
        """The node and every node its value is computed from (tensors only)."""
        found = self._ancestors.get(node)
        if found is None:
            stack, seen = [node], set()
            while stack:
                n = stack.pop()
                if n in seen:
                    continue
                seen.add(n)
                kind = self.kinds.get(n)
                if isinstance(kind, Chain):
                    stack.append(kind.input)
                elif isinstance(kind, Merge):
                    stack.extend(kind.inputs)
            found = self._ancestors[node] = frozenset(seen)
        return found

    def fork(self, inputs: list[fx.Node]) -> fx.Node:
        common = frozenset.intersection(*(self.ancestors(n) for n in inputs))
        return max(common, key=self.order.__getitem__)

    def path(self, end: fx.Node, start: fx.Node, depth: int) -> list[Any]:
        """The items from ``start`` (exclusive) to ``end``, in order."""
        items: list[Any] = []
        node = end
        while node is not start:
            if (
                node in self.visited
                or self.order[node] < self.order[start]
                or node not in self.kinds
            ):
                raise refuse(node if node in self.kinds else end, self._not_nested(start))
            self.visited.add(node)
            kind = self.kinds[node]
            if isinstance(kind, Chain):
                items.extend(reversed(kind.leaves))
                node = kind.input
            else:
                block, node = self._block(node, depth)
                items.append(block)
        items.reverse()
        return items

    def _not_nested(self, start: fx.Node) -> str:
        return (
            f"its output feeds more than one of the paths that split at `{start.name}`; "
            "cnnviz's blocks split and merge again without crossing"
        )

    def _merge_inputs(self, node: fx.Node, fork: fx.Node | None) -> list[fx.Node]:
        """A merge's inputs; chained adds of the same fork flattened ((a+b)+c → a, b, c)."""
        kind = self.kinds[node]
        inputs = list(kind.inputs)
        fork = fork or self.fork(inputs)
        if kind.kind != "add":
            return inputs
        out = []
        for n in inputs:
            inner = self.kinds.get(n)
            if (
                isinstance(inner, Merge)
                and inner.kind == "add"
                and n is not fork
                and len(n.users) == 1
                and self.fork(inner.inputs) is fork
            ):
                self.visited.add(n)
                out.extend(self._merge_inputs(n, fork))
            else:
                out.append(n)
        return out

    def _block(self, node: fx.Node, depth: int) -> tuple[_Block, fx.Node]:
        """The block a merge ends, and the node where its paths split."""
        kind = self.kinds[node]
        if depth >= MAX_NESTING:
            raise refuse(node, f"blocks nest at most {MAX_NESTING} deep in cnnviz")
        inputs = self._merge_inputs(node, None)
        fork = self.fork(inputs)
        paths = [self.path(n, fork, depth + 1) for n in inputs]
        if kind.kind == "add" and len(paths) == 2:
            # The body is the longer path; an add does not care about the order.
            body, shortcut = sorted(paths, key=len, reverse=True)
            return _Block(blocks.RESIDUAL, {}, [body, shortcut], node), fork
        merge = {} if kind.kind == "concat" else {"merge": "add"}
        return _Block(blocks.PARALLEL, merge, paths, node), fork


def _unvisited(converter: _Converter, result: fx.Node) -> fx.Node | None:
    """A node the output depends on that no path took (nodes it does not depend on
    are dead code; one that worked in place is caught by comparing the outputs)."""
    for node in converter.kinds:
        if node not in converter.visited and node in converter.ancestors(result):
            return node
    return None


def _layers(items: list[Any], prefix: str, sources: dict[str, Any]) -> list[Layer]:
    """Layers of ``items`` at addresses ``prefix`` + position; leaves' modules in ``sources``
    (a module name, or an Opaque operation's own module)."""
    layers = []
    for i, item in enumerate(items):
        address = f"{prefix}{i}"
        if isinstance(item, Leaf):
            if item.source is not None:
                sources[address] = item.source
            layers.append(item.layer)
            continue
        names = blocks.path_names(item.type, len(item.paths))
        paths = [
            _layers(path, f"{address}.{name}.", sources)
            for name, path in zip(names, item.paths, strict=True)
        ]
        layers.append(Layer.block(item.type, paths, **item.params))
    return layers


def convert_graph(
    gm: fx.GraphModule,
    values: dict[fx.Node, Any],
    name: str,
    shape: tuple[int, int, int],
    units: Units | None = None,
) -> tuple[Architecture, dict[str, Any]]:
    """The architecture of a measured graph, and each converted module's address (the
    module's name, or for an Opaque operation the module it runs); ``units``: the
    submodules kept whole (opaque_units.Units)."""
    converter = _Converter(gm, values, units)
    result = converter.classify()
    items = converter.path(result, converter.input, 0)
    left = _unvisited(converter, result)
    if left is not None:
        raise refuse(left, "its output is used where cnnviz's blocks cannot take it")
    sources: dict[str, Any] = {}
    try:
        layers = _layers(items, "", sources)
        arch = Architecture(name, InputShape(*shape), tuple(layers))
    except ArchitectureError as exc:
        raise ModelImportError(f"cannot import {name}: {exc}") from None
    return arch, sources
