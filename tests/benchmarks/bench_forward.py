"""Plain torch forward vs the hooked forward that feeds the panels, side by side.

    python tests/benchmarks/bench_forward.py [--threads 1] [--rounds 7] [networks...]

For each network: "plain" is what a prediction needs with torch alone (image
to tensor, ``model(x)`` under inference mode, softmax to numpy); "hooked" is
``ForwardRunner.run``: every layer's output (and input) as numpy, conv
filters, probabilities, in a ForwardResult, exactly what the compute thread
hands the GUI. Each layer's statistics (min, max, mean, zeros) are computed
when first asked for; "+ all stats" is the hooked forward followed by asking
every layer for them, to show what computing them eagerly would cost. All
run in alternating rounds in one process on the same model and input; the
figure is the fastest round of each (the least disturbed by other
processes), measured as CPU time of this thread (torch runs on this one
thread, as in the compute thread) and as wall time.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch

from cnnviz.compute.runner import ForwardRunner
from cnnviz.core.architecture import Architecture, from_json
from cnnviz.core.jobs import ForwardRequest
from cnnviz.core.presets import load_preset

NETWORKS = ("lenet5", "tinyvgg", "vgg11", "interview", "resnet18")


def _conv(out: int, k: int, stride: int = 1, padding: int = 0) -> dict:
    return {
        "type": "Conv2d",
        "out_channels": out,
        "kernel_size": k,
        "stride": stride,
        "padding": padding,
        "bias": False,
    }


def _basic_block(out: int, stride: int, project: bool) -> list[dict]:
    """torchvision's BasicBlock: conv-bn-relu-conv-bn plus a shortcut, then ReLU."""
    body = [_conv(out, 3, stride, 1), {"type": "BatchNorm2d"}, {"type": "ReLU"}]
    body += [_conv(out, 3, 1, 1), {"type": "BatchNorm2d"}]
    shortcut = [_conv(out, 1, stride), {"type": "BatchNorm2d"}] if project else []
    return [{"type": "Residual", "body": body, "shortcut": shortcut}, {"type": "ReLU"}]


def resnet18() -> Architecture:
    """ResNet-18 at 3×224×224 in torchvision's layout (11,689,512 parameters), built
    here so the benchmark does not depend on a preset file."""
    layers = [_conv(64, 7, 2, 3), {"type": "BatchNorm2d"}, {"type": "ReLU"}]
    layers.append({"type": "MaxPool2d", "kernel_size": 3, "stride": 2, "padding": 1})
    for stage, out in enumerate((64, 128, 256, 512)):
        layers += _basic_block(out, 1 if stage == 0 else 2, project=stage > 0)
        layers += _basic_block(out, 1, project=False)
    layers += [{"type": "AdaptiveAvgPool2d", "output_size": 1}, {"type": "Flatten"}]
    layers.append({"type": "Linear", "out_features": 1000})
    return from_json(
        {
            "format": "cnnviz-architecture",
            "version": 2,
            "name": "ResNet-18",
            "input": {"channels": 3, "height": 224, "width": 224},
            "layers": layers,
        }
    )


def architecture(name: str) -> Architecture:
    return resnet18() if name == "resnet18" else load_preset(name)


def _timed(fn, repeat: int) -> tuple[float, float]:
    """Seconds per call (CPU of this thread, wall) over `repeat` calls."""
    cpu, wall = time.thread_time(), time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.thread_time() - cpu) / repeat, (time.perf_counter() - wall) / repeat


def measure(name: str, rounds: int) -> dict:
    arch = architecture(name)
    image = np.random.default_rng(0).random(arch.input.as_tuple(), dtype=np.float32)
    runner = ForwardRunner()
    request = ForwardRequest(request_id=1, architecture=arch, image=image)
    runner.run(request)  # build the model once, as the app does before edits
    model = runner.keeper.model

    def plain():
        with torch.inference_mode():
            scores = model(torch.from_numpy(image).unsqueeze(0))
            return torch.softmax(scores, dim=1).numpy()

    def hooked():
        return runner.run(request)

    def with_stats():
        return [layer.stats for layer in runner.run(request).layers]

    once = _timed(plain, 1)[1]
    repeat = max(1, min(200, int(0.2 / max(once, 1e-6))))
    contenders = (("plain", plain), ("hooked", hooked), ("stats", with_stats))
    best = {label: [float("inf")] * 2 for label, _ in contenders}
    for _ in range(rounds):
        for label, fn in contenders:
            cpu, wall = _timed(fn, repeat)
            best[label] = [min(best[label][0], cpu), min(best[label][1], wall)]
    layers = len(runner.keeper.output_sizes)  # every layer, inside blocks too
    return {"name": arch.name, "layers": layers, "repeat": repeat, **best}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="torch threads (worker uses 1)")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("networks", nargs="*", default=list(NETWORKS))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"torch {torch.__version__}, {args.threads} thread(s), load average {load:.2f}")
    header = ("network", "layers", "plain ms", "hooked ms", "ratio", "wall ratio", "+ all stats")
    print(f"{header[0]:<16}" + "".join(f"{h:>11}" for h in header[1:-1]) + f"{header[-1]:>13}")
    worst = 0.0
    for name in args.networks:
        r = measure(name, args.rounds)
        ratio = r["hooked"][0] / r["plain"][0]
        wall_ratio = r["hooked"][1] / r["plain"][1]
        worst = max(worst, ratio)
        stats_ratio = r["stats"][0] / r["plain"][0]
        print(
            f"{r['name']:<16}{r['layers']:>11}{r['plain'][0] * 1e3:>11.3f}"
            f"{r['hooked'][0] * 1e3:>11.3f}{ratio:>11.2f}{wall_ratio:>11.2f}"
            f"{stats_ratio:>13.2f}"
        )
    print(f"worst ratio (CPU time): {worst:.2f}  (target: at most 1.2)")
    print("+ all stats: the ratio when every layer is also asked for its statistics")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
