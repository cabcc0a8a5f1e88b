"""Edits of a network that may hold blocks, as pure functions.

The tree counterpart of stack_edits.py. Layers are named by their address,
torch's module name ("3", "3.body.0", "6.branches.2.1"); a *container* is
where a run of layers lives: "" (the top-level stack), "3.body",
"3.shortcut", "6.branches.2".

Every edit returns a `TreeEdit`: the new architecture, the addresses of the
inserted, moved or wrapped layers (the selection after the edit) and, for
every layer that survives, its old address → its new address, so that
hand-set kernels and the selection follow their layer. Invalid edits raise
ArchitectureError with a one-line reason. On a network without blocks every
edit does exactly what stack_edits does (same rows, same index maps).

Each edit copies the tree into mutable nodes that remember their old
address, changes the node lists, and reads the map off the new tree: moves
and wraps then need no address arithmetic of their own.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from dataclasses import replace as dc_replace
from typing import Any

from cnnviz.core import blocks
from cnnviz.core.architecture import Architecture, ArchitectureError, Layer


@dataclass(frozen=True)
class TreeEdit:
    architecture: Architecture
    # Addresses (in the new tree) of the inserted, moved, duplicated or
    # wrapped layers, or what to select after a removal.
    selected: tuple[str, ...]
    # Old address → new address, for every layer that is still there.
    address_map: dict[str, str]


def container_of(address: str) -> tuple[str, int]:
    """("3.body", 0) for "3.body.0"; ("", 3) for "3"."""
    container, _, position = address.rpartition(".")
    if not position.isdigit():
        raise ArchitectureError(f"{address!r} is not a layer address")
    return container, int(position)


def layer_at(arch: Architecture, address: str) -> Layer:
    for where, layer in arch.walk():
        if where == address:
            return layer
    raise ArchitectureError(f"there is no layer {address} in this network")


def layers_in(arch: Architecture, container: str) -> tuple[Layer, ...]:
    if container == "":
        return arch.layers
    return tuple(node.layer for node in _Tree(arch).container(container))


def flat_addresses(arch: Architecture) -> tuple[str, ...]:
    """Every address in pre-order: position i is `Analysis.layers[i].address`."""
    return tuple(address for address, _ in arch.walk())


def flat_index_map(old: Architecture, edit: TreeEdit) -> dict[int, int]:
    """Old flat index → new flat index (pre-order, as Analysis.layers) for
    every layer that survives `edit`: what hand-set kernels follow."""
    new_index = {a: i for i, a in enumerate(flat_addresses(edit.architecture))}
    return {
        i: new_index[edit.address_map[a]]
        for i, a in enumerate(flat_addresses(old))
        if a in edit.address_map
    }


@dataclass(eq=False)
class _Node:
    """A layer while an edit rearranges the tree; `old` is its address before."""

    layer: Layer
    paths: list[list[_Node]] = field(default_factory=list)
    old: str | None = None
    mark: bool = False


def _nodes(layers: Iterable[Layer], prefix: str | None) -> list[_Node]:
    """Nodes for `layers`; prefix None makes new ones (no old address)."""
    out = []
    for i, layer in enumerate(layers):
        address = None if prefix is None else f"{prefix}{i}"
        node = _Node(layer, old=address)
        for name, path in zip(layer.path_names, layer.paths, strict=True):
            node.paths.append(_nodes(path, None if address is None else f"{address}.{name}."))
        out.append(node)
    return out


def _fresh(layer: Layer) -> _Node:
    if layer.type == blocks.RESIDUAL and len(layer.paths) != 2:
        raise ArchitectureError("Residual: needs exactly two paths, body and shortcut")
    if layer.type == blocks.PARALLEL and not layer.paths:
        raise ArchitectureError("Parallel: needs at least one branch")
    return _nodes([layer], None)[0]


def _copy(node: _Node) -> _Node:
    return _Node(node.layer, [[_copy(n) for n in path] for path in node.paths])


def _names(node: _Node) -> tuple[str, ...]:
    return blocks.path_names(node.layer.type, len(node.paths)) if node.layer.is_block else ()


def _describe(node: _Node) -> str:
    return f"layer {node.old} {node.layer.type}"


class _Tree:
    """The network as nodes, with every address and container looked up."""

    def __init__(self, arch: Architecture) -> None:
        self.arch = arch
        self.top = _nodes(arch.layers, "")
        self.containers: dict[str, list[_Node]] = {"": self.top}
        self.nodes: dict[str, _Node] = {}
        self.holder: dict[int, list[_Node]] = {}  # id(node) → the list holding it
        self.owner: dict[int, _Node] = {}  # id(list) → the block holding it
        self._index(self.top, "")

    def _index(self, nodes: list[_Node], prefix: str) -> None:
        for i, node in enumerate(nodes):
            address = f"{prefix}{i}"
            self.nodes[address] = node
            self.holder[id(node)] = nodes
            for name, path in zip(_names(node), node.paths, strict=True):
                self.containers[f"{address}.{name}"] = path
                self.owner[id(path)] = node
                self._index(path, f"{address}.{name}.")

    def container(self, name: str) -> list[_Node]:
        if name not in self.containers:
            raise ArchitectureError(
                f"there is no path {name!r} in this network (a path is '' for the stack, "
                "or a block's 'N.body', 'N.shortcut', 'N.branches.K')"
            )
        return self.containers[name]

    def node(self, address: str) -> _Node:
        if address not in self.nodes:
            raise ArchitectureError(f"there is no layer {address} in this network")
        return self.nodes[address]

    def block(self, address: str, type_name: str | None = None) -> _Node:
        node = self.node(address)
        if not node.layer.is_block or (type_name and node.layer.type != type_name):
            what = f"a {type_name} block" if type_name else "a block"
            raise ArchitectureError(f"{_describe(node)} is not {what}")
        return node

    def outermost(self, addresses: Iterable[str]) -> list[_Node]:
        """The nodes at `addresses` in pre-order, less those inside another one."""
        chosen = set(addresses)
        for address in chosen:
            self.node(address)
        order = {a: i for i, a in enumerate(self.nodes)}
        kept = [
            a
            for a in chosen
            if not any(a.startswith(other + ".") for other in chosen if other != a)
        ]
        return [self.nodes[a] for a in sorted(kept, key=order.__getitem__)]

    def position(self, node: _Node) -> int:
        return next(i for i, n in enumerate(self.holder[id(node)]) if n is node)

    def take_out(self, nodes: Iterable[_Node]) -> None:
        for node in nodes:
            holder = self.holder[id(node)]
            holder[:] = [n for n in holder if n is not node]

    def finish(self) -> TreeEdit:
        layers = tuple(_build(node, 0) for node in self.top)
        address_map: dict[str, str] = {}
        selected: list[str] = []
        _read_addresses(self.top, "", address_map, selected)
        return TreeEdit(self.arch.with_layers(layers), tuple(selected), address_map)


def _build(node: _Node, depth: int) -> Layer:
    if not node.layer.is_block:
        return node.layer
    if depth >= blocks.MAX_NESTING:
        raise ArchitectureError(f"blocks nest at most {blocks.MAX_NESTING} deep")
    paths = tuple(tuple(_build(n, depth + 1) for n in path) for path in node.paths)
    return dc_replace(node.layer, paths=paths)


def _read_addresses(nodes: list[_Node], prefix: str, mapping: dict, selected: list) -> None:
    for i, node in enumerate(nodes):
        address = f"{prefix}{i}"
        if node.old is not None:
            mapping[node.old] = address
        if node.mark:
            selected.append(address)
        for name, path in zip(_names(node), node.paths, strict=True):
            _read_addresses(path, f"{address}.{name}.", mapping, selected)


def _clamp(position: int, nodes: Sequence) -> int:
    return max(0, min(position, len(nodes)))


def insert(arch: Architecture, container: str, position: int, layers: Sequence[Layer]) -> TreeEdit:
    """`layers` inserted before `position` of `container` (clamped to 0..len)."""
    tree = _Tree(arch)
    target = tree.container(container)
    fresh = [_fresh(layer) for layer in layers]
    for node in fresh:
        node.mark = True
    at = _clamp(position, target)
    target[at:at] = fresh
    return tree.finish()


def remove(arch: Architecture, addresses: Iterable[str]) -> TreeEdit:
    """The layers removed (a block with what it holds). Selected after: what
    now sits where the first removed layer was, else the block it was in."""
    tree = _Tree(arch)
    gone = tree.outermost(addresses)
    if gone:
        holder, at = tree.holder[id(gone[0])], tree.position(gone[0])
        tree.take_out(gone)
        _select_at(tree, holder, at)
    return tree.finish()


def _select_at(tree: _Tree, holder: list[_Node], at: int) -> None:
    if holder:
        holder[min(at, len(holder) - 1)].mark = True
    elif id(holder) in tree.owner:
        tree.owner[id(holder)].mark = True


def move(arch: Architecture, addresses: Iterable[str], container: str, position: int) -> TreeEdit:
    """The layers (kept in their order) moved before `position` of `container`.

    `position` counts in the container before the moved layers are taken out,
    as a drop indicator between two rows does. Layers may come from any paths.
    """
    tree = _Tree(arch)
    target = tree.container(container)
    moving = tree.outermost(addresses)
    for node in moving:
        if container == node.old or container.startswith(f"{node.old}."):
            raise ArchitectureError(f"cannot move {_describe(node)} into itself")
    ids = {id(n) for n in moving}
    at = sum(1 for n in target[: _clamp(position, target)] if id(n) not in ids)
    tree.take_out(moving)
    for node in moving:
        node.mark = True
    target[at:at] = moving
    return tree.finish()


def move_by(arch: Architecture, addresses: Iterable[str], step: int) -> TreeEdit:
    """The layers moved one place up (step -1) or down (+1) within their path."""
    tree = _Tree(arch)
    moving = tree.outermost(addresses)
    if not moving:
        return tree.finish()
    container = _same_container(moving, "move")
    first, last = container_of(moving[0].old)[1], container_of(moving[-1].old)[1]
    length = len(tree.container(container))
    position = max(0, first + step) if step < 0 else min(length, last + 1 + step)
    return move(arch, [n.old for n in moving], container, position)


def _same_container(nodes: list[_Node], verb: str) -> str:
    containers = {container_of(n.old)[0] for n in nodes}
    if len(containers) > 1:
        raise ArchitectureError(f"can only {verb} layers of one path together")
    return containers.pop()


def duplicate(arch: Architecture, addresses: Iterable[str]) -> TreeEdit:
    """Copies of the layers, in order, right after the last of them in each path."""
    tree = _Tree(arch)
    by_holder: dict[int, list[_Node]] = {}
    for node in tree.outermost(addresses):
        by_holder.setdefault(id(tree.holder[id(node)]), []).append(node)
    for chosen in by_holder.values():
        holder = tree.holder[id(chosen[0])]
        copies = [_copy(n) for n in chosen]
        for node in copies:
            node.mark = True
        at = tree.position(chosen[-1]) + 1
        holder[at:at] = copies
    return tree.finish()


def replace(arch: Architecture, address: str, layer: Layer) -> TreeEdit:
    """The layer at `address` replaced (a parameter edit). The layers inside a
    block keep their addresses when its paths are unchanged."""
    tree = _Tree(arch)
    old = tree.node(address)
    new = _fresh(layer)
    new.old, new.mark = address, True
    if layer.is_block and layer.type == old.layer.type and layer.paths == old.layer.paths:
        new.paths = old.paths
    holder = tree.holder[id(old)]
    holder[tree.position(old)] = new
    return tree.finish()


def wrap(
    arch: Architecture, addresses: Iterable[str], type_name: str = blocks.RESIDUAL, **params: Any
) -> TreeEdit:
    """Adjacent layers of one path become the body of a new Residual (identity
    shortcut) or the one branch of a new Parallel; selected = the new block."""
    if not blocks.is_block(type_name):
        raise ArchitectureError(f"cannot wrap layers in {type_name!r}: not a block type")
    tree = _Tree(arch)
    inside = tree.outermost(addresses)
    if not inside:
        raise ArchitectureError("select the layers to wrap first")
    _same_container(inside, "wrap")
    positions = [tree.position(n) for n in inside]
    if positions != list(range(positions[0], positions[0] + len(positions))):
        raise ArchitectureError("can only wrap adjacent layers (no gaps between them)")
    n_paths = 2 if type_name == blocks.RESIDUAL else 1
    block = _Node(Layer.block(type_name, [()] * n_paths, **params), mark=True)
    block.paths = [list(inside)] + [[] for _ in range(n_paths - 1)]
    holder = tree.holder[id(inside[0])]
    holder[positions[0] : positions[-1] + 1] = [block]
    return tree.finish()


def unwrap(arch: Architecture, address: str) -> TreeEdit:
    """A block's first path (body, branch 0) put in its place; its other paths go."""
    tree = _Tree(arch)
    block = tree.block(address)
    holder, at = tree.holder[id(block)], tree.position(block)
    inner = block.paths[0]
    holder[at : at + 1] = inner
    for node in inner:
        node.mark = True
    if not inner:
        _select_at(tree, holder, at)
    return tree.finish()


def add_branch(arch: Architecture, address: str) -> TreeEdit:
    """An empty branch at the end of a Parallel block."""
    tree = _Tree(arch)
    block = tree.block(address, blocks.PARALLEL)
    block.paths.append([])
    block.mark = True
    return tree.finish()


def remove_branch(arch: Architecture, address: str, k: int) -> TreeEdit:
    """Branch `k` of a Parallel block removed, with its layers."""
    tree = _Tree(arch)
    block = tree.block(address, blocks.PARALLEL)
    if not 0 <= k < len(block.paths):
        raise ArchitectureError(f"{_describe(block)} has no branch {k}")
    if len(block.paths) == 1:
        raise ArchitectureError(f"{_describe(block)}: cannot remove its only branch")
    del block.paths[k]
    block.mark = True
    return tree.finish()
