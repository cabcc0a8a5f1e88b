"""Help: the guide and the keyboard-shortcut list read from the window's actions."""

from __future__ import annotations

import re

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QApplication, QMessageBox

from cnnviz.qt.window import help
from cnnviz.qt.window.main_window import MainWindow

NATIVE = QKeySequence.SequenceFormat.NativeText


@pytest.fixture
def window(qtbot):
    win = MainWindow(start_compute=False)
    qtbot.addWidget(win)
    win.files.ask_to_save = lambda: QMessageBox.StandardButton.Discard
    win.show()
    qtbot.waitExposed(win)
    win.activateWindow()
    yield win
    win.shutdown()


def keyed_actions(win: MainWindow) -> list[QAction]:
    return [a for a in win.findChildren(QAction) if not a.shortcut().isEmpty()]


def test_every_action_with_a_key_is_listed(window):
    rows = help.shortcut_rows(window)
    listed = {(command, keys) for _group, command, keys in rows}
    actions = keyed_actions(window)
    assert len(actions) >= 20  # the menus, the stack's keys, Ctrl+1…6
    for action in actions:
        first = action.shortcut().toString(NATIVE)
        assert any(
            command == help._title(action) and first in keys.split(", ") for command, keys in listed
        ), f"{action.text()} ({first}) is not in the list"


def test_the_list_has_the_panel_keys_and_the_help_keys(window):
    keys = {keys for _group, _command, keys in help.shortcut_rows(window)}
    for digit in "123456":
        assert QKeySequence(f"Ctrl+{digit}").toString(NATIVE) in keys
    assert QKeySequence("Ctrl+/").toString(NATIVE) in keys


def test_ctrl_slash_opens_the_list_and_f1_the_guide(window, qtbot):
    qtbot.keyClick(window.stack_view, Qt.Key.Key_Slash, Qt.KeyboardModifier.ControlModifier)
    dialog = window.help.shortcuts_dialog
    assert dialog is not None and dialog.isVisible()
    text = window.help.shortcuts_browser.toPlainText()
    assert "Convolution step by step" in text and "Ctrl+5" in text
    dialog.close()
    target = QApplication.focusWidget() or window
    qtbot.keyClick(target, Qt.Key.Key_F1)
    assert window.help.guide_dialog is not None and window.help.guide_dialog.isVisible()
    window.help.guide_dialog.close()


def test_the_guide_names_only_keys_that_exist(window):
    """The guide is written by hand: every Ctrl+… in it must still be a real key."""
    real = {k.toString() for a in keyed_actions(window) for k in a.shortcuts()}
    real |= {keys for *_rest, keys in help.PANEL_KEYS}
    named = set(re.findall(r"Ctrl\+\S+?(?=[\s,.)<:])", help.GUIDE))
    assert {"Ctrl+D", "Ctrl+Z", "Ctrl+5", "Ctrl+S"} <= named
    assert named <= real
