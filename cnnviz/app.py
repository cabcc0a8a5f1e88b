"""Start the window: `cnnviz [FILE] [--image IMAGE] [--select-layer LAYER] [--screenshot OUT.png]`.

`main(args)` is called by `cnnviz.cli` with the parsed GUI arguments. With
`--screenshot` the window is rendered offscreen-friendly after the first
compute result (or error), saved as PNG, and the program exits: 0 when the
picture shows a result, 2 (with one line on stderr) when something failed.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Mapping
from pathlib import Path

EXIT_OK, EXIT_USAGE = 0, 2
SCREENSHOT_TIMEOUT_MS = 120_000
# Time for the panels to paint after the result before the window is grabbed.
SETTLE_MS = 250

log = logging.getLogger("cnnviz")


NO_DISPLAY = (
    "no display found: run it in a desktop session, set DISPLAY, or use "
    "QT_QPA_PLATFORM=offscreen with --screenshot; the commands summary, run, train, "
    "animate need no display"
)


def display_problem(environ: Mapping[str, str], platform: str) -> str | None:
    """NO_DISPLAY where Qt would find no display, else None.

    Asked before the QApplication exists, because Qt's answer to a missing
    display is a page of plugin messages and abort() (status 134). Only the
    X11 case is certain enough to refuse: Windows and macOS always have their
    platform plugin, and any other QT_QPA_PLATFORM (offscreen, wayland, eglfs,
    vnc, ...) is left to Qt, which knows better where it can draw.
    """
    if platform in ("win32", "darwin"):
        return None
    wanted = environ.get("QT_QPA_PLATFORM", "")
    # Qt reads "name:options" entries, several separated by ";" as fallbacks.
    names = {entry.split(":")[0].strip() for entry in wanted.split(";")} - {""}
    if names - {"xcb"}:
        return None
    if environ.get("DISPLAY") or (not names and environ.get("WAYLAND_DISPLAY")):
        return None
    return NO_DISPLAY


def _error(message: str) -> int:
    print(f"cnnviz: error: {message}", file=sys.stderr)
    return EXIT_USAGE


def _application():
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([sys.argv[0] if sys.argv else "cnnviz"])
    from cnnviz.qt.window import settings

    settings.init_application_names()
    import pyqtgraph as pg

    pg.setConfigOptions(imageAxisOrder="row-major", antialias=True)
    return app


def _install_robustness(app, interactive: bool) -> None:
    """Crash log and dialog (qt.window.crash), system light/dark scheme (qt.style.theme)."""
    try:
        from cnnviz.qt.window.crash import install_crash_handler

        install_crash_handler(show_dialog=interactive)
    except ImportError:
        log.info("no crash handler in this build")
    try:
        from cnnviz.qt.style.theme import apply_color_scheme

        apply_color_scheme(app)
    except ImportError:
        log.info("no theme support in this build")


def _start_autosave(window) -> bool:
    """Offer to restore after a crash, then autosave the document from now on.
    True when a crashed session's work was restored."""
    try:
        from cnnviz.qt.window.autosave import Autosaver, offer_restore
    except ImportError:
        return False
    text = offer_restore(window)
    restored = bool(text) and window.restore_snapshot(text)
    window.autosaver = Autosaver(window.doc.snapshot, parent=window)
    window.autosaver.follow(window.doc)
    window.autosaver.start()
    return restored


def _open_inputs(window, args: argparse.Namespace, *, restored: bool = False) -> str | None:
    """Open the file and image named on the command line; the first problem, or None."""
    file = args.open_file or args.file
    if file and restored:
        log.warning("restored the work of a crashed session; %s was not opened", file)
    elif file and _is_preset_name(file):
        window.open_preset(file)
    elif file and not window.files.open_path(file):
        return window.statusbar.problem_text or f"cannot open {file}"
    if args.image and not window.files.open_image(args.image):
        return window.statusbar.problem_text or f"cannot use the image {args.image}"
    if args.select_layer is not None:
        analysis = window.doc.analysis
        try:  # an address: "3" at the top level, "3.body.0" inside a block
            index = analysis.at(str(args.select_layer).strip()).index
        except KeyError:
            count = len(analysis.top_level)
            return (
                f"--select-layer {args.select_layer}: no such layer; the stack has layers "
                f"0 to {count - 1}, and a layer inside a block is named like 3.body.0"
            )
        window.select_layer(index)
    return None


def _is_preset_name(name: str) -> bool:
    from cnnviz.core.presets import PRESETS

    key = name.lower().replace("-", "").replace("_", "")
    return key in PRESETS and not Path(name).exists()


def take_screenshot(app, window, out: str | Path, timeout_ms: int = SCREENSHOT_TIMEOUT_MS) -> int:
    """Show the window, wait for the first result (or error), save it as PNG."""
    from PySide6.QtCore import QEventLoop, QTimer

    outcome: dict[str, str | None] = {}
    loop = QEventLoop()

    def finish(problem: str | None) -> None:
        if "problem" not in outcome:
            outcome["problem"] = problem
            QTimer.singleShot(SETTLE_MS, loop.quit)

    window.result_shown.connect(lambda _view: finish(None))
    window.controller.failed.connect(finish)
    QTimer.singleShot(timeout_ms, lambda: finish("no compute result within the time limit"))
    window.show()
    loop.exec()
    app.processEvents()
    out = Path(out)
    saved = window.grab().save(str(out))
    window.shutdown()
    if not saved:
        return _error(f"cannot write the screenshot {out}")
    if outcome.get("problem"):
        return _error(f"{outcome['problem']} (screenshot saved to {out})")
    log.info("screenshot saved to %s", out)
    return EXIT_OK


def main(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    screenshot = getattr(args, "screenshot", None)
    problem = display_problem(os.environ, sys.platform)
    if problem:
        return _error(problem)
    app = _application()
    _install_robustness(app, interactive=not screenshot)
    from cnnviz.qt.window.main_window import MainWindow, release_window

    # Screenshots use the default layout, whatever this person's settings say.
    window = MainWindow(saved_layout=not screenshot)
    if args.device:
        window.set_device(args.device, remember=False)
    if screenshot:
        problem = _open_inputs(window, args)
        if problem:
            window.shutdown()
            return _error(problem)
        code = take_screenshot(app, window, screenshot)
    else:
        restored = _start_autosave(window)
        _open_inputs(window, args, restored=restored)
        window.show()
        code = int(app.exec())
    release_window(window)  # not at exit: see there
    return code
