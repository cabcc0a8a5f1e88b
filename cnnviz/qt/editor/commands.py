"""Undoable edits of the document, one QUndoCommand each.

Every command stores the document state before and after (states are frozen
and share their unchanged layers, so this is cheap) and the rows to select
after redo and after undo. The helpers return None when there is nothing to
do, so a no-op never lands on the undo stack.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
from PySide6.QtGui import QUndoCommand

from cnnviz.core import stack_edits
from cnnviz.core.architecture import Architecture, InputShape, Layer
from cnnviz.core.catalogue import layer_type
from cnnviz.core.jobs import KernelEdit
from cnnviz.core.project import kernel_edit_problem
from cnnviz.qt.editor.document import Document, DocumentState

# Consecutive commands with the same id and target merge (typing in a spin box).
SET_PARAM_ID = 1001
SET_INPUT_ID = 1002


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
    doc: Document, text: str, edit: stack_edits.StackEdit, selected: Sequence[int]
) -> StateCommand:
    state = doc.state
    after = DocumentState(
        state.architecture.with_layers(edit.items),
        stack_edits.remap_kernel_edits(state.kernel_edits, edit.index_map),
        state.weights,
    )
    return StateCommand(doc, text, after, edit.rows, selected)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}s" if count != 1 else word


def insert_layers(doc: Document, position: int, layers: Sequence[Layer]) -> StateCommand | None:
    if not layers:
        return None
    edit = stack_edits.insert(doc.architecture.layers, position, layers)
    names = layers[0].type if len(layers) == 1 else _plural(len(layers), "layer")
    return _structural(doc, f"Insert {names}", edit, [])


def new_layer(type_name: str) -> Layer:
    """A layer of this type with sensible values for its required parameters."""
    spec = layer_type(type_name)
    starters = {"out_channels": 16, "kernel_size": 3, "out_features": 10, "size": 5}
    required = {p.name: starters.get(p.name, 2) for p in spec.params if p.required}
    if type_name == "AdaptiveAvgPool2d":
        required["output_size"] = 1
    return Layer.make(type_name, **required)


def remove_rows(doc: Document, rows: Iterable[int]) -> StateCommand | None:
    rows = sorted(set(rows))
    if not rows:
        return None
    edit = stack_edits.remove(doc.architecture.layers, rows)
    what = doc.architecture.layers[rows[0]].type if len(rows) == 1 else _plural(len(rows), "layer")
    return _structural(doc, f"Delete {what}", edit, rows)


def _stays_put(edit: stack_edits.StackEdit) -> bool:
    """No row changes place. Not "the layers are equal": swapping two identical
    layers still moves a hand-set kernel with its layer."""
    return all(old == new for old, new in edit.index_map.items())


def move_rows(doc: Document, rows: Iterable[int], position: int) -> StateCommand | None:
    rows = sorted(set(rows))
    edit = stack_edits.move(doc.architecture.layers, rows, position)
    if not rows or _stays_put(edit):
        return None
    return _structural(doc, f"Move {_plural(len(rows), 'layer')}", edit, rows)


def move_rows_by(doc: Document, rows: Iterable[int], step: int) -> StateCommand | None:
    rows = sorted(set(rows))
    edit = stack_edits.move_by(doc.architecture.layers, rows, step)
    if not rows or _stays_put(edit):
        return None
    return _structural(doc, f"Move {_plural(len(rows), 'layer')}", edit, rows)


def duplicate_rows(doc: Document, rows: Iterable[int]) -> StateCommand | None:
    rows = sorted(set(rows))
    if not rows:
        return None
    edit = stack_edits.duplicate(doc.architecture.layers, rows)
    return _structural(doc, f"Duplicate {_plural(len(rows), 'layer')}", edit, rows)


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
    text = f"Set kernel of layer {edit.layer}, channel {edit.out_channel}"
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

    The value is checked before it is compared with the default: 1 equals True
    and 1.0 equals 1, yet neither is a value of that parameter."""
    param = layer_type(layer.type).param(name)
    checked = layer.with_params(**{name: value})
    if param.required or checked.params[name] != param.default:
        return checked
    return Layer.make(layer.type, **{k: v for k, v in checked.params.items() if k != name})


class SetParamCommand(StateCommand):
    """One parameter of one layer; consecutive edits of it merge into one step."""

    def __init__(self, doc: Document, row: int, name: str, value: Any):
        """Raises ArchitectureError when the value is not accepted."""
        layers = list(doc.architecture.layers)
        layers[row] = _layer_with(layers[row], name, value)
        after = replace(doc.state, architecture=doc.architecture.with_layers(layers))
        super().__init__(doc, f"Set {layers[row].type} {name}", after, [row])
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
