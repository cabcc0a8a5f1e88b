"""The window is deleted when the app's event loop ends, not left to PySide's exit
handler (which deleted it with pyqtgraph items half torn down: SIGSEGV at exit)."""

from __future__ import annotations

import argparse

import shiboken6
from PySide6.QtCore import QStandardPaths
from PySide6.QtWidgets import QApplication

import cnnviz.app
from cnnviz.qt.window import settings
from cnnviz.qt.window.main_window import MainWindow, release_window


def main_windows() -> list:
    return [w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow)]


def test_a_window_outlives_its_last_reference_unless_released(qtbot, tmp_path):
    settings.use_settings_folder(tmp_path)
    window = MainWindow(start_compute=False, saved_layout=False)
    window.show()
    qtbot.waitExposed(window)
    before = len(main_windows())
    release_window(window)
    assert not shiboken6.isValid(window)
    assert len(main_windows()) == before - 1


def test_the_app_releases_its_window_when_the_event_loop_ends(qtbot, tmp_path, monkeypatch):
    QStandardPaths.setTestModeEnabled(True)
    settings.use_settings_folder(tmp_path)
    app = QApplication.instance()
    seen = []
    monkeypatch.setattr(cnnviz.app, "_install_robustness", lambda app, interactive: None)
    monkeypatch.setattr(cnnviz.app, "_start_autosave", lambda window: False)
    monkeypatch.setattr(type(app), "exec", lambda self: seen.extend(main_windows()) or 0)
    args = argparse.Namespace(screenshot=None, device=None, file=None, open_file=None, image=None)
    args.select_layer = None
    assert cnnviz.app.main(args) == 0
    assert len(seen) == 1
    assert not shiboken6.isValid(seen[0])
