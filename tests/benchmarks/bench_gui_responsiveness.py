"""Does the GUI stay fluid while the compute thread works? Figures, not assertions.

    QT_QPA_PLATFORM=offscreen python tests/benchmarks/bench_gui_responsiveness.py [--seconds 8]

1. A 5 ms QTimer ticks on the GUI thread while the compute thread runs VGG-11
   (224×224) forwards back to back (each result triggers the next request).
   Reported: the longest gap between ticks (target under 30 ms), the 99th
   percentile, and forwards per second, for torch on 1 and on 2 threads in
   the worker, plus the same timer with nothing running as the baseline.
2. A burst of 100 submissions (as a dragged slider makes): how many forwards
   started and how many results reached the GUI (target: a handful, and
   exactly one result, the last).
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
from ticks import TickRecorder

from cnnviz.core.jobs import ForwardRequest
from cnnviz.core.presets import load_preset
from cnnviz.qt.bridge.compute_thread import ComputeThread


def spin(app: QApplication, seconds: float, until=lambda: False) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end and not until():
        app.processEvents()
        time.sleep(0.0005)


def image_for(arch, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).random(arch.input.as_tuple(), dtype=np.float32)


def idle_baseline(app: QApplication, seconds: float) -> np.ndarray:
    ticks = TickRecorder()
    ticks.timer.start()
    app_loop(app, seconds)
    ticks.timer.stop()
    return ticks.gaps_ms()


def app_loop(app: QApplication, seconds: float) -> None:
    """The real event loop (exec) for `seconds`, as in the running application."""
    QTimer.singleShot(int(seconds * 1000), app.quit)
    app.exec()


def back_to_back(app: QApplication, threads: int, seconds: float) -> dict:
    arch = load_preset("vgg11")
    compute = ComputeThread(num_threads=threads)
    done: list[float] = []
    state = {"next": 1}

    def submit_next(_result=None) -> None:
        done.append(time.perf_counter())
        state["next"] += 1
        compute.submit(ForwardRequest(state["next"], arch, image_for(arch, state["next"] % 4)))

    compute.result_ready.connect(submit_next)
    compute.failed.connect(lambda f: print("failed:", f.message))
    # The first forward builds the 132-million-parameter model; time only what follows.
    compute.submit(ForwardRequest(1, arch, image_for(arch, 0)))
    spin(app, 120, until=lambda: len(done) >= 1)
    ticks = TickRecorder()
    ticks.timer.start()
    first = len(done)
    started = time.perf_counter()
    app_loop(app, seconds)
    elapsed = time.perf_counter() - started
    ticks.timer.stop()
    forwards = len(done) - first
    compute.result_ready.disconnect(submit_next)
    compute.shutdown()
    return {"gaps": ticks.gaps_ms(), "forwards_per_s": forwards / elapsed, "forwards": forwards}


def burst(app: QApplication) -> dict:
    arch = load_preset("vgg11")
    compute = ComputeThread(num_threads=1)
    results: list[int] = []
    compute.submit(ForwardRequest(0, arch, image_for(arch, 0)))
    compute.result_ready.connect(lambda r: results.append(r.request_id))
    spin(app, 120, until=lambda: bool(results))
    results.clear()
    before = compute.forwards_started
    for request_id in range(1, 101):
        compute.submit(ForwardRequest(request_id, arch, image_for(arch, request_id % 4)))
        app.processEvents()  # a slider drag: events are handled between values
    spin(app, 60, until=lambda: 100 in results)
    spin(app, 0.5)
    started = compute.forwards_started - before
    cancelled = compute.forwards_cancelled
    compute.shutdown()
    return {"started": started, "cancelled": cancelled, "results": list(results)}


def describe(label: str, gaps: np.ndarray, extra: str = "") -> None:
    print(
        f"{label:<30} ticks {gaps.size + 1:>5}  longest gap {gaps.max():6.1f} ms  "
        f"p99 {np.percentile(gaps, 99):5.1f} ms  mean {gaps.mean():4.1f} ms{extra}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0, help="per configuration")
    args = parser.parse_args()
    app = QApplication.instance() or QApplication([])
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"{os.cpu_count()} CPU cores, load average {load:.2f} at the start")
    describe("idle (no compute)", idle_baseline(app, min(args.seconds, 3.0)))
    for threads in (1, 2):
        run = back_to_back(app, threads, args.seconds)
        extra = f"  VGG-11 forwards/s {run['forwards_per_s']:.2f} ({run['forwards']})"
        describe(f"VGG-11 back to back, {threads} thread(s)", run["gaps"], extra)
    result = burst(app)
    print(
        f"burst of 100 submissions: {result['started']} forwards started "
        f"({result['cancelled']} cancelled between layers), results shown: {result['results']}"
    )
    print("targets: longest gap < 30 ms; a handful of forwards and exactly one result, [100]")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
