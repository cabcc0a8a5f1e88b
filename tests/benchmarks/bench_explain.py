"""Attribution maps against a plain forward (issue 17's figures).

    python tests/benchmarks/bench_explain.py [--rounds 7] [--occlusion-rounds 1]

1. Grad-CAM (``run_explain``, the default layer, the top class: forward with
   the graph from the layer on, backward to the layer, upsampling, numpy) vs
   a plain forward (``model(x)`` under inference mode, scores to numpy), in
   alternating rounds on one model and input, for LeNet-5 (its trained
   weights, at its own 32×32 and as the same stack at 224×224), ResNet-18 and
   EfficientNet-Lite0 (its ImageNet weights) at 224 with the cat. torch on 1
   thread, as in the compute thread; the fastest and the median round of each,
   and their ratio (target: Grad-CAM ≤ 3× the forward).
2. Occlusion at 224 with window 16 and stride 8 (27 × 27 = 729 windows, in
   the batches run_explain picks), on ResNet-18 and EfficientNet-Lite0,
   interleaved with the same plain forward; seconds, and per window.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def _setup(name: str, size: int | None = None):
    import torch

    from cnnviz.compute.runner import ForwardRunner
    from cnnviz.core.analysis import analyze
    from cnnviz.core.architecture import InputShape
    from cnnviz.core.explain_jobs import ExplainRequest
    from cnnviz.core.images import load_image, to_network_input
    from cnnviz.core.preprocess import declared
    from cnnviz.core.presets import load_preset, preset_path, weights_path
    from cnnviz.core.samples import sample

    arch = load_preset(name)
    found = weights_path(arch, preset_path(name))
    if size is not None and size != arch.input.height:
        arch = replace(arch, input=InputShape(arch.input.channels, size, size))
        found = None  # a stack at another size: its dense layer's weights do not fit
    c, h, w = arch.input.as_tuple()
    photo = "cat" if c == 3 else "digit_3"
    image = to_network_input(load_image(sample(photo).path), c, h, w, declared(arch.metadata))
    request = ExplainRequest(1, arch, image, "gradcam", weights_path=str(found) if found else None)
    model = ForwardRunner().model_for(request).eval()
    x = torch.from_numpy(image)[None]
    return arch, analyze(arch), model, x, request


def _plain(model, x):
    import torch

    with torch.inference_mode():
        return model(x)[0].numpy().copy()


def _timed(function) -> float:
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def gradcam_rounds(label: str, setup, rounds: int) -> None:
    from cnnviz.compute.explain import run_explain

    _arch, analysis, model, x, request = setup
    _plain(model, x), run_explain(model, analysis, request)  # warm-up
    plain, cam = [], []
    for _ in range(rounds):
        plain.append(_timed(lambda: _plain(model, x)))
        cam.append(_timed(lambda: run_explain(model, analysis, request)))
    ratio_min, ratio_median = (
        min(cam) / min(plain),
        statistics.median(cam) / statistics.median(plain),
    )
    print(
        f"{label:<28} forward {min(plain) * 1e3:8.2f} ms "
        f"(median {statistics.median(plain) * 1e3:8.2f})"
        f"   Grad-CAM {min(cam) * 1e3:8.2f} ms (median {statistics.median(cam) * 1e3:8.2f})"
        f"   ratio {ratio_min:4.2f}x (median {ratio_median:4.2f}x)",
        flush=True,
    )


def occlusion_rounds(label: str, setup, rounds: int) -> None:
    from cnnviz.compute.explain import run_explain
    from cnnviz.compute.explain.batches import batch_size

    _arch, analysis, model, x, request = setup
    request = replace(request, method="occlusion", window=16, stride=8)
    windows = 27 * 27
    plain, occ = [], []
    for _ in range(rounds):
        plain.append(_timed(lambda: _plain(model, x)))
        occ.append(_timed(lambda: run_explain(model, analysis, request)))
    batch = batch_size(analysis, windows, backward=False)
    print(
        f"{label:<28} occlusion 16/8: {min(occ):6.2f} s for {windows} windows in batches of "
        f"{batch} ({min(occ) / windows * 1e3:6.2f} ms a window; a plain forward "
        f"{min(plain) * 1e3:6.2f} ms: {min(occ) / min(plain):5.0f}x)",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--occlusion-rounds", type=int, default=1)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    nets = {
        "LeNet-5 32x32 (trained)": _setup("lenet5"),
        "LeNet-5 stack at 224x224": _setup("lenet5", 224),
        "ResNet-18 224 (random)": _setup("resnet18"),
        "EfficientNet-Lite0 224": _setup("efficientnet_lite0"),
    }
    print(f"torch {torch.__version__}, 1 thread; fastest of {args.rounds} alternating rounds")
    for label, setup in nets.items():
        gradcam_rounds(label, setup, args.rounds)
    for label in ("ResNet-18 224 (random)", "EfficientNet-Lite0 224"):
        occlusion_rounds(label, nets[label], args.occlusion_rounds)


if __name__ == "__main__":
    main()
