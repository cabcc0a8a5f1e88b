"""The Gradients panel in the window: Ctrl+8 raises it, and with the real compute thread
the bars of the current network and of its comparison arrive."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from cnnviz.core.gradient_configs import deep_stack
from cnnviz.core.project import Project
from cnnviz.qt.window.main_window import MainWindow


def test_the_current_network_and_its_comparison_get_their_bars(qtbot):
    win = MainWindow(saved_layout=False)  # the real compute thread
    qtbot.addWidget(win)
    win.files.ask_to_save = lambda: QMessageBox.StandardButton.Discard
    try:
        win.doc.reset(Project(deep_stack("Sigmoid")), None)
        win.show()
        qtbot.waitUntil(lambda: win.controller.latest is not None, timeout=60_000)
        qtbot.keyClick(win, Qt.Key.Key_8, Qt.KeyboardModifier.ControlModifier)
        panel = win.panels.docks["gradients"].widget
        qtbot.waitUntil(lambda: panel.bars[0].norms is not None, timeout=60_000)
        panel.compare.setCurrentText("Same with ReLU")
        qtbot.waitUntil(lambda: panel.bars[1].norms is not None, timeout=60_000)
        sigmoid, relu = panel.bars[0].norms, panel.bars[1].norms
        assert sigmoid.addresses == relu.addresses
        assert len(sigmoid.addresses) == len(win.doc.analysis.layers)
        assert sigmoid.weight_grad[0] < 1e-3 * relu.weight_grad[0]  # the lesson, on the image
        assert "loss" in panel.summaries[0].text() and "loss" in panel.summaries[1].text()
    finally:
        win.shutdown()
