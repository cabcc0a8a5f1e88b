"""EfficientNet-Lite0 with its ImageNet weights: start-up, hooked forward, memory.

    python tests/benchmarks/bench_efficientnet.py [--launches 3] [--rounds 7]

1. launch to first result: the app started as a user starts it
   (``cnnviz efficientnet_lite0 --image cat.jpg --screenshot OUT.png``,
   offscreen, fresh settings) on 2 cores (CPU affinity {0, 1} where the
   system allows it); the time until the screenshot, which the app saves
   after its first forward result is shown, is on disk, and until the process
   has exited. The peak RSS of that process is the window's memory.
2. hooked vs plain forward, alternating rounds in one process on one model and
   input (the cat, prepared as the preset declares): "plain" is ``model(x)``
   under inference mode with a softmax to numpy, "hooked" is
   ``ForwardRunner.run``, every layer's output as numpy as the compute thread
   hands them to the panels. torch on 1 thread, as in the compute thread; the
   fastest round of each, as CPU time of this thread and as wall time.
3. memory: the peak RSS of ``cnnviz run`` (no window) and the size of one
   hooked result's arrays.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

PRESET = "efficientnet_lite0"
MIB = 1024 * 1024


def _two_cores() -> None:
    """In the child before exec: at most 2 CPUs, as on the reference machine."""
    if hasattr(os, "sched_setaffinity"):
        cpus = sorted(os.sched_getaffinity(0))[:2]
        os.sched_setaffinity(0, cpus)


def _child_run(args: list[str], watch: Path | None) -> dict:
    """Run `python -m cnnviz ARGS`; seconds until `watch` exists and until exit, peak RSS."""
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    with tempfile.TemporaryDirectory() as config:
        env["XDG_CONFIG_HOME"] = config  # no remembered layout, device or recent files
        start = time.perf_counter()
        child = subprocess.Popen(
            [sys.executable, "-m", "cnnviz", *args],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            preexec_fn=_two_cores,
        )
        seen = None
        while True:
            if watch is not None and seen is None and watch.exists():
                seen = time.perf_counter() - start
            pid, status, usage = os.wait4(child.pid, os.WNOHANG)
            if pid:
                break
            time.sleep(0.01)
        ended = time.perf_counter() - start
        error = child.stderr.read().decode(errors="replace").strip()
        child.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"cnnviz {' '.join(args)} failed: {error.splitlines()[-1:]}")
    # ru_maxrss is in KiB on Linux.
    cpu = usage.ru_utime + usage.ru_stime  # what the app itself spent, whatever the load
    return {"result": seen, "exit": ended, "cpu": cpu, "rss_mib": usage.ru_maxrss / 1024}


def launches(count: int) -> list[dict]:
    image = ROOT / "resources" / "samples" / "cat.jpg"
    out = []
    with tempfile.TemporaryDirectory() as folder:
        for n in range(count):
            shot = Path(folder) / f"shot{n}.png"
            args = [PRESET, "--image", str(image), "--screenshot", str(shot)]
            out.append(_child_run(args, shot))
    return out


def headless_rss() -> float:
    image = ROOT / "resources" / "samples" / "cat.jpg"
    return _child_run(["run", PRESET, str(image)], None)["rss_mib"]


def _timed(fn, repeat: int) -> tuple[float, float]:
    """Seconds per call (CPU of this thread, wall) over `repeat` calls."""
    cpu, wall = time.thread_time(), time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.thread_time() - cpu) / repeat, (time.perf_counter() - wall) / repeat


def hooked_vs_plain(rounds: int) -> dict:
    import torch

    from cnnviz.compute.runner import ForwardRunner
    from cnnviz.core.class_names import named_classes
    from cnnviz.core.jobs import ForwardRequest
    from cnnviz.core.presets import load_preset, weights_path
    from tests.efficientnet_reference import preset_input

    torch.set_num_threads(1)
    arch = load_preset(PRESET)
    image = preset_input("cat")
    request = ForwardRequest(1, arch, image, weights_path=str(weights_path(arch)))
    runner = ForwardRunner()
    result = runner.run(request)  # builds the model and loads the weights once
    model = runner.keeper.model
    top = int(result.probabilities.argmax())

    def plain():
        with torch.inference_mode():
            scores = model(torch.from_numpy(image).unsqueeze(0))
            return torch.softmax(scores, dim=1).numpy()

    def hooked():
        return runner.run(request)

    best = {"plain": [float("inf")] * 2, "hooked": [float("inf")] * 2}
    for _ in range(rounds):
        for label, fn in (("plain", plain), ("hooked", hooked)):
            cpu, wall = _timed(fn, 3)
            best[label] = [min(best[label][0], cpu), min(best[label][1], wall)]
    arrays = sum(layer.output.nbytes for layer in result.layers) + image.nbytes
    return {
        **best,
        "layers": len(result.layers),
        "top": f"{named_classes('imagenet')[top]} {result.probabilities[top]:.1%}",
        "result_mib": arrays / MIB,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--launches", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"EfficientNet-Lite0 · {os.cpu_count()} CPUs here, load average {load:.2f}")

    runs = launches(args.launches)
    firsts = [r["result"] for r in runs if r["result"] is not None]
    print(f"1. launch → first result (screenshot on disk), {len(runs)} launches on 2 cores:")
    print(f"   median {statistics.median(firsts):.2f} s, best {min(firsts):.2f} s")
    exits = [r["exit"] for r in runs]
    cpus = [r["cpu"] for r in runs]
    print(f"   launch → exit: median {statistics.median(exits):.2f} s")
    print(f"   CPU time of the app, launch to exit: median {statistics.median(cpus):.2f} s")

    r = hooked_vs_plain(args.rounds)
    ratio, wall_ratio = r["hooked"][0] / r["plain"][0], r["hooked"][1] / r["plain"][1]
    print(f"2. forward on 1 torch thread ({r['layers']} layers; cat → {r['top']}):")
    print(f"   plain {r['plain'][0] * 1e3:.1f} ms, hooked {r['hooked'][0] * 1e3:.1f} ms CPU")
    print(f"   hooked / plain: {ratio:.2f} CPU time, {wall_ratio:.2f} wall (target ≤ 1.2)")

    rss = [run["rss_mib"] for run in runs]
    print("3. memory (peak RSS):")
    print(f"   window with its first result: {max(rss):.0f} MiB")
    print(f"   cnnviz run (no window): {headless_rss():.0f} MiB")
    print(f"   one hooked result's arrays: {r['result_mib']:.1f} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
