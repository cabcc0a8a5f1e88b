"""The palette at the default window size shows every layer's whole name."""

from __future__ import annotations

from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import QMessageBox, QStyle

from cnnviz.qt.window.main_window import MainWindow


def test_no_palette_name_is_cut_at_the_default_size(qtbot):
    win = MainWindow(start_compute=False, saved_layout=False)
    qtbot.addWidget(win)
    win.files.ask_to_save = lambda: QMessageBox.StandardButton.Discard
    win.show()
    qtbot.waitExposed(win)
    try:
        tree = win.palette.tree
        style = tree.style()
        # What an item needs beside its text, as Qt lays it out: the icon and a
        # margin on each side of icon and text.
        margin = style.pixelMetric(QStyle.PixelMetric.PM_FocusFrameHMargin, None, tree) + 1
        icon = tree.iconSize().width()
        if icon <= 0:
            icon = style.pixelMetric(QStyle.PixelMetric.PM_SmallIconSize, None, tree)
        available = tree.viewport().width()
        for item in tree.type_items():
            text = QFontMetrics(item.font(0)).horizontalAdvance(item.text(0))
            needed = tree.visualItemRect(item).left() + icon + 3 * margin + text
            assert needed <= available, f"{item.text(0)}: needs {needed} px, has {available}"
    finally:
        win.shutdown()
