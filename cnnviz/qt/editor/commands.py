"""Undoable edits of the document, one QUndoCommand each.

Layers are named by their flat index, their position in `Analysis.layers`
(pre-order: a block before the layers inside it; for a network without blocks
the row in the stack). The structural edits go through core/tree_edits.py,
and hand-set kernels follow their layer through its address map.

Every command stores the document state before and after (states are frozen
and share their unchanged layers, so this is cheap) and the rows to select
after redo and after undo. The helpers return None when there is nothing to
do, so a no-op never lands on the undo stack.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
from PySide6.QtGui import QUndoCommand

from cnnviz.core import linearize, stack_edits, tree_edits
from cnnviz.core.architecture import Architecture, ArchitectureError, InputShape, Layer
from cnnviz.core.blocks import RESIDUAL
from cnnviz.core.catalogue import layer_type
from cnnviz.core.jobs import KernelEdit
from cnnviz.core.project import kernel_edit_problem
from cnnviz.qt.editor.document import Document, DocumentState

# Consecutive commands with the same id and target merge (typing in a spin box).
SET_PARAM_ID = 1001
SET_INPUT_ID = 1002

log = logging.getLogger(__name__)


def _fitting_edits(arch: Architecture, edits: Iterable[KernelEdit]) -> tuple[KernelEdit, ...]:
    """Hand-set kernels that still fit their layer (a changed kernel size drops them)."""
    return tuple(e for e in edits if kernel_edit_problem(arch, e) is None)


def _same_edits(a: Sequence[KernelEdit], b: Sequence[KernelEdit]) -> bool:
    # KernelEdit holds arrays, so dataclass equality would be ambiguous.
    return len(a) == len(b) and all(
        x is y
        or (
            (x.layer, x.out_channel, x.bias) == (y.layer, y.out_channel, y.bias)
            and np.array_equal(x.kernel, y.kernel)
        )
        for x, y in zip(a, b, strict=True)
    )


def same_state(a: DocumentState, b: DocumentState) -> bool:
    return (
        a.architecture == b.architecture
        and a.weights == b.weights
        and _same_edits(a.kernel_edits, b.kernel_edits)
    )


class StateCommand(QUndoCommand):
    """Switches the document between two states."""

    def __init__(
        self,
        doc: Document,
        text: str,
        after: DocumentState,
        select_after: Sequence[int],
        select_before: Sequence[int] | None = None,
    ):
        super().__init__(text)
        self.doc = doc
        self.before = doc.state
        self.after = replace(
            after, kernel_edits=_fitting_edits(after.architecture, after.kernel_edits)
        )
        self.select_after = list(select_after)
        self.select_before = list(select_before if select_before is not None else select_after)

    def redo(self) -> None:
        self.doc.apply_state(self.after, self.select_after)

    def undo(self) -> None:
        self.doc.apply_state(self.before, self.select_before)


def _structural(
    doc: Document, text: str, edit: tree_edits.TreeEdit, selected: Sequence[int]
) -> StateCommand:
    """A command to the edited tree. Hand-set kernels follow their layer: flat
    index → address (old tree) → mapped address → flat index (new tree); those
    of removed layers are dropped."""
    state = doc.state
    index_map = tree_edits.flat_index_map(state.architecture, edit)
    after = DocumentState(
        edit.architecture,
        stack_edits.remap_kernel_edits(state.kernel_edits, index_map),
        state.weights,
    )
    new_index = {a: i for i, a in enumerate(tree_edits.flat_addresses(edit.architecture))}
    return StateCommand(doc, text, after, [new_index[a] for a in edit.selected], selected)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}s" if count != 1 else word


def _outermost(doc: Document, rows: Sequence[int]) -> list[int]:
    """The rows less those inside another chosen block (it counts with them)."""
    layers = doc.analysis.layers
    chosen = [layers[row].address for row in rows]
    return [
        row
        for row, a in zip(rows, chosen, strict=True)
        if not any(a.startswith(f"{other}.") for other in chosen)
    ]


def _what(doc: Document, rows: Sequence[int]) -> str:
    """ "Conv2d" for one layer (or block), "3 layers" for more."""
    outer = _outermost(doc, rows)
    if len(outer) == 1:
        return doc.analysis.layers[outer[0]].layer.type
    return _plural(len(outer), "layer")


def _layers(doc: Document, rows: Sequence[int]) -> str:
    """ "layer", "3 layers": a block counts once with what it holds."""
    return _plural(len(_outermost(doc, rows)), "layer")


def _addresses(doc: Document, rows: Iterable[int]) -> list[str]:
    """Flat indices (pre-order, as Analysis.layers) → addresses."""
    layers = doc.analysis.layers
    for row in rows:
        if not 0 <= row < len(layers):
            raise IndexError(f"row {row} is outside the network of {len(layers)} layers")
    return [layers[row].address for row in rows]


def _path_words(container: str) -> str:
    """ "3.body" → "the body of layer 3"; "6.branches.2" → "branch 2 of layer 6"."""
    parts = container.split(".")
    if parts[-2] == "branches":
        return f"branch {parts[-1]} of layer {'.'.join(parts[:-2])}"
    return f"the {parts[-1]} of layer {'.'.join(parts[:-1])}"


def insert_layers(
    doc: Document, position: int, layers: Sequence[Layer], container: str = ""
) -> StateCommand | None:
    """`layers` before `position` of the top-level stack or of a block's path
    (`container`: "3.body", "3.shortcut", "6.branches.1")."""
    if not layers:
        return None
    edit = tree_edits.insert(doc.architecture, container, position, layers)
    names = layers[0].type if len(layers) == 1 else _plural(len(layers), "layer")
    where = f" into {_path_words(container)}" if container else ""
    return _structural(doc, f"Insert {names}{where}", edit, [])


def new_layer(type_name: str) -> Layer:
    """A layer of this type with sensible values for its required parameters."""
    spec = layer_type(type_name)
    starters = {"out_channels": 16, "kernel_size": 3, "out_features": 10, "size": 5}
    required = {p.name: starters.get(p.name, 2) for p in spec.params if p.required}
    required.update(spec.starter)  # the type's own (AdaptiveAvgPool2d 1×1, Upsample ×2, ...)
    return Layer.make(type_name, **required)


def remove_rows(doc: Document, rows: Iterable[int]) -> StateCommand | None:
    """Layers (flat indices) removed; a block goes with everything it holds."""
    rows = sorted(set(rows))
    if not rows:
        return None
    edit = tree_edits.remove(doc.architecture, _addresses(doc, rows))
    return _structural(doc, f"Delete {_what(doc, rows)}", edit, rows)


def _stays_put(edit: tree_edits.TreeEdit) -> bool:
    """No layer changes place. Not "the layers are equal": swapping two identical
    layers still moves a hand-set kernel with its layer."""
    return all(old == new for old, new in edit.address_map.items())


def _move(doc: Document, rows: list[int], edit_of) -> StateCommand | None:
    if not rows:
        return None
    try:
        edit = edit_of(_addresses(doc, rows))
    except ArchitectureError as exc:  # into itself, across paths: a refused drop
        log.info("move refused: %s", exc)
        return None
    if _stays_put(edit):
        return None
    return _structural(doc, f"Move {_layers(doc, rows)}", edit, rows)


def move_rows(
    doc: Document, rows: Iterable[int], position: int, container: str = ""
) -> StateCommand | None:
    """Layers (flat indices, from any paths) moved before `position` of `container`,
    counted before they leave (a drop indicator). None when nothing moves or the
    move is impossible (a block into itself)."""
    arch = doc.architecture
    return _move(
        doc,
        sorted(set(rows)),
        lambda addresses: tree_edits.move(arch, addresses, container, position),
    )


def move_rows_by(doc: Document, rows: Iterable[int], step: int) -> StateCommand | None:
    """Alt+Up/Down: the layers one place up or down within their path."""
    arch = doc.architecture
    return _move(
        doc, sorted(set(rows)), lambda addresses: tree_edits.move_by(arch, addresses, step)
    )


def duplicate_rows(doc: Document, rows: Iterable[int]) -> StateCommand | None:
    rows = sorted(set(rows))
    if not rows:
        return None
    edit = tree_edits.duplicate(doc.architecture, _addresses(doc, rows))
    return _structural(doc, f"Duplicate {_layers(doc, rows)}", edit, rows)


def wrap_rows(
    doc: Document, rows: Iterable[int], type_name: str = RESIDUAL, **params: Any
) -> StateCommand | None:
    """Adjacent layers of one path wrapped in a new block (a Residual's body or a
    Parallel's one branch). ArchitectureError says why they cannot be."""
    rows = sorted(set(rows))
    if not rows:
        return None
    edit = tree_edits.wrap(doc.architecture, _addresses(doc, rows), type_name, **params)
    kind = "residual" if type_name == RESIDUAL else "parallel"
    return _structural(doc, f"Wrap {_what(doc, rows)} in a {kind} block", edit, rows)


def unwrap_row(doc: Document, row: int) -> StateCommand:
    """A block replaced by its first path (the body, branch 0)."""
    (address,) = _addresses(doc, [row])
    edit = tree_edits.unwrap(doc.architecture, address)
    kind = doc.analysis.layers[row].layer.type.lower()
    return _structural(doc, f"Unwrap {kind} block", edit, [row])


def add_branch(doc: Document, row: int) -> StateCommand:
    """An empty branch at the end of the Parallel block at `row`."""
    (address,) = _addresses(doc, [row])
    edit = tree_edits.add_branch(doc.architecture, address)
    return _structural(doc, f"Add a branch to layer {address}", edit, [row])


def remove_branch(doc: Document, row: int, k: int) -> StateCommand:
    """Branch `k` of the Parallel block at `row`, with its layers."""
    (address,) = _addresses(doc, [row])
    edit = tree_edits.remove_branch(doc.architecture, address, k)
    return _structural(doc, f"Remove branch {k} of layer {address}", edit, [row])


def set_merge(doc: Document, row: int, merge: str) -> SetParamCommand | None:
    """How the Parallel block at `row` merges its branches ("concat", "add")."""
    if doc.analysis.layers[row].layer.get("merge") == merge:
        return None
    return SetParamCommand(doc, row, "merge", merge)


def remove_activations(doc: Document) -> StateCommand | None:
    """Every activation layer removed, inside blocks too, as ONE undo step."""
    count = len(linearize.activation_addresses(doc.architecture))
    if not count:
        return None
    edit = linearize.remove_activations(doc.architecture)
    return _structural(doc, f"Remove every activation ({count})", edit, [])


def replace_max_pools(doc: Document) -> StateCommand | None:
    """Every max pool made the average pool of its windows, as ONE undo step.
    ArchitectureError when one has no such twin (a dilated max pool)."""
    if not linearize.max_pool_addresses(doc.architecture):
        return None
    edit = linearize.replace_max_pools(doc.architecture)
    return _structural(doc, "Replace max pooling by average pooling", edit, [])


def replace_architecture(
    doc: Document, arch: Architecture, text: str, weights: str | None = None
) -> StateCommand:
    """A whole new stack (a preset): kernels set by hand do not carry over."""
    after = DocumentState(arch, (), weights)
    return StateCommand(doc, text, after, [0] if arch.layers else [], [])


def set_weights(doc: Document, path: str | None, text: str) -> StateCommand | None:
    if path == doc.weights_path:
        return None
    return StateCommand(doc, text, replace(doc.state, weights=path), [])


def set_kernel(doc: Document, edit: KernelEdit) -> StateCommand:
    """Set one output channel's kernel by hand (replacing an earlier one)."""
    kept = [
        e for e in doc.kernel_edits if (e.layer, e.out_channel) != (edit.layer, edit.out_channel)
    ]
    after = replace(doc.state, kernel_edits=(*kept, edit))
    where = doc.analysis.layers[edit.layer].address
    text = f"Set kernel of layer {where}, channel {edit.out_channel}"
    return StateCommand(doc, text, after, [edit.layer])


def clear_kernels(doc: Document, layer: int | None = None) -> StateCommand | None:
    kept = tuple(e for e in doc.kernel_edits if layer is not None and e.layer != layer)
    if kept == doc.kernel_edits:
        return None
    select = [layer] if layer is not None else []
    return StateCommand(
        doc, "Restore learned kernels", replace(doc.state, kernel_edits=kept), select
    )


def _layer_with(layer: Layer, name: str, value: Any) -> Layer:
    """`layer` with one parameter set; a default value is dropped from the file.
    A block keeps what it holds.

    The value is checked before it is compared with the default: 1 equals True
    and 1.0 equals 1, yet neither is a value of that parameter."""
    param = layer_type(layer.type).param(name)
    checked = layer.with_params(**{name: value})
    if param.required or checked.params[name] != param.default:
        return checked
    kept = {k: v for k, v in checked.params.items() if k != name}
    return replace(Layer.make(layer.type, **kept), paths=layer.paths)


class SetParamCommand(StateCommand):
    """One parameter of one layer; consecutive edits of it merge into one step."""

    def __init__(self, doc: Document, row: int, name: str, value: Any):
        """`row` is the layer's flat index (Analysis.layers), at any depth.
        Raises ArchitectureError when the value is not accepted."""
        info = doc.analysis.layers[row]
        edited = _layer_with(info.layer, name, value)
        edit = tree_edits.replace(doc.architecture, info.address, edited)
        after = replace(doc.state, architecture=edit.architecture)
        super().__init__(doc, f"Set {edited.type} {name}", after, [row])
        self.row, self.name = row, name

    def id(self) -> int:
        return SET_PARAM_ID

    def mergeWith(self, other: QUndoCommand) -> bool:
        if not isinstance(other, SetParamCommand) or (other.row, other.name) != (
            self.row,
            self.name,
        ):
            return False
        self.after = other.after
        # Typing a value and back again leaves nothing to undo.
        self.setObsolete(same_state(self.after, self.before))
        return True


class SetInputCommand(StateCommand):
    """The network input's shape; consecutive edits merge."""

    def __init__(self, doc: Document, shape: InputShape):
        after = replace(doc.state, architecture=doc.architecture.with_input(shape))
        super().__init__(doc, "Set input shape", after, [])
        self.select_after = self.select_before = None  # keep the selection as it is

    def redo(self) -> None:
        self.doc.apply_state(self.after, None)

    def undo(self) -> None:
        self.doc.apply_state(self.before, None)

    def id(self) -> int:
        return SET_INPUT_ID

    def mergeWith(self, other: QUndoCommand) -> bool:
        if not isinstance(other, SetInputCommand):
            return False
        self.after = other.after
        self.setObsolete(same_state(self.after, self.before))
        return True
