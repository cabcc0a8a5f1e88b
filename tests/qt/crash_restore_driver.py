"""Runs the real cnnviz (the `python -m cnnviz` start-up) and acts on its window.

Used by test_crash_restore.py in a child process:

    python crash_restore_driver.py edit OUT.json [cnnviz arguments...]
        appends a Dropout layer once the window is up and writes the stack it
        then shows to OUT.json; the test kills the process afterwards.
    python crash_restore_driver.py report OUT.json [cnnviz arguments...]
        writes the stack the window shows (and whether it is unsaved) to
        OUT.json, then quits normally.

The QApplication is made here first so that a timer can find the window;
cnnviz's own start-up (cnnviz.cli.main → cnnviz.app.main) does the rest.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

POLL_MS = 50


def _main_window(app: QApplication):
    from cnnviz.qt.main_window import MainWindow

    shown = [w for w in app.topLevelWidgets() if isinstance(w, MainWindow) and w.isVisible()]
    return shown[0] if shown else None


def _write(out: Path, window) -> None:
    state = {"architecture": window.doc.architecture.to_json(), "modified": window.doc.modified}
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(state), encoding="utf-8")
    tmp.replace(out)  # the test polls for the file: it must appear complete


def main() -> int:
    mode, out, cnnviz_args = sys.argv[1], Path(sys.argv[2]), sys.argv[3:]
    app = QApplication(["cnnviz"])

    def act() -> None:
        window = _main_window(app)
        if window is None:
            QTimer.singleShot(POLL_MS, act)
            return
        if mode == "edit":
            window.append_layer("Dropout")
            _write(out, window)
        else:
            _write(out, window)
            app.exit(0)

    QTimer.singleShot(0, act)
    from cnnviz.cli import main as cnnviz_main

    return cnnviz_main(cnnviz_args)


if __name__ == "__main__":
    sys.exit(main())
