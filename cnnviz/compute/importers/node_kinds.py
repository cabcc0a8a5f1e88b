"""The nodes of a traced, measured graph as cnnviz sees them.

A node is a ``Chain`` (layers applied to one input: a known module, a
functional call, a reshape that is a Flatten, none for a reshape that changes
nothing) or a ``Merge`` of paths (an ``add``, a ``cat`` along channels).
Anything else becomes an Opaque layer that runs the original (opaque_units):
a module of a type cnnviz lacks, an operation at the top level, and inside
the person's own submodule that whole submodule (``refuse`` then names it);
what cannot is refused with the model's source line. Helper nodes whose
value is no tensor (``x.size(0)``) are no layers.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.fx as fx
from torch import nn

from cnnviz.compute.importers import ModelImportError, frames_of_text, where
from cnnviz.compute.importers import aten_ops as aten
from cnnviz.compute.importers import functional as fn
from cnnviz.compute.importers import opaque_units as opaque
from cnnviz.compute.importers.module_layers import is_known, layer_of_module
from cnnviz.core.architecture import Layer

# What a line assigns to or returns, before its expression (an Opaque layer's label).
_ASSIGNED = re.compile(r"^(return\s+|[\w.\[\], ]+?\s*=(?!=)\s*)")
_COMMENT = re.compile(r"\s+#.*$")


@dataclass
class Leaf:
    layer: Layer
    node: fx.Node
    # The model's module name, for a call of a module; for an Opaque operation
    # the fx.GraphModule it runs (its state_dict keys are the model's own), or
    # that and the prefix its keys lack (a submodule of an exported program).
    source: str | nn.Module | tuple[nn.Module, str] | None


@dataclass
class Chain:
    """A node that is layers applied to one input (possibly none: a no-op)."""

    input: fx.Node
    leaves: list[Leaf]


@dataclass
class Merge:
    kind: str  # "add" or "concat"
    inputs: list[fx.Node]


def refuse(node: fx.Node, reason: str) -> ModelImportError:
    """The refusal of ``node``: inside the person's own submodule, an ``Unexpressed``
    naming it (the import then keeps that submodule whole, as an Opaque layer)."""
    code, place = where(frames_of_text(node.stack_trace))
    if code:
        message = f"cannot import: `{code}` at {place} ({reason})"
    else:
        what = f"`{node.target}`" if node.op == "call_module" else fn.op_name(node.target)
        message = f"cannot import: {what} ({reason})"
    unit = opaque.enclosing_unit(node)
    return ModelImportError(message) if unit is None else opaque.Unexpressed(message, unit)


def shape_text(shape) -> str:
    return "×".join(str(s) for s in shape)


class NodeKinds:
    """What each node of a measured graph is: layers on one input, or a merge."""

    def __init__(
        self, gm: fx.GraphModule, values: dict[fx.Node, Any], units: opaque.Units | None = None
    ) -> None:
        self.gm, self.values = gm, values
        self.kinds: dict[fx.Node, Chain | Merge] = {}
        self.units = units or opaque.Units()  # submodules kept whole (opaque_units)

    def is_tensor(self, node: Any) -> bool:
        return isinstance(node, fx.Node) and torch.is_tensor(self.values.get(node))

    def shape(self, node: fx.Node) -> tuple[int, ...]:
        return tuple(self.values[node].shape)

    # --- what each node is ---------------------------------------------------

    def classify(self) -> fx.Node:
        """Classify every node; the node whose value is the network's output."""
        inputs = [n for n in self.gm.graph.nodes if n.op == "placeholder"]
        if not inputs:
            raise ModelImportError("cannot import: forward() takes no input")
        extra = [n for n in inputs[1:] if n.users]
        if extra:
            raise ModelImportError(
                f"cannot import: forward() uses more than one input ({extra[0].name}); "
                "a cnnviz network takes one image"
            )
        self.input = inputs[0]
        output = None
        for node in self.gm.graph.nodes:
            if node.op == "output":
                output = node
            elif node.op in ("call_module", "call_function", "call_method") and self.is_tensor(
                node
            ):
                unit = opaque.collapsed_unit(node, self.units.collapsed)
                if unit is None:
                    self.kinds[node] = self._kind_or_opaque(node)
                elif opaque.is_unit_output(node, unit):  # the unit's nodes, as one layer
                    start, module, layer = opaque.unit_layer(self, node, unit)
                    self.kinds[node] = Chain(start, [Leaf(layer, node, module)])
        result = output.args[0] if output is not None else None
        if isinstance(result, list | tuple) and len(result) == 1:
            result = result[0]  # an exported program returns its outputs flattened
        if not self.is_tensor(result):
            raise refuse(output, "the model must return one tensor, not a tuple or dict")
        return result

    def _tensor_args(self, node: fx.Node) -> list[fx.Node]:
        found: list[fx.Node] = []
        fx.node.map_arg(
            (node.args, node.kwargs),
            lambda a: found.append(a) if self.is_tensor(a) and a.op != "get_attr" else a,
        )
        return found

    def _kind_or_opaque(self, node: fx.Node) -> Chain | Merge:
        """The node's kind; an operation cnnviz cannot express at the top level is
        kept, with what it needs back to where its inputs split, as one Opaque layer."""
        try:
            return self._kind(node)
        except (opaque.Unexpressed, opaque.Unkept):
            raise  # the submodule that holds it is kept whole instead; or nothing can be
        except ModelImportError:
            unit = opaque.region(self, node, self._tensor_args(node))
            if unit is None:
                raise
            start, module = unit
            code, place = where(frames_of_text(node.stack_trace))
            label = _COMMENT.sub("", _ASSIGNED.sub("", code)) or fn.op_name(node.target)
            layer = opaque.opaque_layer(module, self.values[start], self.values[node], label, place)
            return Chain(start, [Leaf(layer, node, module)])

    def _kind(self, node: fx.Node) -> Chain | Merge:
        tensors = self._tensor_args(node)
        if node.op == "call_module":
            return self._module(node, tensors)
        target = node.target
        if aten.is_aten(target):
            return self._aten(node, tensors)
        is_method = node.op == "call_method"
        if target in (fn.ADD_METHODS if is_method else fn.ADD_FUNCTIONS):
            return self._add(node, tensors)
        if not is_method and target in fn.CAT_FUNCTIONS:
            return self._cat(node, tensors)
        if target in (fn.RESHAPE_METHODS if is_method else fn.RESHAPE_FUNCTIONS):
            return self._reshape(node, tensors)
        if target in (fn.MEAN_METHODS if is_method else fn.MEAN_FUNCTIONS):
            return self._mean(node, tensors)
        table: dict = fn.METHODS if is_method else fn.FUNCTIONS
        stub = table.get(target)
        if stub is None:
            raise refuse(node, fn.refusal_reason(fn.op_name(target), len(tensors)))
        return self._call(node, tensors, stub)

    def _single_input(self, node: fx.Node, tensors: list[fx.Node]) -> fx.Node:
        first = node.args[0] if node.args else None
        if len(tensors) != 1 or first is not tensors[0]:
            raise refuse(node, f"{fn.op_name(node.target)} of these inputs is not a cnnviz layer")
        return first

    def _module(self, node: fx.Node, tensors: list[fx.Node]) -> Chain:
        module = self.gm.get_submodule(node.target)
        kind = (
            f"nn.{type(module).__name__}"
            if type(module).__module__.startswith("torch.nn")
            else type(module).__name__
        )
        source = self._single_input(node, tensors)
        if len(node.args) != 1 or node.kwargs:
            raise refuse(node, f"{kind} `{node.target}` is called with more than its input")
        if not is_known(module):  # kept as it is, running the original module
            return Chain(source, [Leaf(opaque.module_layer(self, node, source), node, node.target)])
        try:
            layer = layer_of_module(module, self.shape(source)[1:])
        except ValueError as exc:
            raise refuse(node, f"{kind} `{node.target}`: {exc}") from None
        return Chain(source, [Leaf(layer, node, str(node.target))])

    def _aten(self, node: fx.Node, tensors: list[fx.Node]) -> Chain | Merge:
        """An exported program's call (aten_ops): merges and reshapes as above, a layer
        from the table with its parameters' values, its weights from their module."""
        target = node.target
        if target in aten.ADD:
            return self._add(node, tensors)
        if target in aten.CAT:
            return self._cat(node, tensors)
        if target in aten.RESHAPE:
            return self._reshape(node, tensors)
        if target in aten.MEAN:
            return self._mean(node, tensors)
        stub = aten.LAYERS.get(target)
        if stub is None:
            raise refuse(node, fn.refusal_reason(str(target.overloadpacket), len(tensors)))
        source = self._single_input(node, tensors)
        held: list[fx.Node] = []
        fx.node.map_arg(
            (node.args, node.kwargs), lambda a: held.append(a) if a.op == "get_attr" else a
        )
        if len(tensors) + len(held) != len(_nodes(node)):
            raise refuse(node, f"an argument of {target} is computed from the input")
        owner = self._owner(node, held)

        def value(a):
            return self.values[a] if a.op == "get_attr" else a

        args = fx.node.map_arg(node.args, value)
        kwargs = fx.node.map_arg(node.kwargs, value)
        try:
            layers = stub(*args, **kwargs)
        except (TypeError, ValueError) as exc:  # Unsupported, ArchitectureError, bad call
            raise refuse(node, str(exc)) from None
        return Chain(
            source, [Leaf(layer, node, owner if i == 0 else None) for i, layer in enumerate(layers)]
        )

    def _owner(self, node: fx.Node, held: list[fx.Node]) -> str | None:
        """The module whose weights these parameters are: all of it, and only it."""
        if not held:
            return None
        owners = {str(a.target).rpartition(".")[0] for a in held}
        owner = owners.pop() if len(owners) == 1 else None
        if owner:
            state = set(self.gm.get_submodule(owner).state_dict())
            used = {str(a.target).rpartition(".")[2] for a in held}
            if used <= state and state - used <= {"num_batches_tracked"}:
                return owner
        raise refuse(node, "its parameters do not belong to one module of their own")

    def _call(self, node: fx.Node, tensors: list[fx.Node], stub: Callable) -> Chain:
        source = self._single_input(node, tensors)
        computed = []
        fx.node.map_arg((node.args[1:], node.kwargs), computed.append)
        if computed:
            raise refuse(
                node, f"an argument of {fn.op_name(node.target)} is computed from the input"
            )
        try:
            layers = stub(*node.args, **node.kwargs)
        except (TypeError, ValueError) as exc:  # fn.Unsupported, ArchitectureError, bad call
            raise refuse(node, str(exc)) from None
        return Chain(source, [Leaf(layer, node, None) for layer in layers])

    def _reshape(self, node: fx.Node, tensors: list[fx.Node]) -> Chain:
        source = self._single_input(node, tensors)
        before, after = self.shape(source), self.shape(node)
        if after == before:
            return Chain(source, [])
        if len(before) > 2 and after == (before[0], math.prod(before[1:])):
            return Chain(source, [Leaf(Layer.make("Flatten"), node, None)])
        raise refuse(
            node,
            f"it reshapes {shape_text(before)} into {shape_text(after)}; the only reshape "
            "cnnviz has is a Flatten that keeps the batch",
        )

    def _mean(self, node: fx.Node, tensors: list[fx.Node]) -> Chain:
        source = self._single_input(node, tensors)
        before, after = self.shape(source), self.shape(node)
        if len(before) == 4 and after in (before[:2], (*before[:2], 1, 1)):
            pool = Leaf(Layer.make("AdaptiveAvgPool2d", output_size=1), node, None)
            flat = [Leaf(Layer.make("Flatten"), node, None)] if len(after) == 2 else []
            return Chain(source, [pool, *flat])
        raise refuse(node, "only a mean over the whole map (dims 2 and 3) is a cnnviz layer")

    def _add(self, node: fx.Node, tensors: list[fx.Node]) -> Merge:
        extra = {k: v for k, v in node.kwargs.items() if k != "other"}
        if len(tensors) != 2 or len(node.args) + len(node.kwargs) != 2 or extra:
            raise refuse(node, "an add of a constant or with alpha is not a cnnviz layer")
        if self.shape(tensors[0]) != self.shape(tensors[1]):
            raise refuse(node, "an add that broadcasts is not a cnnviz layer")
        return Merge("add", list(tensors))

    def _cat(self, node: fx.Node, tensors: list[fx.Node]) -> Merge:
        parts = node.args[0] if node.args else node.kwargs.get("tensors")
        dim = node.args[1] if len(node.args) > 1 else node.kwargs.get("dim", 0)
        rank = len(self.shape(node))
        if not isinstance(parts, list | tuple) or not all(self.is_tensor(p) for p in parts):
            raise refuse(node, "cnnviz concatenates paths, not other values")
        if not isinstance(dim, int) or dim % rank != 1:
            raise refuse(node, f"a cat along dim {dim} is not along the channels (dim 1)")
        return Merge("concat", list(parts))


def _nodes(node: fx.Node) -> list[fx.Node]:
    found: list[fx.Node] = []
    fx.node.map_arg((node.args, node.kwargs), found.append)
    return found
