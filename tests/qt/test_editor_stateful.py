"""The editor under random use: a Hypothesis state machine over the document.

It edits a `Document` the way the GUI does, by pushing the commands of
`cnnviz.qt.editor.commands` on `doc.undo_stack` and calling its `undo()` and `redo()`:
insert layers of every catalogue type with random valid parameters anywhere,
delete, move (drag and Alt+arrows), duplicate, edit a parameter (and have a
refused value change nothing), change the input shape, load the presets, set
a kernel by hand, undo and redo; and with blocks: drop layers, empty blocks
and templates into any path at any position, delete, move into, out of and
between paths, wrap in a residual or parallel block, unwrap, add and remove
branches, set a merge, edit a parameter at any depth. A model beside it knows what each edit must
give and what every step of the undo history holds, merges of consecutive
edits of one parameter (or of the input shape) included.

After every step:
- the document holds the state the model expects, at the expected undo index;
- undo then redo (and redo then undo) brings back exactly the same state:
  layers, parameters, input shape, weights file and hand-set kernels;
- every selection the document asked for names rows that exist;
- hand-set kernels still fit their layer;
- the document's analysis is that of its stack, and torch agrees with it:
  per layer the same output shape and parameter counts on a valid stack, and on
  an invalid one torch fails at the layer the analysis names first
  (tests/torch_agreement.py: meta device, and real tensors when cheap); a
  network with blocks is built by tests/torch_graph.py from its file, and
  compared address by address.

On a network without blocks the model of each edit is its own arithmetic of
rows; the rules of tests/qt/editor_tree_rules.py work on any network, with
core/tree_edits.py as their model (tested on its own, and against stack_edits
on plain stacks), and the machine checks the commands, kernels, undo history
and torch around them.

CI runs a bounded search (100 examples of up to 30 steps: 1-2 minutes on a shared
2-core machine, most of it torch building each new network). To search harder, say
how many examples (and optionally steps) in the environment::

    CNNVIZ_STATEFUL_EXAMPLES=2000 CNNVIZ_STATEFUL_STEPS=50 \\
        pytest tests/qt/test_editor_stateful.py -s

`-s` shows what the run did (states checked, edits, undos, stacks checked against
torch per device).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from cnnviz.core import tree_edits
from cnnviz.core.architecture import Architecture, ArchitectureError, Layer
from cnnviz.core.catalogue import layer_type
from cnnviz.core.jobs import KernelEdit
from cnnviz.core.presets import PRESETS, load_preset, weights_path
from cnnviz.core.project import kernel_edit_problem
from cnnviz.qt.editor import commands
from cnnviz.qt.editor.document import Document, DocumentState
from tests.layer_strategies import input_shapes, layer_types, layers, param_values, rejected_values
from tests.qt.editor_tree_rules import (
    MAX_LAYERS,
    STATS,
    TreeRules,
    draw_rows,
    fitting_edits,
    flat_layers,
)
from tests.torch_agreement import assert_agrees_with_torch, assert_graph_agrees_with_torch

EXAMPLES = int(os.environ.get("CNNVIZ_STATEFUL_EXAMPLES", "100"))
STEPS = int(os.environ.get("CNNVIZ_STATEFUL_STEPS", "30"))
MAX_KERNEL_VALUES = 4096  # hand-set kernels bigger than this are not drawn

# Stacks (hashes of their file text) already found to agree with torch.
_AGREED: set[int] = set()


@functools.cache
def _preset(name: str) -> tuple[Architecture, str | None]:
    arch = load_preset(name)
    found = weights_path(arch)
    return arch, str(found) if found else None


def _edit_key(edit: KernelEdit) -> tuple:
    # The kernel array is never copied by an edit, so its identity follows it.
    return (edit.layer, edit.out_channel, edit.bias, id(edit.kernel))


def _key(state: DocumentState) -> tuple:
    return (state.architecture, state.weights, [_edit_key(e) for e in state.kernel_edits])


def _drop(count: int, rows: list[int], position: int) -> list[int]:
    """The old rows in their new order after `rows` are dropped before the old row
    `position` (the drop indicator sits there, so it stays put while they leave)."""
    marked = [*range(position), "drop", *range(position, count)]
    rest = [i for i in marked if i not in rows]
    at = rest.index("drop")
    return [*rest[:at], *rows, *rest[at + 1 :]]


class EditorMachine(TreeRules, RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.doc = Document()
        self.bad_selections: list[str] = []
        self.doc.selection_requested.connect(self._selection_requested)
        # The state at each undo index (0 = nothing done) and, for each, the merge
        # key of the command that made it (consecutive commands with one key merge).
        self.history: list[DocumentState] = [self.doc.state]
        self.merge_keys: list[tuple | None] = [None]
        self.pos = 0

    def _selection_requested(self, rows: list[int]) -> None:
        count = len(self.doc.analysis.layers)
        if any(not 0 <= row < count for row in rows):
            self.bad_selections.append(f"rows {rows} of a stack of {count}")

    @property
    def layers(self) -> tuple[Layer, ...]:
        return self.doc.architecture.layers

    @property
    def flat(self) -> list[Layer]:
        """Every layer, blocks and what they hold, by flat index."""
        return flat_layers(self.doc.architecture)

    @property
    def plain(self) -> bool:
        """No blocks: the rows are the flat indices, and the row model applies."""
        return not self.doc.architecture.has_blocks

    # -- pushing, with what the model expects ----------------------------------

    def _push(self, command, expected: DocumentState, merge_key: tuple | None = None) -> None:
        STATS["edits"] += 1
        if command is None:  # nothing to do: nothing may change
            assert _key(expected) == _key(self.doc.state)
            return
        self.doc.undo_stack.push(command)
        assert _key(self.doc.state) == _key(expected)
        del self.history[self.pos + 1 :], self.merge_keys[self.pos + 1 :]
        if merge_key is not None and self.pos > 0 and self.merge_keys[self.pos] == merge_key:
            STATS["merged"] += 1
            self.history[self.pos] = self.doc.state
            if _key(self.doc.state) == _key(self.history[self.pos - 1]):
                STATS["merged back to nothing"] += 1
                self.history.pop()
                self.merge_keys.pop()
                self.pos -= 1
        else:
            self.history.append(self.doc.state)
            self.merge_keys.append(merge_key)
            self.pos += 1

    def _structural(self, command, order: list[int | None], new: Sequence[Layer] = ()):
        """Expect the old rows in `order` (None: the next of `new`'s layers), hand-set
        kernels following their layer where they still fit."""
        state = self.doc.state
        fresh = iter(new)
        layers = [self.layers[old] if old is not None else next(fresh) for old in order]
        arch = state.architecture.with_layers(layers)
        moved = {old: new_row for new_row, old in enumerate(order) if old is not None}
        edits = [replace(e, layer=moved[e.layer]) for e in state.kernel_edits if e.layer in moved]
        self._push(command, DocumentState(arch, fitting_edits(arch, edits), state.weights))

    # -- the editor's operations -----------------------------------------------

    @precondition(lambda self: self.plain and len(self.layers) < MAX_LAYERS)
    @rule(data=st.data())
    def insert(self, data):
        """Palette drop (a new layer's starting values) or dragged layers (any values)."""
        starters = layer_types.map(commands.new_layer)
        new = data.draw(st.lists(st.one_of(starters, layers), min_size=1, max_size=2))
        count = len(self.layers)
        position = data.draw(st.integers(0, count), label="position")
        order = [*range(position), *([None] * len(new)), *range(position, count)]
        self._structural(commands.insert_layers(self.doc, position, new), order, new)

    @precondition(lambda self: self.plain and self.layers)
    @rule(data=st.data())
    def delete(self, data):
        rows = draw_rows(data, len(self.layers))
        order = [i for i in range(len(self.layers)) if i not in rows]
        self._structural(commands.remove_rows(self.doc, rows), order)

    @precondition(lambda self: self.plain and self.layers)
    @rule(data=st.data())
    def drag_move(self, data):
        count = len(self.layers)
        rows = draw_rows(data, count)
        position = data.draw(st.integers(0, count), label="position")
        self._structural(commands.move_rows(self.doc, rows, position), _drop(count, rows, position))

    @precondition(lambda self: self.plain and self.layers)
    @rule(data=st.data(), step=st.sampled_from([-1, 1]))
    def move_by(self, data, step):
        """Alt+Up / Alt+Down: the selection moves one row as a block."""
        count = len(self.layers)
        rows = draw_rows(data, count)
        position = max(0, rows[0] - 1) if step < 0 else min(count, rows[-1] + 2)
        command = commands.move_rows_by(self.doc, rows, step)
        self._structural(command, _drop(count, rows, position))

    @precondition(lambda self: self.plain and 0 < len(self.layers) < MAX_LAYERS)
    @rule(data=st.data())
    def duplicate(self, data):
        count = len(self.layers)
        rows = draw_rows(data, count)
        copies = [self.layers[i] for i in rows]
        after = rows[-1] + 1
        order = [*range(after), *([None] * len(rows)), *range(after, count)]
        self._structural(commands.duplicate_rows(self.doc, rows), order, copies)

    def _editable(self, data) -> tuple[int, str] | None:
        rows = [i for i, layer in enumerate(self.flat) if _visible(layer)]
        if not rows:
            return None
        row = data.draw(st.sampled_from(rows), label="row")
        name = data.draw(st.sampled_from(_visible(self.flat[row])), label="parameter")
        return row, name

    @precondition(lambda self: self.layers)
    @rule(data=st.data())
    def edit_parameter(self, data):
        """The properties panel: values typed one after another into one field (they
        merge into one undo step)."""
        target = self._editable(data)
        if target is None:
            return
        row, name = target
        p = layer_type(self.flat[row].type).param(name)
        for value in data.draw(st.lists(param_values(p), min_size=1, max_size=3), label="typed"):
            if value != self.flat[row].get(name):  # an editor emits only a change
                self._set_parameter(row, name, value)

    @precondition(lambda self: self.pos > 0 and (self.merge_keys[self.pos] or ("",))[0] == "param")
    @rule(data=st.data())
    def edit_parameter_again(self, data):
        """Keep typing in the same field: a new value, or back to where it started."""
        _, row, name = self.merge_keys[self.pos]
        p = layer_type(self.flat[row].type).param(name)
        started = flat_layers(self.history[self.pos - 1].architecture)[row].get(name)
        value = data.draw(st.one_of(st.just(started), param_values(p)), label="value")
        if value != self.flat[row].get(name):
            self._set_parameter(row, name, value)

    def _set_parameter(self, row: int, name: str, value) -> None:
        """Expect the layer with the value, stored only when it is not the default."""
        state = self.doc.state
        before = flat_layers(state.architecture)[row]
        p = layer_type(before.type).param(name)
        params = {**before.params, name: value}
        if not p.required and value == p.default:
            del params[name]
        edited = Layer(before.type, params, before.paths)
        assert edited.all_params() == {**before.all_params(), name: value}
        if self.plain:
            layers = list(state.architecture.layers)
            layers[row] = edited
            arch = state.architecture.with_layers(layers)
        else:
            address = tree_edits.flat_addresses(state.architecture)[row]
            arch = tree_edits.replace(state.architecture, address, edited).architecture
        expected = DocumentState(arch, fitting_edits(arch, state.kernel_edits), state.weights)
        if name == "merge":  # the block's own control
            command = commands.set_merge(self.doc, row, value)
        else:
            command = commands.SetParamCommand(self.doc, row, name, value)
        self._push(command, expected, ("param", row, name))

    @precondition(lambda self: self.layers)
    @rule(data=st.data())
    def edit_parameter_refused(self, data):
        """A value the catalogue refuses changes nothing and leaves no undo step."""
        target = self._editable(data)
        if target is None:
            return
        row, name = target
        p = layer_type(self.flat[row].type).param(name)
        value = data.draw(rejected_values(p), label="refused value")
        state, count = self.doc.state, self.doc.undo_stack.count()
        with pytest.raises(ArchitectureError):
            commands.SetParamCommand(self.doc, row, name, value)
        assert self.doc.state is state and self.doc.undo_stack.count() == count

    @rule(shapes=st.lists(input_shapes, min_size=1, max_size=3))
    def set_input(self, shapes):
        """The input fields: shapes typed one after another (they merge)."""
        for shape in shapes:
            state = self.doc.state
            if shape == state.architecture.input:  # the fields emit only a change
                continue
            arch = state.architecture.with_input(shape)
            expected = DocumentState(arch, fitting_edits(arch, state.kernel_edits), state.weights)
            self._push(commands.SetInputCommand(self.doc, shape), expected, ("input",))

    @rule(name=st.sampled_from(sorted(PRESETS)))
    def load_preset(self, name):
        arch, weights = _preset(name)
        command = commands.replace_architecture(self.doc, arch, f"Load preset {arch.name}", weights)
        self._push(command, DocumentState(arch, (), weights))

    @precondition(lambda self: _kernel_targets(self.doc))
    @rule(data=st.data())
    def set_kernel(self, data):
        """The filters panel: one output channel's kernel set by hand."""
        row, channels, shape = data.draw(st.sampled_from(_kernel_targets(self.doc)))
        value = data.draw(st.floats(-2, 2, width=32), label="kernel value")
        bias = data.draw(st.one_of(st.none(), st.floats(-1, 1, width=32)), label="bias")
        edit = KernelEdit(
            row,
            data.draw(st.integers(0, channels - 1), label="channel"),
            np.full(shape, value, np.float32),
            bias,
        )
        state = self.doc.state
        kept = [
            e for e in state.kernel_edits if (e.layer, e.out_channel) != (row, edit.out_channel)
        ]
        expected = replace(state, kernel_edits=(*kept, edit))
        self._push(commands.set_kernel(self.doc, edit), expected)

    @precondition(lambda self: self.doc.undo_stack.canUndo())
    @rule()
    def undo(self):
        STATS["undos"] += 1
        self.doc.undo_stack.undo()
        self.pos -= 1
        assert _key(self.doc.state) == _key(self.history[self.pos])

    @precondition(lambda self: self.doc.undo_stack.canRedo())
    @rule()
    def redo(self):
        STATS["redos"] += 1
        self.doc.undo_stack.redo()
        self.pos += 1
        assert _key(self.doc.state) == _key(self.history[self.pos])

    # -- after every step ------------------------------------------------------

    @invariant()
    def history_is_the_models(self):
        STATS["states checked"] += 1
        stack = self.doc.undo_stack
        assert (stack.index(), stack.count()) == (self.pos, len(self.history) - 1)
        assert _key(self.doc.state) == _key(self.history[self.pos])

    @invariant()
    def undo_then_redo_restores_the_state(self):
        stack, now = self.doc.undo_stack, _key(self.doc.state)
        if stack.canUndo():
            stack.undo()
            assert _key(self.doc.state) == _key(self.history[self.pos - 1])
            stack.redo()
            assert _key(self.doc.state) == now
        if stack.canRedo():
            stack.redo()
            assert _key(self.doc.state) == _key(self.history[self.pos + 1])
            stack.undo()
            assert _key(self.doc.state) == now
        assert stack.index() == self.pos

    @invariant()
    def selections_name_existing_rows(self):
        assert not self.bad_selections, self.bad_selections

    @invariant()
    def kernels_fit_their_layer(self):
        for edit in self.doc.kernel_edits:
            assert kernel_edit_problem(self.doc.architecture, edit) is None

    @invariant()
    def analysis_agrees_with_torch(self):
        analysis, arch = self.doc.analysis, self.doc.architecture
        # The document's analysis is of its stack (analyze itself is checked against torch).
        assert analysis.input_shape == arch.input.as_tuple()
        assert [(info.address, info.layer) for info in analysis.layers] == list(arch.walk())
        seen = hash(arch.dumps())
        if seen in _AGREED:
            return
        if arch.has_blocks:
            device = assert_graph_agrees_with_torch(analysis, arch)
            STATS["stacks with blocks checked"] += 1
        else:
            device = assert_agrees_with_torch(analysis)
        STATS[f"stacks checked on {device}"] += 1
        STATS["invalid stacks" if analysis.first_error else "valid stacks"] += 1
        _AGREED.add(seen)


def _visible(layer: Layer) -> list[str]:
    return [p.name for p in layer_type(layer.type).params if not p.hidden]


def _kernel_targets(doc: Document) -> list[tuple[int, int, tuple[int, int, int]]]:
    """(row, output channels, kernel shape) of the computable Conv2d layers."""
    targets = []
    for info in doc.analysis.layers:
        if info.layer.type != "Conv2d" or not info.computable:
            continue
        kh, kw = _pair(info.layer.get("kernel_size"))
        shape = (info.input_shape[0] // info.layer.get("groups"), kh, kw)
        if np.prod(shape) <= MAX_KERNEL_VALUES:
            targets.append((info.index, info.output_shape[0], shape))
    return targets


def _pair(value) -> tuple[int, int]:
    return tuple(value) if isinstance(value, tuple) else (value, value)


def test_editor_under_random_use(qapp):
    STATS.clear()
    run_state_machine_as_test(
        EditorMachine,
        settings=settings(
            max_examples=EXAMPLES,
            stateful_step_count=STEPS,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
    print(f"\n{EXAMPLES} examples of up to {STEPS} steps: {dict(STATS)}")


# -- what the machine found, kept as plain examples ---------------------------------


@pytest.mark.parametrize(
    ("row", "name", "value"),
    [(0, "bias", 1), (0, "stride", 1.0), (2, "ceil_mode", 0)],
)
def test_a_refused_value_equal_to_the_default_is_refused(qapp, row, name, value):
    """1 == True and 1.0 == 1: such values were taken for the default and dropped
    instead of refused."""
    doc = Document()  # Conv2d, ReLU, MaxPool2d
    state = doc.state
    with pytest.raises(ArchitectureError):
        commands.SetParamCommand(doc, row, name, value)
    assert doc.state is state
