"""A project saved with a drawing reopens with that drawing on the pad, not a blank
canvas beside an input that came from it; a new stroke or Clear replaces it."""

from __future__ import annotations

import numpy as np
from PySide6 import QtCore
from PySide6.QtWidgets import QMessageBox

from cnnviz.core.project import Project
from cnnviz.qt.inputs.draw_pad import DrawPad
from tests.qt.test_main_window import make_window
from tests.tiny_net import TINY

# A bright square in the top-left quarter of a 280×280 pad picture.
SAVED = np.zeros((280, 280), np.float32)
SAVED[20:120, 30:130] = 1.0


def test_the_pad_shows_a_saved_drawing_until_a_new_stroke(qtbot):
    pad = DrawPad(throttle_ms=0)
    qtbot.addWidget(pad)
    pad.show_saved(SAVED)
    shown = pad.canvas.array()
    assert shown[60:80, 60:100].min() > 0.9 and shown[200:, 200:].max() < 0.1
    assert pad.clear_button.isEnabled()
    canvas = pad.canvas
    canvas.resize(280, 280)
    qtbot.mousePress(canvas, QtCore.Qt.MouseButton.LeftButton, pos=canvas.to_widget(220, 220))
    qtbot.mouseRelease(canvas, QtCore.Qt.MouseButton.LeftButton, pos=canvas.to_widget(220, 220))
    after = canvas.array()
    assert after[60:80, 60:100].max() < 0.1  # the saved picture is gone
    assert after[215:225, 215:225].max() > 0.9 and len(canvas.strokes()) == 1


def test_clear_removes_a_saved_drawing(qtbot):
    pad = DrawPad(throttle_ms=0)
    qtbot.addWidget(pad)
    pad.show_saved(SAVED)
    with qtbot.waitSignal(pad.image_changed):
        pad.clear()
    assert pad.canvas.array().max() == 0.0 and not pad.clear_button.isEnabled()


def test_reopening_a_project_with_a_drawing_shows_it_on_the_pad(qtbot, tmp_path):
    window = make_window(qtbot)
    window.files.ask_to_save = lambda: QMessageBox.StandardButton.Discard
    window.doc.reset(Project(TINY), None)
    window.files.use_array(SAVED, "drawing")
    path = tmp_path / "drawn.cnnviz"
    assert window.files.save_to(path)
    window.doc.reset(Project(TINY), None)
    assert window.files.open_path(path)
    pad = window.panels.docks["draw_pad"].widget  # built now, fed on building
    np.testing.assert_allclose(pad.canvas.array(), SAVED, atol=1 / 255)
    window.shutdown()
