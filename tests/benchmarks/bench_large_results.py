"""Does the window stay responsive whatever the size of a result? Figures, not assertions.

    QT_QPA_PLATFORM=offscreen python tests/benchmarks/bench_large_results.py [--skip-burst] \
        [--edits-only]

Each part measures the old way and the new one side by side, in one run:

1. A VGG-11 result at 224, 448 and 896 px arrives in the window after a first
   one (maps of the real shapes, random values; layer 0 selected, the default
   docks): the
   longest gap of a 5 ms timer on the GUI thread while it is drawn, with the
   pictures prepared beforehand (what the compute thread now does, timed too)
   and not prepared (every pass over the values on the GUI thread, as before).
   Target: no gap over 50 ms.
2. One edit of the VGG-16 stack with a result on screen, to the stack and
   properties repainted: the panels redrawn with the result the edit made
   stale (as before) or left for the new result. Target: ≤ 10 ms. Then, three
   times interleaved, with the controller's input cache (an edit that keeps the
   input shape reuses the prepared input) and without it (the image resized at
   every edit, as before). --edits-only measures only this part.
3. A burst of 100 edits of the VGG-16 stack with the real compute thread:
   forwards started with each request held while a forward runs (HOLD_MS) and
   without the hold (hold_ms=0, as before); the last result must be the last
   edit's. Target: ≤ 5 forwards.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
from PySide6.QtCore import QEventLoop, QObject, QTimer, Signal
from PySide6.QtWidgets import QApplication
from ticks import TickRecorder

from cnnviz.core.analysis import analyze
from cnnviz.core.architecture import InputShape
from cnnviz.core.display_maps import prepare_result
from cnnviz.core.jobs import ForwardResult, LayerActivation
from cnnviz.qt.editor import commands
from cnnviz.qt.window import settings


class FakeCompute(QObject):
    """Takes requests; the benchmark hands the window its results."""

    result_ready = Signal(object)
    failed = Signal(object)
    busy_changed = Signal(bool)
    device_changed = Signal(str)

    def __init__(self) -> None:
        super().__init__()
        self.requests = []

    def submit(self, request) -> None:
        self.requests.append(request)

    def shutdown(self) -> None:
        pass


def random_result(request) -> ForwardResult:
    """A result of the request's shapes (values do not change the work done)."""
    rng = np.random.default_rng(request.request_id)
    layers, previous, filters = [], request.image, {}
    for info in analyze(request.architecture).layers:
        output = rng.standard_normal(info.output_shape, dtype=np.float32)
        layers.append(LayerActivation(info.index, info.layer.type, output, previous))
        if info.layer.type == "Conv2d":
            weight = rng.standard_normal((info.output_shape[0], info.input_shape[0], 3, 3))
            filters[info.index] = (weight.astype(np.float32), None)
        previous = output
    return ForwardResult(request.request_id, request.image, tuple(layers), filters)


def window_with(preset: str, compute, size: int = 224):
    from cnnviz.qt.window.main_window import MainWindow

    settings.use_settings_folder(tempfile.mkdtemp())
    window = MainWindow(compute, start_compute=compute is not None, saved_layout=False)
    window.open_preset(preset)
    if size != 224:
        shape = InputShape(3, size, size)
        window.doc.undo_stack.push(commands.SetInputCommand(window.doc, shape))
    window.select_layer(0)
    window.show()
    return window


def run_loop(_app: QApplication, seconds: float) -> None:
    """The event loop for `seconds` (not app.exec: quitting would close the window)."""
    loop = QEventLoop()
    QTimer.singleShot(int(seconds * 1000), loop.quit)
    loop.exec()


def result_stall(
    app: QApplication, size: int, prepared: bool, arrives: bool = True
) -> tuple[float, float, float]:
    """(longest timer gap in ms while a result of a new input size is drawn, the
    same for the next result of that input, preparing in ms); with `arrives`
    False the same waits without a result: the machine's noise floor."""
    fake = FakeCompute()
    window = window_with("vgg11", fake, 224)
    window.controller.submit_now()  # a first result builds what is built once
    fake.result_ready.emit(random_result(fake.requests[-1]))
    run_loop(app, 0.5)
    shape = InputShape(3, size, size)
    window.doc.undo_stack.push(commands.SetInputCommand(window.doc, shape))
    window.controller.submit_now()
    result = random_result(fake.requests[-1])
    start = time.perf_counter()
    if prepared:
        prepare_result(result)
    preparing = (time.perf_counter() - start) * 1000
    ticks = TickRecorder()
    ticks.timer.start()
    if arrives:
        QTimer.singleShot(100, lambda: fake.result_ready.emit(result))
    run_loop(app, 1.5 + size / 224)
    ticks.timer.stop()
    assert (window.panels.latest.result is result) == arrives
    first = float(ticks.gaps_ms().max())
    # The next result of the same input, as after an edit of a layer.
    window.controller.submit_now()
    result = random_result(fake.requests[-1])
    if prepared:
        prepare_result(result)
    ticks = TickRecorder()
    ticks.timer.start()
    if arrives:
        QTimer.singleShot(100, lambda: fake.result_ready.emit(result))
    run_loop(app, 1.0 + size / 448)
    ticks.timer.stop()
    window.shutdown()
    window.deleteLater()
    return first, float(ticks.gaps_ms().max()), preparing


class NoInputCache:
    """The controller's input prepared afresh at every request, as before the cache."""

    def network_input(self, image, shape, settings):
        from cnnviz.qt.inputs.network_input import to_network_input

        return to_network_input(image, shape, settings)


def edit_latency(
    app: QApplication, stale_redraw: bool, edits: int = 40, input_cache: bool = True
) -> list[float]:
    fake = FakeCompute()
    window = window_with("vgg16", fake)
    if not input_cache:
        window.controller._inputs = NoInputCache()
    window.select_layer(10)
    window.controller.submit_now()
    fake.result_ready.emit(random_result(fake.requests[-1]))
    run_loop(app, 0.5)
    if stale_redraw:  # as before: every reselected row redraws the panels
        window.panels._stale = False
        window.panels._document_changed = lambda *_a: None
        window.panels.layer_changed = lambda _row: window.panels._refresh()
    times = []
    for i in range(edits):
        start = time.perf_counter()
        command = commands.SetParamCommand(window.doc, 10, "out_channels", 200 + i % 2)
        window.doc.undo_stack.push(command)
        window.panels.layer_changed(10)  # the edit reselects its row
        app.processEvents()
        window.stack_view.viewport().repaint()
        window.properties.repaint()
        times.append((time.perf_counter() - start) * 1000)
    window.controller._timer.stop()
    window.shutdown()
    window.deleteLater()
    return times


def burst(app: QApplication, hold_ms: int, edits: int = 100) -> tuple[int, bool, float]:
    """(forwards started by the burst, last result is the last edit's, seconds)."""
    from cnnviz.qt.bridge.compute_thread import ComputeThread

    thread = ComputeThread(hold_ms=hold_ms)
    window = window_with("vgg16", thread)
    loop = QEventLoop()
    window.result_shown.connect(lambda _v: loop.quit())
    QTimer.singleShot(180_000, loop.quit)
    loop.exec()  # torch loading and the first model: not counted
    before = thread.forwards_started
    start = time.perf_counter()
    for i in range(edits):
        command = commands.SetParamCommand(window.doc, 10, "out_channels", 200 + i % 3)
        window.doc.undo_stack.push(command)
        app.processEvents()
        window.stack_view.viewport().repaint()
    final = window.controller.submit_now() or window.controller.request_id
    deadline = time.perf_counter() + 300
    while time.perf_counter() < deadline:
        latest = window.controller.latest
        if latest is not None and latest.result.request_id == final:
            break
        app.processEvents()
        time.sleep(0.002)
    seconds = time.perf_counter() - start
    latest = window.controller.latest.result
    expected = window.doc.analysis.layers[10].output_shape
    matches = latest.request_id == final and latest.layers[10].output.shape == expected
    started = thread.forwards_started - before
    window.shutdown()
    window.deleteLater()
    return started, matches, seconds


def input_cache_latency(app: QApplication, rounds: int = 3) -> None:
    """Edit → repainted without and with the input cache, interleaved."""
    found: dict[bool, list[float]] = {False: [], True: []}
    for _ in range(rounds):
        for cached in (False, True):
            found[cached] += edit_latency(app, stale_redraw=False, input_cache=cached)
    old, new = found[False], found[True]
    print(
        f"VGG-16 edit → repainted, input resized at every edit: median "
        f"{statistics.median(old):.1f} ms (max {max(old):.0f}) → input cache: median "
        f"{statistics.median(new):.1f} ms (max {max(new):.0f})",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--skip-burst", action="store_true")
    parser.add_argument("--edits-only", action="store_true", help="only part 2")
    args = parser.parse_args()
    app = QApplication.instance() or QApplication(["bench"])
    load = os.getloadavg()[0]
    print(f"load average {load:.2f} on {os.cpu_count()} cores (other jobs share this machine)")
    if args.edits_only:
        input_cache_latency(app)
        return
    for size in (224, 448, 896):
        before, before_next, _ = result_stall(app, size, prepared=False)
        after, after_next, preparing = result_stall(app, size, prepared=True)
        idle, idle_next, _ = result_stall(app, size, prepared=True, arrives=False)
        print(
            f"VGG-11 {size} px, longest GUI stall as a result arrives (new input size; next"
            f" result): not prepared {before:4.0f}; {before_next:4.0f} ms → prepared"
            f" {after:3.0f}; {after_next:3.0f} ms ({preparing:.0f} ms preparing, off the GUI"
            f" thread; {idle:.0f}; {idle_next:.0f} ms with no result: the machine's noise)",
            flush=True,
        )
    old = edit_latency(app, stale_redraw=True)
    new = edit_latency(app, stale_redraw=False)
    print(
        f"VGG-16 edit → repainted, result on screen: median {statistics.median(old):.1f} ms"
        f" (max {max(old):.0f}) redrawing the stale result → {statistics.median(new):.1f} ms"
        f" (max {max(new):.0f}) waiting for the new one",
        flush=True,
    )
    input_cache_latency(app)
    if not args.skip_burst:
        for hold_ms, label in ((0, "no hold (before)"), (None, "held (HOLD_MS)")):
            from cnnviz.qt.bridge.compute_thread import HOLD_MS

            started, matches, seconds = burst(app, HOLD_MS if hold_ms is None else hold_ms)
            print(
                f"100 VGG-16 edits, {label:17s}: {started:3d} forwards started, last result "
                f"{'is' if matches else 'is NOT'} the last edit's ({seconds:.1f} s)",
                flush=True,
            )


if __name__ == "__main__":
    main()
