"""What cnnviz cannot express, kept as Opaque layers (issue 18).

Nothing of an imported model is dropped. A part cnnviz has no layer for
becomes one Opaque layer (core/layers/opaque.py) that runs the original as a
TorchScript program, with the shapes and parameter count measured here. The
part is:

* a module of a type cnnviz does not know (``nn.LayerNorm``, ``nn.Conv1d``),
  called on one tensor: that module;
* anything cnnviz refuses inside a person's own submodule: the innermost such
  submodule that holds it. ``Unexpressed`` names it, and the import traces
  again with it as a leaf (model_import.import_module, a bounded loop);
* an operation at the top level (``torch.sigmoid(x) * x``, ``x * 2``): the
  operation together with every node between it and the point its inputs
  split from (their latest common ancestor), made into a small
  ``fx.GraphModule``, provided nothing inside is used elsewhere.

What cannot become such a unit (an operation whose paths cross others, a
module TorchScript can neither script nor trace) is still refused in one line.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
import torch.fx as fx
from torch import nn

from cnnviz.compute.importers import ModelImportError, first_line
from cnnviz.compute.importers.module_layers import CONTAINERS
from cnnviz.compute.programs import ProgramError, compile_module, encode
from cnnviz.core.architecture import ArchitectureError, Layer
from cnnviz.core.layers.opaque import MAX_LABEL_CHARS, MAX_PROGRAM_CHARS

if TYPE_CHECKING:
    from cnnviz.compute.importers.node_kinds import NodeKinds

# Each retrace makes one more submodule opaque; a model has fewer than this many.
MAX_UNITS = 256


class Unexpressed(ModelImportError):
    """A refusal inside the person's submodule ``unit`` (its module path): the next
    trace keeps that submodule whole, as one opaque layer. ``untraceable``: torch.fx
    could not trace the submodule, and this is what the import ends in if TorchScript
    cannot script it either (the read-only hooked view)."""

    def __init__(self, message: str, unit: str, untraceable: ModelImportError | None = None):
        super().__init__(message)
        self.unit, self.untraceable = unit, untraceable


@dataclass(frozen=True)
class Units:
    """The submodules an import keeps whole beyond the unknown modules: those torch.fx
    could not trace (``script_only``: a trace would keep one branch), and in an
    exported program's graph, which cannot be traced again, those whose nodes
    become one Opaque layer (``collapsed``)."""

    script_only: frozenset[str] = frozenset()
    collapsed: frozenset[str] = frozenset()


class Unkept(ModelImportError):
    """A part cnnviz has no type for that cannot be kept as an Opaque layer either;
    ``unit``: the module's path, where it is a module."""

    unit: str | None = None


def innermost_unit(stack, skip: str | None = None) -> str | None:
    """The innermost of the person's own submodules in a module stack ((path, class)
    pairs, outermost first; containers and ``skip`` do not count), or None."""
    for path, cls in reversed([value[:2] for value in stack]):
        if path == skip:
            continue
        if not isinstance(path, str):
            return None
        if path and not _is_container(cls):
            return path
    return None


def _is_container(cls) -> bool:
    """A class, or in an exported program's stack its qualified name."""
    if isinstance(cls, type):
        return issubclass(cls, CONTAINERS)
    return str(cls).rpartition(".")[2] in {c.__name__ for c in CONTAINERS}


def _stack_paths(node: fx.Node) -> list[str]:
    return [value[0] for value in (node.meta.get("nn_module_stack") or {}).values()]


def collapsed_unit(node: fx.Node, collapsed: frozenset[str]) -> str | None:
    """The outermost of the ``collapsed`` submodules whose forward made ``node``."""
    return next((path for path in _stack_paths(node) if path in collapsed), None)


def _in_unit(node: fx.Node, unit: str) -> bool:
    """Whether ``unit``'s forward made ``node``."""
    return unit in _stack_paths(node)


def is_unit_output(node: fx.Node, unit: str) -> bool:
    """Whether a node of ``unit`` is used outside it (what the unit gives)."""
    return any(not _in_unit(user, unit) for user in node.users)


def unit_layer(kinds: NodeKinds, node: fx.Node, unit: str):
    """(where it starts, the Opaque layer of every node of ``unit`` up to ``node``):
    a submodule of an exported program's graph, kept whole."""
    members = [n for n in kinds.gm.graph.nodes if _in_unit(n, unit)]
    inputs: list[fx.Node] = []
    for n in members:
        for arg in n.all_input_nodes:
            outside = not _in_unit(arg, unit)
            if outside and kinds.is_tensor(arg) and arg.op != "get_attr" and arg not in inputs:
                inputs.append(arg)
    stack = (node.meta.get("nn_module_stack") or {}).values()
    cls = next((value[1] for value in stack if value[0] == unit), "")
    label = getattr(cls, "__name__", str(cls).rpartition(".")[2]) or unit
    found = region(kinds, node, inputs, strip=f"{unit}.")
    if found is None:
        raise Unkept(
            f"cannot import: {label} `{unit}` is no cnnviz layer, and what it "
            "computes is used elsewhere too"
        )
    start, module = found
    layer = opaque_layer(module, kinds.values[start], kinds.values[node], label, unit)
    return start, (module, f"{unit}."), layer


def enclosing_unit(node: fx.Node) -> str | None:
    """The innermost of the person's own submodules whose forward made ``node``
    (containers and the node's own module do not count), or None at the top level."""
    stack = (node.meta.get("nn_module_stack") or {}).values()
    return innermost_unit(stack, node.target if node.op == "call_module" else None)


def _clip(text: str) -> str:
    return text if len(text) <= MAX_LABEL_CHARS else text[: MAX_LABEL_CHARS - 1] + "…"


def opaque_layer(
    module: nn.Module,
    example: torch.Tensor,
    output: torch.Tensor,
    label: str,
    source: str,
    *,
    allow_trace: bool = True,
) -> Layer:
    """The Opaque layer running ``module``, measured on ``example`` (batched) giving
    ``output``; ModelImportError when TorchScript cannot hold it."""
    what = f"{label} `{source}`" if source else label
    try:
        program = compile_module(module, example, allow_trace=allow_trace)
    except ProgramError as exc:
        raise Unkept(f"cannot import: {what} is no cnnviz layer and {exc}") from None
    _check_program(program, module, example, what)
    text = encode(program)
    if len(text) > MAX_PROGRAM_CHARS:
        raise Unkept(
            f"cannot import: {what} is no cnnviz layer, and kept whole as TorchScript it "
            f"takes {len(text) / 2**20:.0f} MB, over cnnviz's {MAX_PROGRAM_CHARS // 2**20} MB"
        )
    try:
        return Layer.make(
            "Opaque",
            label=_clip(label),
            source=_clip(source),
            program=text,
            in_shape=tuple(example.shape[1:]),
            out_shape=tuple(output.shape[1:]),
            params=sum(p.numel() for p in module.parameters()),
        )
    except ArchitectureError as exc:  # a size past the type's bounds
        raise Unkept(f"cannot import: {what}: {exc}") from None


def _check_program(program: nn.Module, module: nn.Module, example: torch.Tensor, what: str):
    """The program must compute what the module does on another input too, one image
    as the window gives it: a trace keeps what it could not record as constants."""
    generator = torch.Generator().manual_seed(1)
    other = torch.randn((1, *example.shape[1:]), generator=generator, dtype=example.dtype)
    try:
        with torch.no_grad():
            want, got = module(other.clone()), program(other.clone())
    except Exception as exc:  # the module's own code, or the program's, on one image
        raise Unkept(
            f"cannot import: {what} is no cnnviz layer, and it fails on one image "
            f"({first_line(exc)})"
        ) from None
    if got.shape != want.shape or not torch.allclose(got, want, rtol=1e-4, atol=1e-5):
        raise Unkept(
            f"cannot import: {what} is no cnnviz layer, and its TorchScript computes other "
            "values than it on another input (torch.jit.trace kept some as constants)"
        )


def _ancestors(node: fx.Node) -> set[fx.Node]:
    """The node and every node its value is computed from."""
    seen: set[fx.Node] = set()
    stack = [node]
    while stack:
        n = stack.pop()
        if n not in seen:
            seen.add(n)
            stack.extend(n.all_input_nodes)
    return seen


def _fork(kinds: NodeKinds, tensors: list[fx.Node]) -> fx.Node | None:
    """The latest tensor node every input is computed from (for one input, itself)."""
    common = set.intersection(*(_ancestors(n) for n in tensors))
    order = {n: i for i, n in enumerate(kinds.gm.graph.nodes)}
    candidates = [n for n in common if kinds.is_tensor(n) and n.op != "get_attr"]
    return max(candidates, key=order.__getitem__, default=None)


def region(kinds: NodeKinds, node: fx.Node, tensors: list[fx.Node], strip: str = ""):
    """(where it starts, an fx.GraphModule computing ``node`` from there), or None
    when the nodes in between are also used outside it. The module holds what it
    reads under the model's names less ``strip`` (``stage.norm.``)."""
    start = _fork(kinds, tensors) if tensors else None
    if start is None:
        return None
    inside = _ancestors(node) - _ancestors(start)
    for n in inside:
        used_outside = n is not node and n.op != "get_attr" and not set(n.users) <= inside
        if n.op == "placeholder" or used_outside:
            return None
    # The parameters it reads (an exported program's are get_attr nodes before it too).
    attrs = {a for n in inside for a in n.all_input_nodes if a.op == "get_attr"}
    graph = fx.Graph()
    env: dict[fx.Node, Any] = {start: graph.placeholder("x")}
    held: dict[str, Any] = {}  # its submodules and tensors, by their names in it
    try:
        for n in kinds.gm.graph.nodes:
            if n in inside or n in attrs:
                copied = env[n] = graph.node_copy(n, env.__getitem__)
                if n.op in ("get_attr", "call_module"):
                    copied.target = str(n.target).removeprefix(strip)
                    held[copied.target] = _attribute(kinds.gm, str(n.target))
    except KeyError:  # it reads a value from before the split (x.size(0) of the input)
        return None
    graph.output(env[node])
    return start, fx.GraphModule(held, graph)


def _attribute(module: nn.Module, target: str) -> Any:
    for name in target.split("."):
        module = getattr(module, name)
    return module


def kind_of(module: nn.Module) -> str:
    """Its class name; a scripted or traced module's is the class it was made from
    (``Conv2d``, ``MyNet``), not ``RecursiveScriptModule``."""
    return getattr(module, "original_name", type(module).__name__)


def module_layer(kinds: NodeKinds, node: fx.Node, source: fx.Node) -> Layer:
    """A module of a type cnnviz does not know, called on one tensor, as an Opaque layer."""
    module = kinds.gm.get_submodule(node.target)
    path = str(node.target)
    try:
        return opaque_layer(
            module,
            kinds.values[source],
            kinds.values[node],
            kind_of(module),
            path,
            allow_trace=path not in kinds.units.script_only,
        )
    except Unkept as exc:
        exc.unit = path
        raise
