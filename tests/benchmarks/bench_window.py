"""How quickly the window appears and follows an edit (figures printed, not asserted).

    QT_QPA_PLATFORM=offscreen python tests/benchmarks/bench_window.py

1. start-up: from a fresh interpreter to the window painted, beside a bare
   PySide6 + pyqtgraph window and beside the window with every panel built at
   start-up (as before panels were built on first use); then with the compute
   thread (which loads torch alongside), to the first forward result;
2. one edit of the VGG-16 stack (a parameter through the undo stack): the
   document's analysis, the stack rows, the properties panel and the title,
   painted; the median of many edits;
3. the same edits with the compute thread running: edit to the result shown.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

STARTUP_CODE = r"""
import time, sys
t0 = time.perf_counter()
mode = sys.argv[3]  # bare | window | eager | compute
compute = mode == "compute"
from PySide6.QtWidgets import QApplication, QMainWindow
from PySide6.QtCore import QEventLoop, QTimer
app = QApplication(["cnnviz"])
if mode == "bare":
    import pyqtgraph as pg
    window = QMainWindow()
    window.setCentralWidget(pg.GraphicsLayoutWidget())
    window.resize(1800, 1050)
    window.show()
    app.processEvents()
    window.repaint()
    print(f"{(time.perf_counter() - t0) * 1000:.0f} 0")
    sys.exit(0)
from cnnviz.qt.window import settings
settings.use_settings_folder(sys.argv[1])
settings.init_application_names()
from cnnviz.qt.window.main_window import MainWindow, release_window
window = MainWindow(saved_layout=False, start_compute=compute)
window.open_preset(sys.argv[2])
if mode == "eager":  # as before issue 14: every panel built with the window
    for panel in window.panels.docks.values():
        panel.ensure()
window.show()
app.processEvents()
window.repaint()
painted = time.perf_counter() - t0
if not compute:
    # The panels in sight are built after the first paint: until they are drawn.
    in_sight = [p for p in window.panels.docks.values() if p.dock.isVisible()]
    while not all(p.built for p in in_sight if not p.content.visibleRegion().isEmpty()):
        app.processEvents()
    window.repaint()
    print(f"{painted * 1000:.0f} {(time.perf_counter() - t0) * 1000:.0f}")
    release_window(window)
    sys.exit(0)
loop = QEventLoop()
window.result_shown.connect(lambda _v: loop.quit())
window.controller.failed.connect(lambda _m: loop.quit())
QTimer.singleShot(120000, loop.quit)
loop.exec()
result = time.perf_counter() - t0
print(f"{painted * 1000:.0f} {result * 1000:.0f}")
release_window(window)  # left to the exit handler, it crashed 2 runs in 12
"""


def startup(preset: str, mode: str) -> tuple[float, float]:
    """(window painted, first result) in ms, from a fresh interpreter."""
    with tempfile.TemporaryDirectory() as folder:
        out = subprocess.run(
            [sys.executable, "-X", "faulthandler", "-c", STARTUP_CODE, folder, preset, mode],
            capture_output=True, text=True,
        )  # fmt: skip
    if out.returncode != 0:
        raise RuntimeError(f"start-up child ({mode}) exited {out.returncode}:\n{out.stderr}")
    painted, result = out.stdout.split()
    return float(painted), float(result)


def first_paint(preset: str = "vgg16", runs: int = 3) -> None:
    """A bare PySide6 + pyqtgraph window, the window with panels built on first
    use and with every panel built at start-up, interleaved; medians."""
    times: dict[str, list[tuple[float, float]]] = {"bare": [], "window": [], "eager": []}
    for _ in range(runs):
        for mode, found in times.items():
            found.append(startup(preset, mode))
    bare = statistics.median(t[0] for t in times["bare"])
    print(f"first paint, median of {runs}: bare PySide6 + pyqtgraph window {bare:6.0f} ms")
    for mode, label in (("window", "panels built on first use"), ("eager", "every panel built")):
        median = statistics.median(t[0] for t in times[mode])
        filled = statistics.median(t[1] for t in times[mode])
        print(
            f"  cnnviz {preset}, {label:26s} {median:6.0f} ms = {median / bare:.2f}× bare "
            f"(panels in sight drawn at {filled:.0f} ms)"
        )


def edit_latency(edits: int = 60) -> list[float]:
    from PySide6.QtWidgets import QApplication

    from cnnviz.qt.editor import commands
    from cnnviz.qt.window import settings
    from cnnviz.qt.window.main_window import MainWindow

    app = QApplication.instance() or QApplication(["bench"])
    settings.use_settings_folder(tempfile.mkdtemp())
    window = MainWindow(start_compute=False, saved_layout=False)
    window.open_preset("vgg16")
    window.select_layer(10)
    window.show()
    app.processEvents()
    times = []
    for i in range(edits):
        start = time.perf_counter()
        command = commands.SetParamCommand(window.doc, 10, "out_channels", 200 + i % 2)
        window.doc.undo_stack.push(command)
        app.processEvents()
        window.stack_view.viewport().repaint()
        window.properties.repaint()
        times.append((time.perf_counter() - start) * 1000)
    window.shutdown()
    window.deleteLater()  # not close(): it would ask to save the edits
    return times


def edit_to_result(edits: int = 15) -> list[float]:
    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    from cnnviz.qt.editor import commands
    from cnnviz.qt.window import settings
    from cnnviz.qt.window.main_window import MainWindow

    app = QApplication.instance() or QApplication(["bench"])
    settings.use_settings_folder(tempfile.mkdtemp())
    window = MainWindow(saved_layout=False, parent=None)
    app.processEvents()
    window.open_preset("interview")
    window.show()
    loop = QEventLoop()
    window.result_shown.connect(lambda _v: loop.quit())
    QTimer.singleShot(60000, loop.quit)
    loop.exec()  # the first result (torch loading) is not counted
    times = []
    for i in range(edits):
        start = time.perf_counter()
        window.doc.undo_stack.push(
            commands.SetParamCommand(window.doc, 0, "out_channels", 8 + i % 2 + 1)
        )
        loop.exec()
        times.append((time.perf_counter() - start) * 1000)
    window.shutdown()
    window.deleteLater()  # not close(): it would ask to save the edits
    return times


def main() -> None:
    load = os.getloadavg()[0]
    print(f"load average {load:.2f} on {os.cpu_count()} cores (other jobs share this machine)")
    first_paint()
    for preset in ("interview", "vgg16"):
        painted, result = startup(preset, "compute")
        print(
            f"start-up {preset:9s}: window painted {painted:6.0f} ms "
            f"(torch loading alongside), first result {result:6.0f} ms",
            flush=True,
        )
    times = edit_latency()
    print(
        f"VGG-16 edit → stack, properties and title repainted: median "
        f"{statistics.median(times):.1f} ms, max {max(times):.1f} ms ({len(times)} edits)"
    )
    times = edit_to_result()
    print(
        f"interview net edit → new forward result shown: median "
        f"{statistics.median(times):.1f} ms, max {max(times):.1f} ms ({len(times)} edits)"
    )


if __name__ == "__main__":
    main()
