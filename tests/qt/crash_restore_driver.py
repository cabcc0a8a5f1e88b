"""Runs the real cnnviz (the `python -m cnnviz` start-up) and acts on its window.

Used by test_crash_restore.py in a child process:

    python crash_restore_driver.py edit OUT.json [cnnviz arguments...]
        appends a Dropout layer and draws a digit once the window is up, and
        two turns of the event loop later writes what the window then shows to
        OUT.json; the test kills the process as soon as it sees the file.
    python crash_restore_driver.py report OUT.json [cnnviz arguments...]
        writes the stack and drawing the window shows (and whether they are
        unsaved) to OUT.json, then quits normally.

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
    from cnnviz.qt.window.main_window import MainWindow

    shown = [w for w in app.topLevelWidgets() if isinstance(w, MainWindow) and w.isVisible()]
    return shown[0] if shown else None


def drawing():
    """A digit as the draw pad makes it: whole steps of 1/255."""
    import numpy as np

    return (np.add.outer(np.arange(28), 3 * np.arange(28)) % 256).astype(np.float32) / 255.0


def _write(out: Path, window) -> None:
    image = window.doc.image
    state = {
        "architecture": window.doc.architecture.to_json(),
        "modified": window.doc.modified,
        "image": None if image is None else image.tolist(),
    }
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
            window.files.use_array(drawing(), "drawing")
            # No waiting for the autosave: the test kills the process right after this.
            QTimer.singleShot(0, lambda: QTimer.singleShot(0, lambda: _write(out, window)))
        else:
            _write(out, window)
            app.exit(0)

    QTimer.singleShot(0, act)
    from cnnviz.cli import main as cnnviz_main

    return cnnviz_main(cnnviz_args)


if __name__ == "__main__":
    sys.exit(main())
