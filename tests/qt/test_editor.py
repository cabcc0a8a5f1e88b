"""The stack editor driven through its real widgets: drops, drags, keys, undo.

Every edit is checked on the document (the truth), then undone and redone.
"""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QModelIndex, QPoint, QPointF, Qt
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QMessageBox

from cnnviz.core.architecture import Architecture, InputShape, Layer
from cnnviz.core.jobs import KernelEdit
from cnnviz.core.project import Project
from cnnviz.qt.editor import commands
from cnnviz.qt.editor.glyphs import LAYER_MIME
from cnnviz.qt.editor.palette import TYPE_ROLE, layer_mime
from cnnviz.qt.editor.stack_model import ERROR_ROLE, INFO_ROLE
from cnnviz.qt.window.main_window import MainWindow


def four_layers() -> Architecture:
    return Architecture(
        "four",
        InputShape(3, 32, 32),
        (
            Layer.make("Conv2d", out_channels=8, kernel_size=3, padding=1),
            Layer.make("ReLU"),
            Layer.make("MaxPool2d", kernel_size=2),
            Layer.make("Conv2d", out_channels=4, kernel_size=5),
        ),
    )


@pytest.fixture
def window(qtbot):
    win = MainWindow(start_compute=False)
    qtbot.addWidget(win)
    win.files.ask_to_save = lambda: QMessageBox.StandardButton.Discard
    win.doc.reset(Project(four_layers()), None)
    win.show()
    qtbot.waitExposed(win)
    yield win
    win.shutdown()


def types(win: MainWindow) -> list[str]:
    return [layer.type for layer in win.doc.architecture.layers]


def undo_redo_round_trip(win: MainWindow, before: list[str], after: list[str]) -> None:
    assert types(win) == after
    win.doc.undo_stack.undo()
    assert types(win) == before
    win.doc.undo_stack.redo()
    assert types(win) == after


BEFORE = ["Conv2d", "ReLU", "MaxPool2d", "Conv2d"]


def focus_stack(qtbot, win: MainWindow, rows: list[int]) -> None:
    win.activateWindow()
    win.stack_view.setFocus()
    win.stack_view.select_rows(rows)
    qtbot.waitUntil(win.stack_view.hasFocus)


# -- drops from the palette -------------------------------------------------------


def test_palette_drop_inserts_at_the_row(window):
    model = window.stack_view.model()
    assert model.dropMimeData(
        layer_mime("BatchNorm2d"), Qt.DropAction.CopyAction, 1, 0, QModelIndex()
    )
    after = ["Conv2d", "BatchNorm2d", "ReLU", "MaxPool2d", "Conv2d"]
    assert window.stack_view.selected_rows() == [1]
    undo_redo_round_trip(window, BEFORE, after)


def test_palette_drop_at_the_end(window):
    model = window.stack_view.model()
    model.dropMimeData(layer_mime("Flatten"), Qt.DropAction.CopyAction, -1, 0, QModelIndex())
    assert types(window)[-1] == "Flatten"


def send_drop(win: MainWindow, mime, point: QPoint, action=Qt.DropAction.CopyAction) -> None:
    viewport = win.stack_view.viewport()
    pos = QPointF(point)
    actions = Qt.DropAction.CopyAction | Qt.DropAction.MoveAction
    buttons, mods = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    QApplication.sendEvent(viewport, QDragEnterEvent(point, actions, mime, buttons, mods))
    QApplication.sendEvent(viewport, QDragMoveEvent(point, actions, mime, buttons, mods))
    drop = QDropEvent(pos, actions, mime, buttons, mods)
    drop.setDropAction(action)
    QApplication.sendEvent(viewport, drop)


def test_drop_event_on_the_upper_half_of_a_row_inserts_before_it(window):
    view = window.stack_view
    rect = view.visualRect(view.model().index(2))
    send_drop(window, layer_mime("Dropout"), QPoint(rect.center().x(), rect.top() + 2))
    assert types(window) == ["Conv2d", "ReLU", "Dropout", "MaxPool2d", "Conv2d"]


def test_drop_event_on_the_lower_half_of_a_row_inserts_after_it(window):
    view = window.stack_view
    rect = view.visualRect(view.model().index(0))
    send_drop(window, layer_mime("Tanh"), QPoint(rect.center().x(), rect.bottom() - 2))
    assert types(window) == ["Conv2d", "Tanh", "ReLU", "MaxPool2d", "Conv2d"]


def test_unknown_layer_type_is_refused(window):
    mime = layer_mime("Conv9d")
    assert not window.stack_view.model().dropMimeData(
        mime, Qt.DropAction.CopyAction, 0, 0, QModelIndex()
    )
    assert types(window) == BEFORE


# -- reordering by drag -----------------------------------------------------------


def test_rows_dragged_within_the_stack_move(window):
    view = window.stack_view
    model = view.model()
    view.select_rows([0, 1])
    mime = model.mimeData([model.index(0), model.index(1)])
    assert model.dropMimeData(mime, Qt.DropAction.MoveAction, 3, 0, QModelIndex())
    after = ["MaxPool2d", "Conv2d", "ReLU", "Conv2d"]
    assert view.selected_rows() == [1, 2]  # the moved rows stay selected
    undo_redo_round_trip(window, BEFORE, after)
    assert len(window.doc.architecture.layers) == 4  # nothing removed by the view


def test_drag_move_through_drop_event(window):
    view = window.stack_view
    model = view.model()
    mime = model.mimeData([model.index(3)])
    top = view.visualRect(model.index(0))
    send_drop(window, mime, QPoint(top.center().x(), top.top() + 2), Qt.DropAction.MoveAction)
    assert types(window) == ["Conv2d", "Conv2d", "ReLU", "MaxPool2d"]
    assert window.doc.architecture.layers[0].get("kernel_size") == 5


def test_rows_dropped_into_another_window_are_copied(window, qtbot):
    other = MainWindow(start_compute=False)
    qtbot.addWidget(other)
    other.files.ask_to_save = lambda: QMessageBox.StandardButton.Discard
    try:
        model = window.stack_view.model()
        mime = model.mimeData([model.index(2)])
        other_model = other.stack_view.model()
        count = len(other.doc.architecture.layers)
        assert other_model.dropMimeData(mime, Qt.DropAction.MoveAction, 0, 0, QModelIndex())
        assert other.doc.architecture.layers[0] == four_layers().layers[2]
        assert len(other.doc.architecture.layers) == count + 1
        assert types(window) == BEFORE  # the source keeps its rows
    finally:
        other.shutdown()


# -- keys ----------------------------------------------------------------------------


def test_delete_key_removes_the_selected_rows(window, qtbot):
    focus_stack(qtbot, window, [1, 3])
    qtbot.keyClick(window.stack_view, Qt.Key.Key_Delete)
    undo_redo_round_trip(window, BEFORE, ["Conv2d", "MaxPool2d"])


def test_ctrl_d_duplicates_the_selected_rows(window, qtbot):
    focus_stack(qtbot, window, [0, 1])
    qtbot.keyClick(window.stack_view, Qt.Key.Key_D, Qt.KeyboardModifier.ControlModifier)
    after = ["Conv2d", "ReLU", "Conv2d", "ReLU", "MaxPool2d", "Conv2d"]
    assert window.stack_view.selected_rows() == [2, 3]
    undo_redo_round_trip(window, BEFORE, after)


def test_alt_arrows_move_the_selection(window, qtbot):
    focus_stack(qtbot, window, [2])
    qtbot.keyClick(window.stack_view, Qt.Key.Key_Up, Qt.KeyboardModifier.AltModifier)
    assert types(window) == ["Conv2d", "MaxPool2d", "ReLU", "Conv2d"]
    qtbot.keyClick(window.stack_view, Qt.Key.Key_Down, Qt.KeyboardModifier.AltModifier)
    qtbot.keyClick(window.stack_view, Qt.Key.Key_Down, Qt.KeyboardModifier.AltModifier)
    assert types(window) == ["Conv2d", "ReLU", "Conv2d", "MaxPool2d"]


def test_undo_and_redo_shortcuts(window, qtbot):
    focus_stack(qtbot, window, [0])
    qtbot.keyClick(window.stack_view, Qt.Key.Key_Delete)
    assert types(window) == BEFORE[1:]
    qtbot.keyClick(window.stack_view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert types(window) == BEFORE
    shift_ctrl = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
    qtbot.keyClick(window.stack_view, Qt.Key.Key_Z, shift_ctrl)
    assert types(window) == BEFORE[1:]


def test_enter_in_the_palette_appends(window, qtbot):
    window.stack_view.select_rows([1])
    tree = window.palette.tree
    item = tree.item_for("Sigmoid")
    tree.setCurrentItem(item)
    tree.setFocus()
    qtbot.keyClick(tree, Qt.Key.Key_Return)
    assert types(window) == [*BEFORE, "Sigmoid"]
    assert window.stack_view.selected_rows() == [4]  # the new layer, ready to edit
    tree.itemActivated.emit(tree.item_for("Linear"), 0)  # double-click
    assert types(window) == [*BEFORE, "Sigmoid", "Linear"]
    window.doc.undo_stack.undo()
    assert types(window) == [*BEFORE, "Sigmoid"]


def test_palette_filter_and_enter(window, qtbot):
    window.stack_view.select_rows([])
    qtbot.keyClicks(window.palette.filter_edit, "leaky")
    visible = [i.data(0, TYPE_ROLE) for i in window.palette.tree.type_items() if not i.isHidden()]
    assert visible == ["LeakyReLU"]
    qtbot.keyClick(window.palette.filter_edit, Qt.Key.Key_Return)
    assert types(window)[-1] == "LeakyReLU"


def test_palette_has_every_group_with_tooltips(window):
    tree = window.palette.tree
    groups = [tree.topLevelItem(i).text(0) for i in range(tree.topLevelItemCount())]
    assert groups == [
        "Convolution", "Pooling", "Activation", "Normalization", "Regularization", "Shape", "Dense",
        "Blocks",
    ]  # fmt: skip
    conv = tree.item_for("Conv2d")
    assert "parameter sharing" in conv.toolTip(0)
    assert not conv.icon(0).isNull()
    assert tree.mimeData([conv]).data("application/x-cnnviz-layer").data() == b"Conv2d"


# -- properties --------------------------------------------------------------------


def test_property_edit_goes_through_undo_and_merges(window, qtbot):
    window.stack_view.select_rows([0])
    editor = window.properties.editors["out_channels"]
    box = editor.box
    box.selectAll()
    qtbot.keyClicks(box, "16")  # "1", then "16": two edits, one undo step
    assert window.doc.architecture.layers[0].get("out_channels") == 16
    assert window.doc.undo_stack.count() == 1
    index = window.stack_view.model().index(0)
    assert index.data(INFO_ROLE).output_shape == (16, 32, 32)
    window.doc.undo_stack.undo()
    assert window.doc.architecture.layers[0].get("out_channels") == 8
    assert box.value() == 8  # the editor follows the document


def test_pair_editor_square_link(window):
    window.stack_view.select_rows([0])
    kernel = window.properties.editors["kernel_size"]
    kernel.height_box.setValue(5)
    assert window.doc.architecture.layers[0].get("kernel_size") == 5
    kernel.link.setChecked(False)
    kernel.width_box.setValue(1)
    assert window.doc.architecture.layers[0].get("kernel_size") == (5, 1)
    assert window.stack_view.model().index(0).data(INFO_ROLE).output_shape == (
        8,
        30,
        34,
    )  # padding 1


def test_padding_words_and_optional_stride(window):
    window.stack_view.select_rows([0])
    window.properties.editors["padding"].mode.setCurrentText("valid")
    assert window.doc.architecture.layers[0].get("padding") == "valid"
    window.stack_view.select_rows([2])
    stride = window.properties.editors["stride"]
    assert stride.same.isChecked()  # MaxPool2d stride defaults to the kernel
    stride.same.setChecked(False)
    stride.pair.height_box.setValue(1)
    assert window.doc.architecture.layers[2].get("stride") == 1
    stride.same.setChecked(True)
    assert window.doc.architecture.layers[2].get("stride") is None
    assert "stride" not in window.doc.architecture.layers[2].params  # default: not stored


def test_hidden_parameters_are_not_offered(window):
    window.stack_view.select_rows([1])
    assert "inplace" not in window.properties.editors


def test_formula_line_uses_the_layers_numbers(window):
    window.stack_view.select_rows([3])
    text = window.properties.formula.text()
    assert "H_out = ⌊(16 + 2·0 − 1·(5−1) − 1) / 1⌋ + 1 = 12" in text
    assert "params = 4·(8·5·5) + 4 = 804" in text
    window.properties.editors["stride"].height_box.setValue(2)
    assert "/ 2⌋ + 1 = 6" in window.properties.formula.text()


def test_invalid_value_is_kept_and_shown(window, qtbot):
    window.stack_view.select_rows([3])
    window.properties.editors["kernel_size"].height_box.setValue(20)  # input is 16×16
    layers = window.doc.architecture.layers
    assert layers[3].get("kernel_size") == 20  # accepted into the stack
    index = window.stack_view.model().index(3)
    assert "kernel 20x20 is larger than its 16x16 input" in index.data(ERROR_ROLE)
    props = window.properties
    assert props.error.isVisible()
    assert "kernel 20x20 is larger than its 16x16 input" in props.error.text()
    panel = window.stack_panel
    assert panel.problem.isVisible() and "layer 3 Conv2d" in panel.problem.text()
    # The reason is painted in the row itself: the invalid row is taller.
    view = window.stack_view
    assert view.visualRect(index).height() > view.visualRect(view.model().index(2)).height()


def test_rows_after_an_invalid_one_are_not_computable(window):
    window.stack_view.select_rows([0])
    window.properties.editors["kernel_size"].height_box.setValue(40)  # input is 32×32
    infos = [window.stack_view.model().index(r).data(INFO_ROLE) for r in range(4)]
    assert [i.status for i in infos] == ["invalid"] + ["not computable"] * 3
    window.stack_view.select_rows([2])
    assert "earlier layer is invalid" in window.properties.error.text()


def test_input_shape_edit_merges_and_updates_shapes(window, qtbot):
    editor = window.stack_panel.input_editor
    editor.height_box.selectAll()
    qtbot.keyClicks(editor.height_box, "64")
    assert window.doc.architecture.input == InputShape(3, 64, 32)
    assert window.doc.undo_stack.count() == 1
    assert window.stack_view.model().index(0).data(INFO_ROLE).output_shape == (8, 64, 32)
    window.doc.undo_stack.undo()
    assert editor.height_box.value() == 32


def test_selection_after_delete_and_undo(window, qtbot):
    focus_stack(qtbot, window, [2])
    qtbot.keyClick(window.stack_view, Qt.Key.Key_Delete)
    assert window.stack_view.selected_rows() == [2]  # the row that moved up
    assert window.properties.title.text() == "Conv2d"
    window.doc.undo_stack.undo()
    assert window.stack_view.selected_rows() == [2]
    assert window.properties.title.text() == "MaxPool2d"


def test_kernel_edits_follow_moves_and_die_with_their_layer(window):
    doc = window.doc
    edit = KernelEdit(0, 1, np.ones((3, 3, 3), np.float32))
    doc.undo_stack.push(commands.set_kernel(doc, edit))
    doc.undo_stack.push(commands.move_rows(doc, [0], 2))
    assert [(e.layer, e.out_channel) for e in doc.kernel_edits] == [(1, 1)]
    doc.undo_stack.push(commands.SetParamCommand(doc, 1, "kernel_size", 5))
    assert doc.kernel_edits == ()  # a 5×5 kernel cannot hold the 3×3 edit
    doc.undo_stack.undo()
    assert len(doc.kernel_edits) == 1
    doc.undo_stack.push(commands.remove_rows(doc, [1]))
    assert doc.kernel_edits == ()


def test_palette_drags_copy_so_the_entry_stays(window, monkeypatch):
    from cnnviz.qt.editor import palette as palette_module

    started = []

    class RecordingDrag:
        def __init__(self, source):
            self.source = source

        def setMimeData(self, mime):
            self.mime = mime

        def setPixmap(self, pixmap):
            pass

        def exec(self, actions, default):
            started.append((bytes(self.mime.data(LAYER_MIME).data()), actions, default))
            return default

    monkeypatch.setattr(palette_module, "QDrag", RecordingDrag)
    tree = window.palette.tree
    tree.setCurrentItem(tree.item_for("AvgPool2d"))
    count = len(tree.type_items())
    tree.startDrag(Qt.DropAction.CopyAction | Qt.DropAction.MoveAction)
    assert started == [(b"AvgPool2d", Qt.DropAction.CopyAction, Qt.DropAction.CopyAction)]
    assert len(tree.type_items()) == count


@pytest.mark.parametrize("move", ["by", "to"])
def test_a_hand_set_kernel_moves_with_its_layer_past_an_identical_one(qapp, move):
    from cnnviz.qt.editor.document import Document

    conv = Layer.make("Conv2d", out_channels=2, kernel_size=3, padding=1)
    # Two channels in, two out: the same layer twice, with the same input shape.
    doc = Document(Architecture("twins", InputShape(2, 8, 8), (conv, conv)))
    edit = KernelEdit(0, 1, np.ones((2, 3, 3), np.float32))
    doc.undo_stack.push(commands.set_kernel(doc, edit))
    # The layers are equal, so the stack looks the same after the move, but the
    # hand-set kernel belongs to the layer that moved.
    command = (
        commands.move_rows_by(doc, [0], 1) if move == "by" else commands.move_rows(doc, [0], 2)
    )
    assert command is not None
    doc.undo_stack.push(command)
    assert [(e.layer, e.out_channel) for e in doc.kernel_edits] == [(1, 1)]
    doc.undo_stack.undo()
    assert [(e.layer, e.out_channel) for e in doc.kernel_edits] == [(0, 1)]
