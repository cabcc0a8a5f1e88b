"""Does the window stay fluid while a network trains? Figures, not assertions.

    QT_QPA_PLATFORM=offscreen python tests/benchmarks/bench_training_responsiveness.py \
        [--preset lenet5] [--epochs 12] [--threads 1] [--screenshot docs/training_midrun.png] \
        [--compare 2]

The Training panel drives a real training of the preset on the bundled digits
through the compute thread (the app's path: Train → TrainRequest → worker →
TrainProgress → panel), while a 5 ms QTimer ticks on the GUI thread. Reported:
the longest gap between ticks (target under 30 ms, as for forwards), the 99th
percentile, the idle baseline measured the same way, progress reports per
second and the run's time and accuracy. With --screenshot the panel is saved
half-way through the run. First, side by side: the GUI thread's time per
progress report (synthetic reports, no worker), with the loss axis refitted at
each report (before issue 14) and kept. With --compare N, the training is run
N times with and N times without the compute thread's own measures (a short
GIL switch interval while training, progress thinned to one report per
PROGRESS_MIN_INTERVAL_S), interleaved, so that both see the same load.
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

from cnnviz.core.jobs import ForwardRequest, TrainConfig, TrainProgress, TrainRequest
from cnnviz.core.presets import load_preset
from cnnviz.qt.bridge import compute_training
from cnnviz.qt.bridge.compute_thread import ComputeThread
from cnnviz.qt.panels.training import TrainingPanel
from cnnviz.qt.style.theme import apply_color_scheme


def describe(label: str, gaps: np.ndarray) -> None:
    print(
        f"{label:<34} ticks {gaps.size + 1:>5}  longest gap {gaps.max():6.1f} ms  "
        f"p99 {np.percentile(gaps, 99):5.1f} ms  mean {gaps.mean():4.1f} ms"
    )


def idle(app: QApplication, seconds: float) -> np.ndarray:
    ticks = TickRecorder()
    ticks.timer.start()
    QTimer.singleShot(int(seconds * 1000), app.quit)
    app.exec()
    ticks.timer.stop()
    return ticks.gaps_ms()


def wait_for(app: QApplication, signal, seconds: float = 120.0) -> None:
    done = []
    signal.connect(done.append)
    end = time.perf_counter() + seconds
    while not done and time.perf_counter() < end:
        app.processEvents()
        time.sleep(0.001)
    signal.disconnect(done.append)


def warm_up(app: QApplication, compute: ComputeThread, arch, train_first: bool) -> None:
    """In the app torch is loaded before anyone can press Train: load it here too,
    with one forward. With `train_first`, also a one-epoch training first, which
    imports what torch loads on the first optimizer (torch._dynamo)."""
    image = np.zeros(arch.input.as_tuple(), np.float32)
    compute.submit(ForwardRequest(0, arch, image))
    wait_for(app, compute.result_ready)
    if train_first:
        compute.start_training(TrainRequest(0, arch, TrainConfig(epochs=1)))
        wait_for(app, compute.training_finished)


def report_cost(app: QApplication, refit_loss_axis: bool, reports: int = 240) -> np.ndarray:
    """GUI-thread ms per progress report (the panel's handler and the paint it
    causes), with synthetic reports and no worker competing. `refit_loss_axis`:
    the loss axis fitted to the data at every report, as before issue 14."""
    panel = TrainingPanel()
    panel.resize(1000, 520)
    panel.show()
    panel.start(TrainConfig(epochs=12))
    if refit_loss_axis:
        panel.curves.fit_loss = lambda _loss: None
        panel.curves.loss.enableAutoRange(axis="y", enable=True)
    app.processEvents()
    rng = np.random.default_rng(0)
    times = []
    for n in range(reports):
        epoch, step = n // 20 + 1, n % 20 + 1
        end = step == 20
        filters = {0: (rng.standard_normal((6, 1, 5, 5)).astype(np.float32), None)}
        progress = TrainProgress(
            1, epoch, 12, step, 20, 2.3 / (1 + n / 30) + 0.1 * rng.random(), min(0.99, n / 200),
            0.5 if end else None, 0.8 if end else None, filters,
        )  # fmt: skip
        start = time.perf_counter()
        panel.on_progress(progress)
        app.processEvents()
        times.append((time.perf_counter() - start) * 1000)
    panel.close()
    return np.asarray(times)


def report_costs(app: QApplication) -> None:
    """Before and after, interleaved, so both see the same load."""
    found: dict[bool, list[np.ndarray]] = {True: [], False: []}
    for _ in range(2):
        for refit in (True, False):
            found[refit].append(report_cost(app, refit))
    for refit, label in ((True, "loss axis refitted each report"), (False, "loss axis kept")):
        times = np.concatenate(found[refit])
        print(
            f"GUI time per report, {label:30s} median {np.median(times):5.2f} ms  "
            f"p99 {np.percentile(times, 99):5.1f} ms  max {times.max():5.1f} ms"
        )


def training(app: QApplication, args: argparse.Namespace) -> dict:
    arch = load_preset(args.preset)
    panel = TrainingPanel()
    panel.resize(1000, 520)
    panel.show()
    panel.set_config(
        TrainConfig(epochs=args.epochs, batch_size=32, learning_rate=0.002, seed=args.seed)
    )
    compute = ComputeThread(num_threads=args.threads)
    state: dict = {"reports": 0, "result": None, "shot": False}

    def on_progress(progress) -> None:
        state["reports"] += 1
        half = progress.epoch > args.epochs // 2 and progress.step >= progress.steps // 2
        if args.screenshot and half and not state["shot"]:
            state["shot"] = True
            QTimer.singleShot(0, lambda: panel.grab().save(args.screenshot))

    def on_finished(result) -> None:
        state["result"] = result
        app.quit()

    compute.training_progress.connect(panel.on_progress)
    compute.training_progress.connect(on_progress)
    compute.training_finished.connect(panel.on_finished)
    compute.training_finished.connect(on_finished)
    compute.training_failed.connect(lambda failure: (print("failed:", failure.message), app.quit()))
    panel.train_requested.connect(
        lambda config: compute.start_training(TrainRequest(1, arch, config))
    )
    warm_up(app, compute, arch, train_first=not args.cold)
    ticks = TickRecorder()
    ticks.timer.start()
    started = time.perf_counter()
    QTimer.singleShot(0, panel.train_button.click)
    app.exec()
    elapsed = time.perf_counter() - started
    ticks.timer.stop()
    compute.shutdown()
    panel.close()
    return {"gaps": ticks.gaps_ms(), "seconds": elapsed, "long": ticks.long_gaps(started), **state}


def compare(app: QApplication, args: argparse.Namespace) -> None:
    """Training with the compute thread's measures off and on, interleaved."""
    measures = (
        compute_training.TRAINING_SWITCH_INTERVAL_S,
        compute_training.PROGRESS_MIN_INTERVAL_S,
    )
    found: dict[bool, list[np.ndarray]] = {False: [], True: []}
    for _ in range(args.compare):
        for on in (False, True):
            compute_training.TRAINING_SWITCH_INTERVAL_S = measures[0] if on else None
            compute_training.PROGRESS_MIN_INTERVAL_S = measures[1] if on else 0.0
            run = training(app, args)
            found[on].append(run["gaps"])
            label = f"training, measures {'on ' if on else 'off'}"
            describe(label, run["gaps"])
    compute_training.TRAINING_SWITCH_INTERVAL_S, compute_training.PROGRESS_MIN_INTERVAL_S = measures
    for on in (False, True):
        describe(f"all runs, measures {'on ' if on else 'off'}", np.concatenate(found[on]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="lenet5")
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="torch threads in the worker")
    parser.add_argument("--screenshot", metavar="PNG", help="save the panel half-way")
    parser.add_argument(
        "--cold",
        action="store_true",
        help="measure the process's first training (torch imports torch._dynamo then)",
    )
    parser.add_argument(
        "--compare",
        type=int,
        default=0,
        metavar="N",
        help="N trainings each with the compute thread's measures off and on, interleaved",
    )
    args = parser.parse_args()
    app = QApplication.instance() or QApplication([])
    apply_color_scheme(app)  # as the app does: palette and plot colours
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"{os.cpu_count()} CPU cores, load average {load:.2f} at the start")
    describe("idle (nothing running)", idle(app, 2.0))
    report_costs(app)
    if args.compare:
        compare(app, args)
        print("target: longest gap < 30 ms")
        return 0
    run = training(app, args)
    label = f"{'first ' if args.cold else ''}training {args.preset}, {args.threads} thread(s)"
    describe(label, run["gaps"])
    if run["long"]:
        print("gaps over 30 ms:", "; ".join(run["long"]))
    result = run["result"]
    if result is not None:
        print(
            f"{result.epochs_run} epochs in {run['seconds']:.1f} s "
            f"(training {result.seconds:.1f} s), "
            f"{run['reports'] / run['seconds']:.1f} progress reports/s, test accuracy "
            f"{result.test_accuracy:.2%}"
        )
    if args.screenshot:
        print(f"screenshot: {args.screenshot if run['shot'] else 'not taken'}")
    print("target: longest gap < 30 ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
