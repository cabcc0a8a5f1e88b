"""Keys that reach the whole window: undo/redo from a Properties field, Ctrl+1…6."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QMessageBox

from cnnviz.core.architecture import Architecture, InputShape, Layer
from cnnviz.core.project import Project
from cnnviz.qt.window import docks
from cnnviz.qt.window.main_window import MainWindow

CTRL, SHIFT = Qt.KeyboardModifier.ControlModifier, Qt.KeyboardModifier.ShiftModifier


@pytest.fixture
def window(qtbot):
    win = MainWindow(start_compute=False)
    qtbot.addWidget(win)
    win.files.ask_to_save = lambda: QMessageBox.StandardButton.Discard
    arch = Architecture(
        "two",
        InputShape(3, 32, 32),
        (Layer.make("Conv2d", out_channels=8, kernel_size=3), Layer.make("ReLU")),
    )
    win.doc.reset(Project(arch), None)
    win.show()
    qtbot.waitExposed(win)
    win.activateWindow()
    yield win
    win.shutdown()


def focus(qtbot, widget) -> None:
    widget.setFocus()
    qtbot.waitUntil(widget.hasFocus)


def out_channels(win: MainWindow) -> int:
    return win.doc.architecture.layers[0].get("out_channels")


def test_ctrl_z_in_a_properties_field_undoes_the_document(window, qtbot):
    window.select_layer(0)
    box = window.properties.editors["out_channels"].box
    focus(qtbot, box)
    qtbot.keyClick(box, Qt.Key.Key_Up)  # a committed edit, as after the arrows or Enter
    qtbot.keyClick(box, Qt.Key.Key_Up)
    assert out_channels(window) == 10
    qtbot.keyClick(box, Qt.Key.Key_Z, CTRL)
    assert out_channels(window) == 8
    assert window.doc.undo_stack.index() == 0
    assert box.value() == 8  # the field shows the restored value
    assert box.hasFocus()
    qtbot.keyClick(box, Qt.Key.Key_Z, CTRL | SHIFT)
    assert out_channels(window) == 10
    assert box.value() == 10
    qtbot.keyClick(box, Qt.Key.Key_Z, CTRL)
    qtbot.keyClick(box, Qt.Key.Key_Y, CTRL)
    assert out_channels(window) == 10


def test_ctrl_z_undoes_the_last_document_edit_not_the_fields(window, qtbot):
    """Typed into one field, then changed another: Ctrl+Z takes back the other."""
    window.select_layer(0)
    channels = window.properties.editors["out_channels"].box
    focus(qtbot, channels)
    channels.selectAll()
    qtbot.keyClicks(channels, "16")
    window.properties.editors["bias"].box.setChecked(False)
    qtbot.keyClick(channels, Qt.Key.Key_Z, CTRL)
    assert window.doc.architecture.layers[0].get("bias") is True
    assert out_channels(window) == 16


def test_nothing_to_undo_leaves_the_field_alone(window, qtbot):
    """With the document's Undo disabled the key must not fall through to the
    field's own text undo (which would push an edit of its own)."""
    window.select_layer(0)
    box = window.properties.editors["out_channels"].box
    focus(qtbot, box)
    box.selectAll()
    qtbot.keyClicks(box, "16")
    window.doc.undo_stack.clear()
    qtbot.keyClick(box, Qt.Key.Key_Z, CTRL)
    assert window.doc.undo_stack.count() == 0
    assert out_channels(window) == 16


def test_ctrl_z_in_the_input_shape_field_undoes_the_document(window, qtbot):
    box = window.stack_panel.input_editor.height_box
    focus(qtbot, box)
    qtbot.keyClick(box, Qt.Key.Key_Up)
    assert window.doc.architecture.input.height == 33
    qtbot.keyClick(box, Qt.Key.Key_Z, CTRL)
    assert window.doc.architecture.input.height == 32
    assert box.value() == 32


# -- Ctrl+1…6: the panels ----------------------------------------------------------

PANEL_KEYS = {
    Qt.Key.Key_1: "feature_maps",
    Qt.Key.Key_2: "filters",
    Qt.Key.Key_3: "pooling",
    Qt.Key.Key_4: "activation",
    Qt.Key.Key_5: "conv_stepper",
    Qt.Key.Key_6: "training",
    Qt.Key.Key_7: "why",
    Qt.Key.Key_8: "gradients",
    Qt.Key.Key_9: "quiz",
}


def in_front(panel) -> bool:
    """Its dock is shown and its tab is the current one (not hidden behind another)."""
    return panel.dock.isVisible() and not panel.widget.visibleRegion().isEmpty()


def test_ctrl_digit_raises_each_panel(window, qtbot):
    panels = window.panels.docks
    focus(qtbot, window.stack_view)
    for key, name in [*PANEL_KEYS.items(), (Qt.Key.Key_1, "feature_maps")]:
        target = QApplication.focusWidget() or window
        qtbot.keyClick(target, key, CTRL)
        qtbot.waitUntil(lambda p=panels[name]: in_front(p))
        others = [p for k, p in panels.items() if k in PANEL_KEYS.values() and k != name]
        assert not any(in_front(p) for p in others)  # they share one tab group


def test_ctrl_digit_reopens_a_closed_panel(window, qtbot):
    stepper = window.panels.docks["conv_stepper"]
    stepper.dock.close()
    focus(qtbot, window.stack_view)
    qtbot.keyClick(window.stack_view, Qt.Key.Key_5, CTRL)
    qtbot.waitUntil(lambda: in_front(stepper))
    assert stepper.widget.hasFocus()  # Space and the arrows now step the convolution


def test_view_menu_lists_the_panel_keys(window):
    listed = {
        action.text(): action.shortcut().toString()
        for action in window.view_menu.actions()
        if not action.shortcut().isEmpty()
    }
    titles = {spec.key: spec.title for spec in docks.PANELS}
    expected = {titles[name]: f"Ctrl+{key - Qt.Key.Key_0}" for key, name in PANEL_KEYS.items()}
    assert listed == expected
