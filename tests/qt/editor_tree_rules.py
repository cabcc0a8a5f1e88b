"""The tree edits of the editor's state machine (tests/qt/test_editor_stateful.py):
rules that work on any network, with or without blocks, whose model of each
edit is core/tree_edits.py (tested on its own, and against stack_edits on
plain stacks). The machine mixes them in and checks the commands, hand-set
kernels, undo history and torch around them.

Drop layers, empty blocks and templates into any path at any position;
delete; move into, out of and between paths (a block into itself is
refused); Alt+arrows within a path; duplicate; wrap in a residual or
parallel block (too deep is refused); unwrap; add and remove branches
(the only one is refused); set a merge.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import precondition, rule

from cnnviz.core import tree_edits
from cnnviz.core.architecture import Architecture, ArchitectureError, Layer
from cnnviz.core.blocks import PARALLEL, RESIDUAL
from cnnviz.core.jobs import KernelEdit
from cnnviz.core.project import kernel_edit_problem
from cnnviz.core.templates import ENTRIES
from cnnviz.qt.editor import commands
from cnnviz.qt.editor.document import DocumentState
from tests.layer_strategies import layer_types, layers

MAX_LAYERS = 48  # the largest plain preset has 40

# What the runs did, shown at the end of the test (-s).
STATS: Counter = Counter()


def fitting_edits(arch: Architecture, edits) -> tuple[KernelEdit, ...]:
    return tuple(e for e in edits if kernel_edit_problem(arch, e) is None)


def draw_rows(data, count: int) -> list[int]:
    return sorted(data.draw(st.sets(st.integers(0, count - 1), min_size=1, max_size=3)))


def _stays_put(arch: Architecture, edit: tree_edits.TreeEdit) -> bool:
    same = all(old == new for old, new in edit.address_map.items())
    return same and edit.architecture == arch


def flat_layers(arch: Architecture) -> list[Layer]:
    return [layer for _, layer in arch.walk()]


def _containers(arch: Architecture) -> list[str]:
    """ "" and every path of every block: where layers can be dropped."""
    return ["", *(f"{a}.{name}" for a, layer in arch.walk() for name in layer.path_names)]


class TreeRules:
    """Rules of the machine; it provides doc, flat, _push and _set_parameter."""

    # -- edits of the tree (any network; the model is tree_edits) ----------------

    def _expect(self, edit: tree_edits.TreeEdit | None) -> DocumentState:
        """The state after `edit` (None or no layer moving: nothing changes, no
        command); hand-set kernels follow their layer and stay where they fit."""
        state = self.doc.state
        if edit is None or _stays_put(state.architecture, edit):
            return state
        index_map = tree_edits.flat_index_map(state.architecture, edit)
        edits = state.kernel_edits
        kept = [replace(e, layer=index_map[e.layer]) for e in edits if e.layer in index_map]
        return DocumentState(
            edit.architecture, fitting_edits(edit.architecture, kept), state.weights
        )

    def _flat_rows(self, data) -> tuple[list[int], list[str]]:
        rows = draw_rows(data, len(self.flat))
        addresses = tree_edits.flat_addresses(self.doc.architecture)
        return rows, [addresses[r] for r in rows]

    def _target(self, data) -> tuple[str, int]:
        """A drop indicator: a path and a position in it."""
        arch = self.doc.architecture
        container = data.draw(st.sampled_from(_containers(arch)), label="into")
        length = len(tree_edits.layers_in(arch, container))
        return container, data.draw(st.integers(0, length), label="position")

    @precondition(lambda self: len(self.flat) < MAX_LAYERS)
    @rule(data=st.data())
    def drop_into_a_path(self, data):
        """Palette layers, empty blocks, templates or dragged layers into any path."""
        container, position = self._target(data)
        shape = self.doc.architecture.input.as_tuple()
        entries = st.sampled_from(sorted(ENTRIES)).map(lambda name: ENTRIES[name].make(shape))
        singles = st.one_of(layer_types.map(commands.new_layer), layers).map(lambda x: (x,))
        new = data.draw(st.one_of(entries, singles), label="dropped")
        edit = tree_edits.insert(self.doc.architecture, container, position, new)
        STATS["drops into a block" if container else "drops at the top"] += 1
        command = commands.insert_layers(self.doc, position, list(new), container)
        self._push(command, self._expect(edit))

    @precondition(lambda self: self.flat)
    @rule(data=st.data())
    def delete_anywhere(self, data):
        rows, addresses = self._flat_rows(data)
        edit = tree_edits.remove(self.doc.architecture, addresses)
        self._push(commands.remove_rows(self.doc, rows), self._expect(edit))

    @precondition(lambda self: self.flat)
    @rule(data=st.data())
    def move_anywhere(self, data):
        """Drag layers from any paths into, out of and between paths (a block
        dropped into itself is refused: no command)."""
        rows, addresses = self._flat_rows(data)
        container, position = self._target(data)
        try:
            edit = tree_edits.move(self.doc.architecture, addresses, container, position)
        except ArchitectureError:
            STATS["moves into itself refused"] += 1
            edit = None
        command = commands.move_rows(self.doc, rows, position, container)
        self._push(command, self._expect(edit))

    @precondition(lambda self: self.flat)
    @rule(data=st.data(), step=st.sampled_from([-1, 1]))
    def move_by_within_a_path(self, data, step):
        """Alt+Up / Alt+Down on layers of one path (of several paths: nothing)."""
        rows, addresses = self._flat_rows(data)
        try:
            edit = tree_edits.move_by(self.doc.architecture, addresses, step)
        except ArchitectureError:
            edit = None
        self._push(commands.move_rows_by(self.doc, rows, step), self._expect(edit))

    @precondition(lambda self: 0 < len(self.flat) < MAX_LAYERS)
    @rule(data=st.data())
    def duplicate_anywhere(self, data):
        rows, addresses = self._flat_rows(data)
        edit = tree_edits.duplicate(self.doc.architecture, addresses)
        self._push(commands.duplicate_rows(self.doc, rows), self._expect(edit))

    @precondition(lambda self: self.flat)
    @rule(data=st.data(), kind=st.sampled_from([RESIDUAL, PARALLEL]))
    def wrap(self, data, kind):
        """Adjacent layers of one path wrapped in a block (too deep: refused)."""
        arch = self.doc.architecture
        first = data.draw(st.sampled_from(tree_edits.flat_addresses(arch)), label="first")
        container, at = tree_edits.container_of(first)
        count = data.draw(st.integers(1, len(tree_edits.layers_in(arch, container)) - at))
        addresses = [f"{container}.{i}".lstrip(".") for i in range(at, at + count)]
        rows = [self.doc.index_of(a) for a in addresses]
        params = (
            {"merge": data.draw(st.sampled_from(["concat", "add"]))} if kind == PARALLEL else {}
        )
        try:
            edit = tree_edits.wrap(arch, addresses, kind, **params)
        except ArchitectureError:
            STATS["wraps refused"] += 1
            state, count = self.doc.state, self.doc.undo_stack.count()
            with pytest.raises(ArchitectureError):
                commands.wrap_rows(self.doc, rows, kind, **params)
            assert self.doc.state is state and self.doc.undo_stack.count() == count
            return
        STATS["wraps"] += 1
        self._push(commands.wrap_rows(self.doc, rows, kind, **params), self._expect(edit))

    def _blocks(self, type_name: str | None = None) -> list[int]:
        return [
            i
            for i, layer in enumerate(self.flat)
            if layer.is_block and type_name in (None, layer.type)
        ]

    @precondition(lambda self: self._blocks())
    @rule(data=st.data())
    def unwrap(self, data):
        row = data.draw(st.sampled_from(self._blocks()), label="block")
        edit = tree_edits.unwrap(self.doc.architecture, self.doc.address_of(row))
        STATS["unwraps"] += 1
        self._push(commands.unwrap_row(self.doc, row), self._expect(edit))

    @precondition(lambda self: self._blocks(PARALLEL))
    @rule(data=st.data(), add=st.booleans())
    def branches(self, data, add):
        """A branch added to a Parallel, or one removed (its only one: refused)."""
        row = data.draw(st.sampled_from(self._blocks(PARALLEL)), label="parallel")
        address = self.doc.address_of(row)
        if add:
            edit = tree_edits.add_branch(self.doc.architecture, address)
            self._push(commands.add_branch(self.doc, row), self._expect(edit))
            return
        k = data.draw(st.integers(0, len(self.flat[row].paths) - 1), label="branch")
        try:
            edit = tree_edits.remove_branch(self.doc.architecture, address, k)
        except ArchitectureError:
            with pytest.raises(ArchitectureError, match="only branch"):
                commands.remove_branch(self.doc, row, k)
            return
        STATS["branches removed"] += 1
        self._push(commands.remove_branch(self.doc, row, k), self._expect(edit))

    @precondition(lambda self: self._blocks(PARALLEL))
    @rule(data=st.data(), merge=st.sampled_from(["concat", "add"]))
    def set_merge(self, data, merge):
        row = data.draw(st.sampled_from(self._blocks(PARALLEL)), label="parallel")
        if self.flat[row].get("merge") == merge:
            assert commands.set_merge(self.doc, row, merge) is None
            return
        self._set_parameter(row, "merge", merge)
