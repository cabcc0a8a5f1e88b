"""The draw pad in the window: what it draws becomes the input, and the pad shows
the tensor the network got from it (and only from it)."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QStandardPaths
from PySide6.QtWidgets import QMessageBox

from cnnviz.core.project import Project
from cnnviz.qt import settings
from cnnviz.qt.main_window import MainWindow
from tests.qt.test_draw_pad import draw
from tests.qt.test_panels_visibility import STACK, NumpyCompute, compute


@pytest.fixture
def window(qtbot, tmp_path):
    QStandardPaths.setTestModeEnabled(True)
    settings.use_settings_folder(tmp_path / "settings")
    settings.init_application_names()
    numpy_compute = NumpyCompute()
    win = MainWindow(numpy_compute, start_compute=False, saved_layout=False)
    qtbot.addWidget(win)
    win.files.ask_to_save = lambda: QMessageBox.StandardButton.Discard
    win.compute = numpy_compute
    win.doc.reset(Project(STACK), None)
    win.show()
    qtbot.waitExposed(win)
    yield win
    win.shutdown()


def test_a_drawing_becomes_the_input_and_the_pad_shows_that_tensor(qtbot, window):
    pad = window.panels.widget("draw_pad")
    pad.show()
    pad.resize(320, 460)
    qtbot.waitExposed(pad.canvas)
    caption = pad.preview_caption.text()
    draw(qtbot, pad, [(30, 30), (40, 20), (40, 80)])  # a small "1" in a corner
    compute(qtbot, window)
    network_input = window.panels.latest.result.input
    assert network_input.shape == (1, 12, 12)
    # Framed: the ink is in the middle of the input, not in its top-left corner.
    rows, cols = np.nonzero(network_input[0] > 0.3)
    assert abs(rows.mean() - 5.5) < 1.5 and abs(cols.mean() - 5.5) < 1.5
    assert pad.preview_caption.text() != caption
    assert "1×12×12" in pad.preview_caption.text()


def test_an_image_that_is_not_the_drawing_leaves_the_pad_preview_alone(qtbot, window):
    pad = window.panels.widget("draw_pad")
    caption = pad.preview_caption.text()
    window.files.use_array(np.ones((20, 20), np.float32), "pasted image")
    compute(qtbot, window)
    assert pad.preview_caption.text() == caption
