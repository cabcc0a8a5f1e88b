"""An edit repaints only what it changed: the stack's rows that show something
new (drawn once, then copied), and neither the window's layout nor the
Properties editors that show the same value."""

from __future__ import annotations

import pytest
from PySide6.QtGui import QColor, QPalette

from cnnviz.core.architecture import Architecture, InputShape, Layer
from cnnviz.qt.editor.commands import SetInputCommand, SetParamCommand
from cnnviz.qt.editor.document import Document
from cnnviz.qt.editor.param_editors import IntEditor, PairEditor
from cnnviz.qt.editor.properties import PropertiesPanel
from cnnviz.qt.editor.stack_model import LOOK_ROLE, StackModel
from cnnviz.qt.editor.stack_panel import StackPanel
from tests.qt.test_stack_tree import branching
from tests.qt.test_training_drawing import layout_requests_to


def plain() -> Architecture:
    layers = (
        Layer.make("Conv2d", out_channels=8, kernel_size=3, padding=1),
        Layer.make("ReLU"),
        Layer.make("MaxPool2d", kernel_size=2),
        Layer.make("Conv2d", out_channels=16, kernel_size=3, padding=1),
        Layer.make("ReLU"),
        Layer.make("Flatten"),
        Layer.make("Linear", out_features=10),
    )
    return Architecture("plain", InputShape(3, 16, 16), layers)


@pytest.fixture
def panel(qtbot):
    kept = []  # the panels live as long as the test

    def make(arch: Architecture) -> StackPanel:
        widget = StackPanel(Document(arch))
        kept.append(widget)
        qtbot.addWidget(widget)
        widget.resize(520, 640)
        widget.show()
        qtbot.waitExposed(widget)
        return widget

    yield make
    kept.clear()


def edit(doc: Document, index: int, name: str, value) -> None:
    doc.undo_stack.push(SetParamCommand(doc, index, name, value))


def changes_during(model, action) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    model.dataChanged.connect(lambda a, b, _roles=(): spans.append((a.row(), b.row())))
    action()
    return spans


def test_an_edit_reports_only_the_rows_that_show_something_new(panel):
    view = panel(plain()).view
    # 8 → 6 channels: the conv's shape and count, the ReLU's and pool's shapes,
    # the next conv's count; nothing after it changes.
    spans = changes_during(view.stack_model, lambda: edit(view.doc, 0, "out_channels", 6))
    assert spans == [(0, 3)]
    spans = changes_during(view.stack_model, lambda: view.doc.undo_stack.undo())
    assert spans == [(0, 3)]


def test_an_edit_inside_a_block_reports_the_layer_and_its_blocks_row(panel):
    view = panel(branching()).view
    model = view.stack_model
    # The body's conv loses its bias: its count and the block's (everything
    # inside it) change; the header, the batch norm and the merge do not.
    spans = changes_during(model, lambda: edit(view.doc, 2, "bias", False))
    assert spans == [(model.row_of(1), model.row_of(1)), (model.row_of(2), model.row_of(2))]


def looks(model) -> list:
    return [model.index(r).data(LOOK_ROLE) for r in range(model.rowCount())]


@pytest.mark.parametrize(
    ("index", "name", "value"),
    [(2, "bias", False), (0, "out_channels", 5), (6, "kernel_size", 3), (5, "merge", "add")],
)
def test_after_any_edit_the_rows_look_as_a_fresh_stack_would_show_them(panel, index, name, value):
    view = panel(branching()).view
    doc = view.doc
    edit(doc, index, name, value)
    assert looks(view.stack_model) == looks(StackModel(doc))
    doc.undo_stack.undo()
    assert looks(view.stack_model) == looks(StackModel(doc))
    doc.undo_stack.push(SetInputCommand(doc, InputShape(1, 12, 12)))
    assert looks(view.stack_model) == looks(StackModel(doc))


def test_a_repaint_copies_rows_drawn_before(panel):
    view = panel(plain()).view
    delegate = view.itemDelegate()
    view.viewport().grab()
    drawn, painted = delegate.rendered, delegate.painted
    view.viewport().grab()
    assert delegate.painted == painted + 7  # every row painted again...
    assert delegate.rendered == drawn  # ...from the rows drawn before
    edit(view.doc, 0, "out_channels", 6)
    view.viewport().grab()
    assert delegate.rendered == drawn + 4  # only the rows that changed


def test_rows_are_drawn_afresh_in_new_colours_or_disabled(panel):
    view = panel(plain()).view
    delegate = view.itemDelegate()
    view.viewport().grab()
    drawn = delegate.rendered
    palette = QPalette(view.palette())
    palette.setColor(QPalette.ColorRole.Text, QColor("#c00000"))
    view.setPalette(palette)  # a theme change
    view.viewport().grab()
    assert delegate.rendered == drawn + 7
    view.setEnabled(False)
    view.viewport().grab()
    assert delegate.rendered == drawn + 14


def test_an_edit_paints_only_its_rows(panel, qtbot):
    view = panel(plain()).view
    delegate = view.itemDelegate()
    qtbot.wait(50)
    before = delegate.painted
    edit(view.doc, 6, "bias", False)  # only the Linear's count changes
    qtbot.waitUntil(lambda: delegate.painted > before)
    qtbot.wait(50)
    assert delegate.painted == before + 1


def test_a_row_that_turns_invalid_grows_by_its_reason(panel):
    view = panel(plain()).view
    model = view.stack_model
    height = view.visualRect(model.index(0)).height()
    edit(view.doc, 0, "kernel_size", 20)  # larger than the 16×16 input
    assert view.doc.analysis.layers[0].error
    view.viewport().grab()
    assert view.visualRect(model.index(0)).height() > height
    view.doc.undo_stack.undo()
    view.viewport().grab()
    assert view.visualRect(model.index(0)).height() == height


def test_new_totals_do_not_lay_the_panel_out_again(panel):
    stack = panel(plain())
    requests = layout_requests_to(stack)
    edit(stack.doc, 3, "out_channels", 12)
    assert requests() == 0
    assert "<b>" + f"{stack.doc.analysis.total_params:,}" in stack.totals.text()


def test_an_editor_showing_the_value_already_is_left_alone(qtbot):
    param = next(p for p in _conv_params() if p.name == "out_channels")
    editor = IntEditor(param)
    qtbot.addWidget(editor)
    shown = []
    original = editor._show
    editor._show = lambda value: (shown.append(value), original(value))
    editor.set_value(8)
    editor.set_value(8)
    assert shown == [8] and editor.value() == 8
    editor.set_value(9)
    assert shown == [8, 9] and editor.value() == 9


def test_a_pair_shown_as_one_number_still_takes_the_pair(qtbot):
    param = next(p for p in _conv_params() if p.name == "kernel_size")
    editor = PairEditor(param)
    qtbot.addWidget(editor)
    editor.set_value(3)
    editor.set_value((3, 5))  # not the same as what is shown
    assert editor.value() == (3, 5)


def test_properties_reselecting_the_edited_layer_does_not_refresh_again(qtbot):
    doc = Document(plain())
    props = PropertiesPanel(doc)
    qtbot.addWidget(props)
    props.set_row(3)
    calls = []
    original = props._show_editors
    props._show_editors = lambda info: (calls.append(info.index), original(info))
    edit(doc, 3, "out_channels", 12)  # doc.changed refreshes the panel
    props.set_row(3)  # the stack reselects the edited row
    assert calls == [3]
    assert props.editors["out_channels"].value() == 12
    props.set_row(0)
    assert calls == [3, 0]


def _conv_params():
    from cnnviz.core.catalogue import layer_type

    return layer_type("Conv2d").params
