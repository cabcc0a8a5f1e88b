"""The stack as a tree: rows of blocks, their paths and merges, opening and
closing, drops into paths and out of blocks, wrapping, and a block's arithmetic
in Properties. Every edit is checked on the document, then undone."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QModelIndex, QPoint, QPointF, Qt
from PySide6.QtGui import QDragEnterEvent, QDragLeaveEvent, QDragMoveEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QMessageBox

from cnnviz.core.architecture import Architecture, InputShape, Layer
from cnnviz.core.project import Project
from cnnviz.qt.editor.palette import TYPE_ROLE, layer_mime
from cnnviz.qt.editor.stack_model import ERROR_ROLE, ROW_ROLE
from cnnviz.qt.editor.stack_rows import HEADER, LAYER, MERGE, Drop, drop_target, path_rows
from cnnviz.qt.window.main_window import MainWindow

CONV = Layer.make("Conv2d", out_channels=8, kernel_size=3, padding=1)


def branching(merge: str = "concat") -> Architecture:
    """A conv, a residual block, a ReLU and a three-branch parallel block."""
    residual = Layer.block("Residual", [(CONV, Layer.make("BatchNorm2d")), ()])
    parallel = Layer.block(
        "Parallel",
        [
            (Layer.make("Conv2d", out_channels=4, kernel_size=1),),
            (Layer.make("Conv2d", out_channels=2, kernel_size=3, padding=1),),
            (),
        ],
        merge=merge,
    )
    layers = (CONV, residual, Layer.make("ReLU"), parallel)
    return Architecture("branching", InputShape(3, 16, 16), layers)


# Row by row: (kind, flat index or the block's, depth, what it says).
ROWS = [
    (LAYER, 0, 0, "Conv2d"),
    (LAYER, 1, 0, "Residual"),
    (HEADER, 1, 1, "body"),
    (LAYER, 2, 1, "Conv2d"),
    (LAYER, 3, 1, "BatchNorm2d"),
    (HEADER, 1, 1, "shortcut: identity"),
    (MERGE, 1, 1, "⊕ add"),
    (LAYER, 4, 0, "ReLU"),
    (LAYER, 5, 0, "Parallel"),
    (HEADER, 5, 1, "branch 0"),
    (LAYER, 6, 1, "Conv2d"),
    (HEADER, 5, 1, "branch 1"),
    (LAYER, 7, 1, "Conv2d"),
    (HEADER, 5, 1, "branch 2: identity"),
    (MERGE, 5, 1, "⧺ concat"),
]


@pytest.fixture
def window(qtbot):
    win = MainWindow(start_compute=False)
    qtbot.addWidget(win)
    win.files.ask_to_save = lambda: QMessageBox.StandardButton.Discard
    win.doc.reset(Project(branching()), None)
    win.show()
    qtbot.waitExposed(win)
    yield win
    win.shutdown()


def rows_of(win: MainWindow) -> list[tuple]:
    model = win.stack_view.stack_model
    found = []
    for r in range(model.rowCount()):
        row = model.index(r).data(ROW_ROLE)
        said = row.info.layer.type if row.kind == LAYER else model.index(r).data()
        found.append((row.kind, row.info.index, row.depth, said))
    return found


def paths(win: MainWindow, top: int) -> list[list[str]]:
    return [[layer.type for layer in path] for path in win.doc.architecture.layers[top].paths]


def top_types(win: MainWindow) -> list[str]:
    return [layer.type for layer in win.doc.architecture.layers]


def drop(win: MainWindow, mime, row: int, onto: bool = False) -> bool:
    model = win.stack_view.stack_model
    if onto:
        return model.dropMimeData(mime, Qt.DropAction.CopyAction, -1, 0, model.index(row))
    return model.dropMimeData(mime, Qt.DropAction.MoveAction, row, 0, QModelIndex())


def send_drop(win: MainWindow, mime, point: QPoint) -> None:
    """A drag entering the stack, moving to `point` and dropped there."""
    viewport = win.stack_view.viewport()
    actions = Qt.DropAction.CopyAction | Qt.DropAction.MoveAction
    buttons, mods = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    QApplication.sendEvent(viewport, QDragEnterEvent(point, actions, mime, buttons, mods))
    QApplication.sendEvent(viewport, QDragMoveEvent(point, actions, mime, buttons, mods))
    event = QDropEvent(QPointF(point), actions, mime, buttons, mods)
    event.setDropAction(Qt.DropAction.CopyAction)
    QApplication.sendEvent(viewport, event)


def test_rows_show_blocks_with_their_paths_headers_and_merges(window):
    assert rows_of(window) == ROWS


def test_rows_map_to_flat_indices_and_back(window):
    model = window.stack_view.stack_model
    layer_rows = [r for r, row in enumerate(ROWS) if row[0] == LAYER]
    for r, (kind, index, _depth, _said) in enumerate(ROWS):
        assert model.row_index(r) == (index if kind == LAYER else None)
    assert [model.row_of(i) for i in range(8)] == layer_rows
    assert model.row_index(len(ROWS)) is None
    # Every flat index is a layer of the analysis, in pre-order.
    addresses = [window.doc.analysis.layers[model.row_index(r)].address for r in layer_rows]
    inner = ["1.body.0", "1.body.1", "2", "3", "3.branches.0.0", "3.branches.1.0"]
    assert addresses == ["0", "1", *inner]


def test_header_and_merge_rows_are_not_selectable(window):
    model = window.stack_view.stack_model
    selectable = Qt.ItemFlag.ItemIsSelectable
    assert not model.flags(model.index(2)) & selectable
    assert not model.flags(model.index(6)) & selectable
    assert model.flags(model.index(2)) & Qt.ItemFlag.ItemIsDropEnabled
    assert model.flags(model.index(3)) & selectable


def test_a_block_closes_and_opens_and_the_selection_stays_flat(window, qtbot):
    view = window.stack_view
    view.select_rows([5])
    view.set_open(1, False)
    assert [kind for kind, *_ in rows_of(window)][:3] == [LAYER, LAYER, LAYER]
    assert view.stack_model.rowCount() == len(ROWS) - 5
    assert view.selected_rows() == [5] and view.current_row() == 5
    # Selecting a layer inside a closed block opens it.
    view.select_rows([3])
    assert view.stack_model.is_open(1) and view.selected_rows() == [3]


def test_left_and_right_keys_close_and_open_a_block(window, qtbot):
    view = window.stack_view
    view.setFocus()
    qtbot.waitUntil(view.hasFocus)
    view.select_rows([2])  # inside the residual block
    qtbot.keyClick(view, Qt.Key.Key_Left)
    assert view.selected_rows() == [1]  # ← goes to the block
    qtbot.keyClick(view, Qt.Key.Key_Left)
    assert not view.stack_model.is_open(1)
    qtbot.keyClick(view, Qt.Key.Key_Right)
    assert view.stack_model.is_open(1)
    assert rows_of(window) == ROWS


def test_a_click_on_the_arrow_closes_the_block(window, qtbot):
    view = window.stack_view
    rect = view.visualRect(view.stack_model.index(8))
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(6, rect.center().y()))
    assert not view.stack_model.is_open(5)
    assert view.stack_model.rowCount() == len(ROWS) - 6


def test_a_palette_drop_onto_a_path_header_goes_into_that_path(window):
    assert drop(window, layer_mime("Tanh"), 13, onto=True)  # "branch 2: identity"
    assert paths(window, 3) == [["Conv2d"], ["Conv2d"], ["Tanh"]]
    assert window.stack_view.selected_rows() == [window.doc.analysis.at("3.branches.2.0").index]
    window.doc.undo_stack.undo()
    assert paths(window, 3) == [["Conv2d"], ["Conv2d"], []]


@pytest.mark.parametrize(
    "row, expected",
    [
        (4, [["Conv2d", "Tanh", "BatchNorm2d"], []]),  # before the BatchNorm2d
        (5, [["Conv2d", "BatchNorm2d", "Tanh"], []]),  # the end of the body
        (6, [["Conv2d", "BatchNorm2d"], ["Tanh"]]),  # before the merge: end of the shortcut
        (3, [["Tanh", "Conv2d", "BatchNorm2d"], []]),  # the start of the body
    ],
)
def test_a_palette_drop_between_inner_rows_lands_in_that_path(window, row, expected):
    assert drop(window, layer_mime("Tanh"), row)
    assert paths(window, 1) == expected
    assert len(window.doc.architecture.layers) == 4


def test_a_row_dragged_out_of_a_block_lands_in_the_stack(window):
    model = window.stack_view.stack_model
    mime = model.mimeData([model.index(3)])  # 1.body.0, the Conv2d
    assert drop(window, mime, 7)  # before the ReLU at the top level
    assert top_types(window) == ["Conv2d", "Residual", "Conv2d", "ReLU", "Parallel"]
    assert paths(window, 1) == [["BatchNorm2d"], []]
    assert window.stack_view.selected_rows() == [3]  # the moved Conv2d, now "2"
    window.doc.undo_stack.undo()
    assert window.doc.architecture == branching()


def test_a_row_dragged_into_a_block_and_between_branches(window):
    model = window.stack_view.stack_model
    assert drop(window, model.mimeData([model.index(7)]), 11, onto=True)  # ReLU → branch 1
    assert paths(window, 2) == [["Conv2d"], ["ReLU", "Conv2d"], []]
    model = window.stack_view.stack_model
    row = model.row_of(window.doc.analysis.at("2.branches.0.0").index)
    header = next(
        r for r in range(model.rowCount()) if model.index(r).data() == "branch 2: identity"
    )
    assert drop(window, model.mimeData([model.index(row)]), header, onto=True)
    assert paths(window, 2) == [[], ["ReLU", "Conv2d"], ["Conv2d"]]


def test_a_block_cannot_be_dropped_into_itself(window):
    model = window.stack_view.stack_model
    assert not drop(window, model.mimeData([model.index(1)]), 5)
    assert window.doc.architecture == branching()


def test_a_drop_event_on_a_header_row_goes_into_its_path(window):
    view = window.stack_view
    rect = view.visualRect(view.stack_model.index(5))  # "shortcut: identity"
    send_drop(window, layer_mime("Dropout"), QPoint(rect.center().x(), rect.center().y()))
    assert paths(window, 1) == [["Conv2d", "BatchNorm2d"], ["Dropout"]]


def test_the_drop_place_knows_its_depth():
    """Every gap between rows is one place in the tree, at its path's depth."""
    from cnnviz.core.analysis import analyze
    from cnnviz.qt.editor.stack_rows import build_rows

    rows = build_rows(analyze(branching()), lambda _info: True)
    assert drop_target(rows, 0, False, 4) == Drop("", 0, 0)
    assert drop_target(rows, 2, True, 4) == Drop("1.body", 0, 1)
    assert drop_target(rows, 2, False, 4) == Drop("1.body", 0, 1)
    assert drop_target(rows, 5, False, 4) == Drop("1.body", 2, 1)
    assert drop_target(rows, 6, False, 4) == Drop("1.shortcut", 0, 1)
    assert drop_target(rows, 7, False, 4) == Drop("", 2, 0)
    assert drop_target(rows, 11, False, 4) == Drop("3.branches.0", 1, 1)
    assert drop_target(rows, 14, False, 4) == Drop("3.branches.2", 0, 1)
    assert drop_target(rows, 15, False, 4) == Drop("", 4, 0)
    assert drop_target(rows, -1, False, 4) == Drop("", 4, 0)


def test_a_template_dropped_in_the_stack_fits_where_it_lands(window):
    palette = window.palette.tree
    item = palette.item_for("ResNet basic block")
    assert item is not None and "Two 3×3 convolutions" in item.toolTip(0)
    mime = palette.mimeData([item])
    assert drop(window, mime, 7)  # after the residual block: 8 channels arrive
    block = window.doc.architecture.layers[2]
    assert block.type == "Residual" and block.paths[0][0].get("out_channels") == 8
    assert window.doc.analysis.valid
    names = [item.data(0, TYPE_ROLE) for item in palette.type_items()]
    for name in ("Residual block", "Parallel (concat)", "Parallel (add)", "Inception module"):
        assert name in names


def test_enter_on_a_palette_block_appends_it(window):
    window.palette.layer_activated.emit("Parallel (add)")
    last = window.doc.architecture.layers[-1]
    assert last.type == "Parallel" and last.get("merge") == "add" and last.paths == ((), ())


def test_ctrl_g_wraps_the_selection_in_a_residual_block(window, qtbot):
    view = window.stack_view
    window.activateWindow()
    view.setFocus()
    qtbot.waitUntil(view.hasFocus)
    view.select_rows([2, 3])  # the residual's body: a block in a block
    qtbot.keyClick(view, Qt.Key.Key_G, Qt.KeyboardModifier.ControlModifier)
    inner = window.doc.architecture.layers[1].paths[0]
    assert [layer.type for layer in inner] == ["Residual"]
    assert [layer.type for layer in inner[0].paths[0]] == ["Conv2d", "BatchNorm2d"]
    assert view.selected_rows() == [2]
    qtbot.keyClick(
        view, Qt.Key.Key_G, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
    )
    assert window.doc.architecture == branching()
    window.doc.undo_stack.undo()
    window.doc.undo_stack.undo()
    assert window.doc.architecture == branching()


def test_wrapping_layers_of_two_paths_is_refused_in_words(window, qtbot):
    refused = []
    window.stack_view.edit_refused.connect(refused.append)
    window.stack_view.select_rows([0, 2])
    window.stack_view.wrap_action.trigger()
    assert window.doc.architecture == branching()
    assert refused and "one path" in refused[0]


def test_the_context_menu_of_a_parallel_block_adds_a_branch(window):
    view = window.stack_view
    view.select_rows([5])
    texts = [a.text().replace("&", "") for a in view.context_menu().actions()]
    assert {"Wrap in Residual Block", "Unwrap Block", "Add Branch", "Close Block"} <= set(texts)
    view.add_branch_action.trigger()
    assert len(window.doc.architecture.layers[3].paths) == 4
    view.select_rows([0])
    texts = [a.text().replace("&", "") for a in view.context_menu().actions()]
    assert "Unwrap Block" not in texts and "Wrap in Residual Block" in texts


def test_the_edit_menu_and_the_shortcut_list_have_wrap(window):
    from cnnviz.qt.window import help

    rows = help.shortcut_rows(window)
    assert ("Edit", "Wrap in Residual Block", "Ctrl+G") in rows


def test_properties_show_a_residual_blocks_arithmetic(window):
    analysis = window.doc.analysis
    window.stack_view.select_rows([1])
    text = window.properties.formula.text()
    body = analysis.params_within(2) + analysis.params_within(3)
    assert body == analysis.layers[2].params + analysis.layers[3].params > 0
    assert path_rows(analysis, analysis.layers[1]) == [
        ("body", 2, (8, 16, 16), body),
        ("shortcut", 0, (8, 16, 16), 0),
    ]
    cells = "<td align='right'>{}</td>"
    body_row = "<td>body</td>" + "".join(cells.format(v) for v in (2, "8×16×16", f"{body:,}"))
    assert body_row in text
    assert "<td>shortcut</td>" + cells.format("identity") in text
    assert "body 8×16×16 + shortcut 8×16×16 = 8×16×16" in text
    assert f"merge: {8 * 16 * 16:,} MACs" in text and analysis.layers[1].macs == 8 * 16 * 16
    assert f"parameters: {body:,} + 0 = {analysis.params_within(1):,}" in text
    assert f"{analysis.params_within(1):,}" in window.properties.subtitle.text()


def test_properties_show_a_concat_and_edit_its_merge(window):
    window.stack_view.select_rows([5])
    text = window.properties.formula.text()
    assert "concat: 4 + 2 + 8 = 14 channels × 16×16" in text
    assert window.doc.analysis.layers[5].output_shape == (14, 16, 16)
    editor = window.properties.editors["merge"]
    editor.edited.emit("add")
    assert window.doc.architecture.layers[3].get("merge") == "add"
    # 4, 2 and 8 channels cannot be added: the block and its merge turn red.
    model = window.stack_view.stack_model
    merge_row = next(
        r
        for r in range(model.rowCount())
        if model.index(r).data() == "⊕ add" and model.row(r).info.index == 5
    )
    assert "an add needs equal shapes" in model.index(merge_row).data(ERROR_ROLE)
    assert "Invalid" in window.properties.error.text()
    window.doc.undo_stack.undo()
    assert window.doc.analysis.valid


def test_the_drop_indicator_follows_the_drag_at_the_paths_depth(window):
    view = window.stack_view
    model = view.stack_model
    mime = layer_mime("Tanh")
    actions = Qt.DropAction.CopyAction | Qt.DropAction.MoveAction
    buttons, mods = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    viewport = view.viewport()

    def move_to(row: int, lower: bool) -> tuple:
        rect = view.visualRect(model.index(row))
        point = QPoint(rect.center().x(), rect.bottom() - 2 if lower else rect.top() + 2)
        QApplication.sendEvent(viewport, QDragMoveEvent(point, actions, mime, buttons, mods))
        return view._drop

    QApplication.sendEvent(viewport, QDragEnterEvent(QPoint(5, 5), actions, mime, buttons, mods))
    assert move_to(4, lower=True) == (5, False, Drop("1.body", 2, 1))  # after the BatchNorm2d
    assert move_to(6, lower=True) == (7, False, Drop("", 2, 0))  # after the block
    assert move_to(13, lower=False) == (13, True, Drop("3.branches.2", 0, 1))  # onto a header
    QApplication.sendEvent(viewport, QDragLeaveEvent())
    assert view._drop is None


def test_a_large_network_starts_with_its_blocks_closed(qtbot):
    from cnnviz.core.presets import load_preset
    from cnnviz.qt.editor.document import Document
    from cnnviz.qt.editor.stack_view import StackView

    doc = Document(load_preset("resnet18"))
    view = StackView(doc)
    qtbot.addWidget(view)
    model = view.stack_model
    assert model.rowCount() == len(doc.architecture.layers)  # one row per top-level entry
    first = doc.analysis.at("4").index
    view.select_rows([doc.analysis.at("4.body.0").index])  # opens the block around it
    assert model.is_open(first) and model.row_of(first + 1) == model.row_of(first) + 2
    assert model.rowCount() == len(doc.architecture.layers) + 5 + 3


def test_the_totals_count_layers_and_blocks_apart(window):
    text = window.stack_panel.totals.text()
    assert "6 layers · 2 blocks · " in text
    assert f"<b>{window.doc.analysis.total_params:,}</b> parameters" in text


def test_a_new_document_forgets_the_blocks_opened_by_hand(window):
    view = window.stack_view
    view.set_open(1, False)
    window.doc.reset(Project(branching()), None)
    assert rows_of(window) == ROWS
    assert view.selected_rows() == [0]
