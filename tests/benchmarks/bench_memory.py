"""Peak memory of the hooked forward against a plain torch forward that keeps every output.

    python tests/benchmarks/bench_memory.py [--sizes 448 896] [--network vgg11]

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
    args = parser.parse_args()
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
