"""A main window driven by a stand-in compute thread that answers with the numpy
sample forward, so every panel has real filters and maps to draw; and the
helpers the panel tests share (compute now, click a dock tab)."""

from __future__ import annotations

import contextlib
from dataclasses import replace

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QMessageBox, QTabBar

from cnnviz.core.analysis import analyze
from cnnviz.core.architecture import Architecture, InputShape, Layer
from cnnviz.core.project import Project
from cnnviz.qt.panels._samples import apply_kernel_edits, numpy_forward, sample_filters
from cnnviz.qt.window.main_window import MainWindow

# 1×12×12 → conv k3 (2 channels, 10×10) → ReLU → max pool 2 (5×5)
STACK = Architecture(
    "small",
    InputShape(1, 12, 12),
    (
        Layer.make("Conv2d", out_channels=2, kernel_size=3),
        Layer.make("ReLU"),
        Layer.make("MaxPool2d", kernel_size=2),
    ),
)


class NumpyCompute(QObject):
    """Stands in for the compute thread: answers, when told to, with the numpy
    sample forward, so every panel has real filters and maps to draw."""

    result_ready = Signal(object)
    failed = Signal(object)
    busy_changed = Signal(bool)
    device_changed = Signal(str)

    def __init__(self):
        super().__init__()
        self.requests = []

    def submit(self, request) -> None:
        self.requests.append(request)

    def answer(self, request) -> None:
        analysis = analyze(request.architecture)
        filters = apply_kernel_edits(sample_filters(analysis), request.kernel_edits)
        result = numpy_forward(analysis, request.image, filters)
        self.result_ready.emit(replace(result, request_id=request.request_id))

    def shutdown(self) -> None:
        pass


@contextlib.contextmanager
def numpy_window(qtbot, fake: NumpyCompute | None = None):
    """A main window on STACK whose forwards `fake` (a NumpyCompute) answers when
    `compute` says so; closed afterwards."""
    fake = fake if fake is not None else NumpyCompute()
    win = MainWindow(fake, start_compute=False, saved_layout=False)
    qtbot.addWidget(win)
    win.files.ask_to_save = lambda: QMessageBox.StandardButton.Discard
    win.compute = fake
    win.doc.reset(Project(STACK), None)
    win.show()
    qtbot.waitExposed(win)
    try:
        yield win
    finally:
        win.shutdown()


def compute(qtbot, win) -> None:
    """Run the document as it is now and hand the result to the window."""
    win.controller.submit_now()
    with qtbot.waitSignal(win.result_shown, timeout=20_000):  # generous: a busy CI machine
        win.compute.answer(win.compute.requests[-1])


def click_tab(qtbot, win, title: str) -> None:
    """Click the dock tab called `title` (a real click on the tab bar)."""
    tabs = [
        (bar, index)
        for bar in win.findChildren(QTabBar)
        if bar.isVisible()
        for index in range(bar.count())
        if bar.tabText(index) == title
    ]
    assert tabs, f"no visible tab called {title!r}"
    bar, index = tabs[0]
    QTest.mouseClick(bar, Qt.MouseButton.LeftButton, pos=bar.tabRect(index).center())
    qtbot.waitUntil(lambda: bar.currentIndex() == index)
