"""The toolbar at the default size: Undo/Redo keep one short word, the tooltip names the edit."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QMessageBox, QToolButton

from cnnviz.core.architecture import Architecture, InputShape, Layer
from cnnviz.core.project import Project
from cnnviz.qt.editor import commands
from cnnviz.qt.window.main_window import MainWindow


@pytest.fixture
def window(qtbot):
    win = MainWindow(start_compute=False, saved_layout=False)
    qtbot.addWidget(win)
    win.files.ask_to_save = lambda: QMessageBox.StandardButton.Discard
    arch = Architecture(
        "one", InputShape(3, 32, 32), (Layer.make("Conv2d", out_channels=8, kernel_size=3),)
    )
    win.doc.reset(Project(arch), None)
    win.show()
    qtbot.waitExposed(win)
    yield win
    win.shutdown()


def button(win: MainWindow, action) -> QToolButton:
    found = win.toolbar.widgetForAction(action)
    assert isinstance(found, QToolButton)
    return found


def test_undo_button_keeps_its_word_and_the_tooltip_names_the_edit(window):
    undo, redo = window.menu_actions.undo, window.menu_actions.redo
    width = button(window, undo).sizeHint().width()
    window.doc.undo_stack.push(commands.SetParamCommand(window.doc, 0, "out_channels", 16))
    assert "out_channels" in undo.text()  # the Edit menu names the command
    assert button(window, undo).text() == "Undo"
    assert "out_channels" in button(window, undo).toolTip()
    assert button(window, undo).sizeHint().width() == width  # nothing pushed aside
    window.doc.undo_stack.undo()
    assert button(window, redo).text() == "Redo"
    assert "out_channels" in button(window, redo).toolTip()
    assert "out_channels" not in button(window, undo).toolTip()
