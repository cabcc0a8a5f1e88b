"""Editing a network with blocks through the document's undoable commands:
into a block at a position, out of it, between branches, wrap and unwrap,
branches and merges, parameters at any depth; undo and redo give back the
exact architecture, hand-set kernels follow their layer, and a saved network
with blocks reopens as it was."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from cnnviz.core.architecture import Architecture, ArchitectureError, InputShape, Layer
from cnnviz.core.jobs import KernelEdit
from cnnviz.core.project import Project
from cnnviz.qt.editor import commands
from cnnviz.qt.editor.document import Document
from cnnviz.qt.window.main_window import MainWindow

CONV = Layer.make("Conv2d", out_channels=4, kernel_size=3, padding=1)
RELU = Layer.make("ReLU")
POOL = Layer.make("MaxPool2d", kernel_size=2)


def conv(n: int) -> Layer:
    return Layer.make("Conv2d", out_channels=n, kernel_size=1)


# 0 Conv2d(4) | 1 Residual(body: Conv2d(4), ReLU; shortcut: -)
# | 2 Parallel(concat; Conv2d(2) | Conv2d(3), ReLU) | 3 MaxPool2d
NET = Architecture(
    "blocks",
    InputShape(3, 8, 8),
    (
        CONV,
        Layer.block("Residual", [(conv(4), RELU), ()]),
        Layer.block("Parallel", [(conv(2),), (conv(3), RELU)], merge="concat"),
        POOL,
    ),
)


@pytest.fixture
def doc(qapp):
    document = Document()
    document.reset(Project(NET), None)
    document.selections = []
    document.selection_requested.connect(document.selections.append)
    return document


def addresses(doc: Document) -> list[str]:
    return [f"{info.address} {info.layer.type}" for info in doc.analysis.layers]


def push(doc: Document, command) -> None:
    """Push, then check that undo gives back the exact state before and redo the
    exact state after (layers, parameters, paths, kernels)."""
    assert command is not None
    before, index = doc.state, doc.undo_stack.index()
    doc.undo_stack.push(command)
    after = doc.state
    assert after.architecture != before.architecture or after.kernel_edits != before.kernel_edits
    doc.undo_stack.undo()
    assert doc.state.architecture == before.architecture
    assert _kernels(doc.state) == _kernels(before)
    doc.undo_stack.redo()
    assert doc.state.architecture == after.architecture
    assert _kernels(doc.state) == _kernels(after)
    assert doc.undo_stack.index() == index + 1


def _kernels(state) -> list[tuple]:
    return [(e.layer, e.out_channel, e.kernel.tobytes(), e.bias) for e in state.kernel_edits]


def test_flat_indices_and_addresses(doc):
    assert addresses(doc) == [
        "0 Conv2d",
        "1 Residual",
        "1.body.0 Conv2d",
        "1.body.1 ReLU",
        "2 Parallel",
        "2.branches.0.0 Conv2d",
        "2.branches.1.0 Conv2d",
        "2.branches.1.1 ReLU",
        "3 MaxPool2d",
    ]
    assert doc.address_of(6) == "2.branches.1.0" and doc.index_of("2.branches.1.0") == 6


def test_insert_into_a_block_at_a_position(doc):
    command = commands.insert_layers(doc, 1, [Layer.make("BatchNorm2d")], "1.body")
    assert command.text() == "Insert BatchNorm2d into the body of layer 1"
    push(doc, command)
    assert doc.architecture.layers[1].paths[0] == (conv(4), Layer.make("BatchNorm2d"), RELU)
    assert doc.selections[-1] == [doc.index_of("1.body.1")]
    # Into an empty shortcut, and into a branch.
    push(doc, commands.insert_layers(doc, 0, [conv(4)], "1.shortcut"))
    push(doc, commands.insert_layers(doc, 9, [RELU], "2.branches.0"))
    assert doc.architecture.layers[1].paths[1] == (conv(4),)
    assert doc.architecture.layers[2].paths[0] == (conv(2), RELU)
    assert doc.undo_stack.undoText() == "Insert ReLU into branch 0 of layer 2"


def test_a_template_block_dropped_into_a_branch(doc):
    block = Layer.block("Residual", [(conv(3),), ()])
    push(doc, commands.insert_layers(doc, 1, [block], "2.branches.1"))
    assert doc.architecture.layers[2].paths[1] == (conv(3), block, RELU)
    assert doc.selections[-1] == [doc.index_of("2.branches.1.1")]


def test_drag_a_layer_out_of_a_block(doc):
    command = commands.move_rows(doc, [doc.index_of("1.body.0")], 4, "")
    assert command.text() == "Move layer"
    push(doc, command)
    assert [layer.type for layer in doc.architecture.layers] == [
        "Conv2d",
        "Residual",
        "Parallel",
        "MaxPool2d",
        "Conv2d",
    ]
    assert doc.architecture.layers[1].paths[0] == (RELU,)
    assert doc.selections[-1] == [doc.index_of("4")]


def test_drag_layers_into_a_block_and_between_branches(doc):
    push(doc, commands.move_rows(doc, [0, doc.index_of("3")], 1, "2.branches.0"))
    assert doc.architecture.layers[1].paths[0] == (conv(2), CONV, POOL)
    assert doc.selections[-1] == [doc.index_of("1.branches.0.1"), doc.index_of("1.branches.0.2")]
    push(doc, commands.move_rows(doc, [doc.index_of("1.branches.1.1")], 0, "1.branches.0"))
    assert doc.architecture.layers[1].paths == ((RELU, conv(2), CONV, POOL), (conv(3),))


def test_a_block_is_not_dropped_into_itself(doc):
    count = doc.undo_stack.count()
    assert commands.move_rows(doc, [1], 0, "1.body") is None
    assert commands.move_rows(doc, [1, doc.index_of("2")], 0, "2.branches.0") is None
    assert commands.move_rows(doc, [doc.index_of("2")], 2, "") is None  # nothing moves
    assert doc.undo_stack.count() == count


def test_alt_arrows_move_a_layer_within_its_path(doc):
    relu = doc.index_of("2.branches.1.1")
    push(doc, commands.move_rows_by(doc, [relu], -1))
    assert doc.architecture.layers[2].paths[1] == (RELU, conv(3))
    assert doc.selections[-1] == [doc.index_of("2.branches.1.0")]
    # At the top of its path it stays there: no command.
    assert commands.move_rows_by(doc, [doc.index_of("2.branches.1.0")], -1) is None
    # A layer and another path's layer do not move together.
    assert commands.move_rows_by(doc, [0, doc.index_of("1.body.0")], 1) is None


def test_wrap_and_unwrap(doc):
    command = commands.wrap_rows(doc, [0, 1])
    assert command.text() == "Wrap 2 layers in a residual block"
    push(doc, command)
    outer = doc.architecture.layers[0]
    assert outer.type == "Residual" and outer.paths == ((CONV, NET.layers[1]), ())
    assert doc.selections[-1] == [0]
    assert doc.analysis.at("0.body.1.body.0").layer == conv(4)
    command = commands.unwrap_row(doc, 0)
    assert command.text() == "Unwrap residual block"
    push(doc, command)
    assert doc.architecture == NET
    assert doc.selections[-1] == [0, 1]


def test_wrap_in_a_parallel_block_inside_a_branch(doc):
    relu = doc.index_of("2.branches.1.1")
    command = commands.wrap_rows(doc, [relu], "Parallel", merge="add")
    assert command.text() == "Wrap ReLU in a parallel block"
    push(doc, command)
    inner = doc.analysis.at("2.branches.1.1").layer
    assert (inner.type, inner.params["merge"], inner.paths) == ("Parallel", "add", ((RELU,),))


def test_wrap_refuses_layers_with_a_gap_in_one_line(doc):
    with pytest.raises(ArchitectureError, match="adjacent"):
        commands.wrap_rows(doc, [0, doc.index_of("2")])
    with pytest.raises(ArchitectureError, match="one path"):
        commands.wrap_rows(doc, [0, doc.index_of("1.body.0")])


def test_branches_added_removed_and_the_merge_set(doc):
    push(doc, commands.add_branch(doc, 4))
    assert doc.architecture.layers[2].paths[2] == ()
    assert doc.undo_stack.undoText() == "Add a branch to layer 2"
    push(doc, commands.remove_branch(doc, 4, 0))
    assert doc.architecture.layers[2].paths == ((conv(3), RELU), ())
    with pytest.raises(ArchitectureError, match="Residual is not a Parallel block"):
        commands.add_branch(doc, 1)
    push(doc, commands.set_merge(doc, 4, "add"))
    assert doc.architecture.layers[2].params["merge"] == "add"
    assert doc.architecture.layers[2].paths == ((conv(3), RELU), ())
    assert commands.set_merge(doc, 4, "add") is None


def test_a_parameter_deep_inside_and_typing_merges(doc):
    inner = doc.index_of("2.branches.1.0")
    push(doc, commands.SetParamCommand(doc, inner, "out_channels", 5))
    doc.undo_stack.push(commands.SetParamCommand(doc, inner, "out_channels", 6))
    assert doc.undo_stack.count() == 1  # one field typed into: one step
    assert doc.analysis.at("2.branches.1.0").layer.get("out_channels") == 6
    assert doc.analysis.at("2").output_shape == (8, 8, 8)
    doc.undo_stack.undo()
    assert doc.architecture == NET


def test_a_hand_set_kernel_follows_its_layer_into_a_block(doc):
    kernel = np.arange(27, dtype=np.float32).reshape(3, 3, 3)
    doc.undo_stack.push(commands.set_kernel(doc, KernelEdit(0, 2, kernel, 0.5)))
    push(doc, commands.wrap_rows(doc, [0], "Parallel"))
    (edit,) = doc.kernel_edits
    assert doc.address_of(edit.layer) == "0.branches.0.0"
    assert (edit.out_channel, edit.bias, edit.kernel) == (2, 0.5, kernel)
    doc.undo_stack.undo()
    assert doc.kernel_edits[0].layer == 0


def test_a_hand_set_kernel_follows_its_layer_through_every_edit(doc):
    kernel = np.full((4, 1, 1), 2.0, np.float32)
    inner = doc.index_of("1.body.0")
    doc.undo_stack.push(commands.set_kernel(doc, KernelEdit(inner, 3, kernel)))
    assert doc.undo_stack.undoText() == "Set kernel of layer 1.body.0, channel 3"

    def where() -> str:
        (edit,) = doc.kernel_edits
        assert edit.kernel is kernel and edit.out_channel == 3
        return doc.address_of(edit.layer)

    push(doc, commands.move_rows(doc, [inner], 0, "1.shortcut"))  # between paths
    assert where() == "1.shortcut.0"
    push(doc, commands.wrap_rows(doc, [doc.index_of("1.shortcut.0")]))
    assert where() == "1.shortcut.0.body.0"
    push(doc, commands.insert_layers(doc, 0, [RELU, RELU]))  # its flat index shifts
    assert where() == "3.shortcut.0.body.0"
    push(doc, commands.duplicate_rows(doc, [doc.index_of("3.shortcut.0")]))
    assert where() == "3.shortcut.0.body.0"  # the copy has no hand-set kernel
    push(doc, commands.unwrap_row(doc, doc.index_of("3.shortcut.0")))
    assert where() == "3.shortcut.0"
    assert doc.analysis.valid
    # Deleting its block deletes the kernel; undo brings it back at its layer.
    push(doc, commands.remove_rows(doc, [doc.index_of("3")]))
    assert doc.kernel_edits == ()
    doc.undo_stack.undo()
    assert where() == "3.shortcut.0"


def test_a_kernel_that_no_longer_fits_where_its_layer_went_is_dropped(doc):
    kernel = np.ones((3, 3, 3), np.float32)
    doc.undo_stack.push(commands.set_kernel(doc, KernelEdit(0, 0, kernel)))
    # After the body's first Conv2d its input has 4 channels, not 3.
    push(doc, commands.move_rows(doc, [0], 1, "1.body"))
    assert doc.analysis.at("0.body.1").input_shape == (4, 8, 8)
    assert doc.kernel_edits == ()
    assert doc.undo_stack.undoText() == "Move layer"


@pytest.mark.parametrize("name", ["net.json", "net.cnnviz"])
def test_saved_then_reopened_a_network_with_blocks_is_the_same(doc, tmp_path, name):
    push(doc, commands.wrap_rows(doc, [doc.index_of("3")], "Parallel", merge="add"))
    push(doc, commands.insert_layers(doc, 0, [conv(4)], "1.shortcut"))
    kernel = np.full((4, 1, 1), 0.25, np.float32)
    inner = doc.index_of("1.shortcut.0")
    doc.undo_stack.push(commands.set_kernel(doc, KernelEdit(inner, 1, kernel)))
    arch = doc.architecture
    doc.save(tmp_path / name)
    other = Document()
    other.open(tmp_path / name)
    assert other.architecture.layers == arch.layers
    assert other.architecture.input == arch.input
    if name.endswith(".cnnviz"):  # a project keeps its hand-set kernels at their layer
        (edit,) = other.kernel_edits
        assert (other.address_of(edit.layer), edit.out_channel) == ("1.shortcut.0", 1)
        np.testing.assert_array_equal(edit.kernel, kernel)


@pytest.fixture
def window(qtbot):
    win = MainWindow(start_compute=False)
    qtbot.addWidget(win)
    win.files.ask_to_save = lambda: QMessageBox.StandardButton.Discard
    win.doc.reset(Project(NET), None)
    win.show()
    qtbot.waitExposed(win)
    yield win
    win.shutdown()


def test_alt_up_in_the_stack_moves_a_layer_within_its_branch(window, qtbot):
    doc, view = window.doc, window.stack_view
    window.select_layer(doc.index_of("2.branches.1.1"))  # the branch's ReLU
    view.setFocus()
    qtbot.keyClick(view, Qt.Key.Key_Up, Qt.KeyboardModifier.AltModifier)
    assert doc.architecture.layers[2].paths[1] == (RELU, conv(3))
    assert view.selected_rows() == [doc.index_of("2.branches.1.0")]
    # At the top of its branch Alt+Up does nothing: it stays in the branch.
    qtbot.keyClick(view, Qt.Key.Key_Up, Qt.KeyboardModifier.AltModifier)
    assert doc.architecture.layers[2].paths[1] == (RELU, conv(3))
    assert doc.undo_stack.count() == 1


def test_a_block_and_what_it_holds_count_once_in_the_undo_text(doc):
    block_and_inside = [1, doc.index_of("1.body.0"), doc.index_of("1.body.1")]
    assert commands.remove_rows(doc, block_and_inside).text() == "Delete Residual"
    assert commands.duplicate_rows(doc, block_and_inside).text() == "Duplicate layer"
    assert commands.move_rows(doc, [0, *block_and_inside], 4).text() == "Move 2 layers"
