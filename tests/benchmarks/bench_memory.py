"""Peak memory of the hooked forward against a plain torch forward that keeps every output.

    python tests/benchmarks/bench_memory.py [--sizes 448 896] [--network vgg11] [--window]

Each figure comes from a fresh process (peak resident memory, Linux
/proc/self/status VmHWM, reset through /proc/self/clear_refs), measured above
what the process held with torch loaded, the model built and the input made:
both sides hold the same weights, so what differs is what the forwards keep.

* plain: the model's layers called one after another under inference mode,
  every output kept in a list, as a plain program that wants them all would;
* hooked: ``ForwardRunner.run``, what the compute thread hands the GUI
  (every output and input as numpy, conv filter copies, probabilities).

Three forwards in a row, the caller letting go of the last result before
the next ("first": the first forward; "again": the two after it). "holding":
three more in another process where the caller keeps the last result until
the next one is made, as the GUI does (it shows the last result meanwhile):
then two results are alive at once on both sides. The ratio is hooked/plain.

--window: the whole application instead (offscreen MainWindow, real compute
thread, the default panels), in fresh processes, interleaved: the peak of the
second forward (new random weights) above what the window held while it
showed the first result, with the shown result kept whole until the new one
arrives (as before) and released first (qt/bridge/result_release), beside
the size of one result.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def _child(network: str, side: int, side_kind: str, holding: bool) -> dict:
    import numpy as np
    import torch

    from cnnviz.compute.model import build_model
    from cnnviz.compute.runner import ForwardRunner
    from cnnviz.core.architecture import InputShape
    from cnnviz.core.jobs import ForwardRequest
    from cnnviz.core.presets import load_preset
    from tests.memory_probe import _warm_up, peak, reset_peak

    torch.set_num_threads(1)
    _warm_up()
    arch = load_preset(network)
    arch = arch.with_input(InputShape(arch.input.channels, side, side))
    model = build_model(arch, 0).eval()
    image = np.random.default_rng(0).random(arch.input.as_tuple(), dtype=np.float32)
    runner = ForwardRunner()
    runner.keeper.adopt(arch, 0, model)
    request = ForwardRequest(1, arch, image)
    if "ignore_memory_limit" in ForwardRequest.__dataclass_fields__:  # older trees lack it
        request = ForwardRequest(1, arch, image, ignore_memory_limit=True)

    def plain():
        outputs, h = [], torch.from_numpy(image).unsqueeze(0)
        with torch.inference_mode():
            for layer in model:
                h = layer(h)
                outputs.append(h)
        return outputs

    def hooked():
        return runner.run(request)

    forward = plain if side_kind == "plain" else hooked
    peaks, kept = [], []
    base = reset_peak()  # every peak is measured above this: the model built
    for _ in range(3):
        if not holding:
            kept.clear()  # let go of the last result first
        reset_peak()
        kept.append(forward())
        del kept[:-1]  # at most the last result stays: it is made before this
        peaks.append(peak() - base)
    later = max(peaks[1:])  # with holding, two results are alive in these
    return {"first": peaks[0], "again": later, "holding": later}


def _window_child(network: str, side: int, release: bool) -> dict:
    import tempfile
    import time

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    from cnnviz.core.architecture import InputShape
    from cnnviz.core.presets import load_preset
    from cnnviz.core.project import Project
    from cnnviz.qt.bridge import result_release
    from cnnviz.qt.window import settings
    from cnnviz.qt.window.main_window import MainWindow
    from tests.memory_probe import peak, reset_peak

    result_release.ENABLED = release
    app = QApplication([])
    settings.use_settings_folder(tempfile.mkdtemp())
    window = MainWindow(saved_layout=False)
    arch = load_preset(network)
    window.doc.reset(Project(arch.with_input(InputShape(arch.input.channels, side, side))), None)
    window.show()

    def next_result(previous, seconds: float = 900.0):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            app.processEvents()
            time.sleep(0.005)
            latest = window.controller.latest
            if latest is not None and latest is not previous:
                return latest
        raise SystemExit(f"no result within {seconds:.0f} s: {window.statusbar.problem_text}")

    def settle(seconds: float = 1.0) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            app.processEvents()
            time.sleep(0.005)

    first = next_result(None)
    settle()
    size = result_release.held_bytes(first.result)
    base = reset_peak()
    window.controller.reseed()
    next_result(first)
    settle()
    return {"extra": peak() - base, "result": size}


def measure_window(network: str, side: int, release: bool) -> dict:
    command = [sys.executable, __file__, "--window-child", network, str(side), str(int(release))]
    paths = [str(ROOT), os.environ.get("PYTHONPATH", "")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p)}
    out = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if out.returncode:
        raise SystemExit(f"window at {side} px failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def compare_window(network: str, sizes: list[int], rounds: int = 2) -> None:
    print(f"{network} in the window: peak of the second forward above the window showing the")
    print("first result, MB (one result's arrays in brackets), shown result kept → released")
    for side in sizes:
        found: dict[bool, list[dict]] = {False: [], True: []}
        for _ in range(rounds):
            for release in (False, True):
                found[release].append(measure_window(network, side, release))
        kept = [r["extra"] / 1e6 for r in found[False]]
        freed = [r["extra"] / 1e6 for r in found[True]]
        result = found[False][0]["result"] / 1e6
        print(
            f"{side:>6} px ({result:.0f} MB result): kept "
            + ", ".join(f"{v:.0f}" for v in kept)
            + " → released "
            + ", ".join(f"{v:.0f}" for v in freed),
            flush=True,
        )


def measure(network: str, side: int, kind: str, holding: bool) -> dict:
    command = [sys.executable, __file__, "--child", network, str(side), kind]
    command += ["--holding"] if holding else []
    paths = [str(ROOT), os.environ.get("PYTHONPATH", "")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p)}
    out = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if out.returncode:
        raise SystemExit(f"{kind} at {side} px failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--network", default="vgg11")
    parser.add_argument("--sizes", type=int, nargs="*", default=[448, 896])
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--holding", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--window", action="store_true", help="the whole application")
    parser.add_argument("--window-child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.window_child:
        network, side, release = args.window_child
        print(json.dumps(_window_child(network, int(side), release == "1")), flush=True)
        os._exit(0)  # the figures are out; no teardown of the window to wait for
    if args.window:
        compare_window(args.network, args.sizes)
        return 0
    if args.child:
        network, side, kind = args.child
        print(json.dumps(_child(network, int(side), kind, args.holding)))
        return 0
    print(f"{args.network}: peak memory above the built model, MB (hooked / plain = ratio)")
    print(f"{'side':>6}{'first':>26}{'again':>26}{'holding':>26}")
    worst = 0.0
    for side in args.sizes:
        runs = {
            (kind, holding): measure(args.network, side, kind, holding)
            for kind in ("plain", "hooked")
            for holding in (False, True)
        }
        cells = []
        for column in ("first", "again", "holding"):
            holding = column == "holding"
            plain, hooked = runs["plain", holding][column], runs["hooked", holding][column]
            ratio = hooked / plain
            if not holding:
                worst = max(worst, ratio)
            cells.append(f"{hooked / 1e6:7.0f} / {plain / 1e6:6.0f} = {ratio:4.2f}")
        print(f"{side:>6}" + "".join(f"{c:>26}" for c in cells), flush=True)
    print(f"worst ratio, first and again: {worst:.2f}  (target: at most 1.5)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
