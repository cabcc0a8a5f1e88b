"""`cnnviz explain ARCH IMAGE --method M --out MAP.npz`: which pixels made the
network give its class score (issue 17).

Methods: gradcam, guided-backprop, guided-gradcam, saliency,
integrated-gradients, occlusion (cnnviz.compute.explain, each equal to
captum's). The picture is prepared exactly as ``cnnviz run`` prepares it (the
network's declared preprocessing, ``--resize``/``--normalize``/``--invert``),
and the weights are found the same way. The .npz holds ``input`` (the tensor
the network saw), ``map`` (H×W at the input's resolution: channels summed),
``target`` and ``score`` (the class explained and its score before softmax);
Grad-CAM and guided Grad-CAM add ``layer_map`` (the layer's h×w map after
ReLU, before upsampling) and ``layer`` (its flat index), integrated gradients
``delta`` (the completeness gap Σmap − (F(x) − F(baseline))). ``--steps N``
integrates on N Gauss-Legendre points as captum does; the default (0) refines
from 32 to at most 1024 steps until the gap is under 1 % of |F(x) − F(baseline)|,
and the report says how many steps it took and the gap.

``--layer`` names a layer as ``run --out`` does: ``7``, ``3.body.0`` (or its
key, ``layer_07``, ``layer_03.body.00``); default the last conv layer (the
block holding it when it sits in one). ``--target`` is a class number or name;
default the top prediction.
"""

from __future__ import annotations

import argparse
import difflib
from pathlib import Path

import numpy as np

from cnnviz.commands import CommandError
from cnnviz.commands.declared_input import preprocessing
from cnnviz.commands.run import NORMALIZE_CHOICES, RESIZE_CHOICES, network_input, weights_file
from cnnviz.commands.run import _save_npz as save_npz
from cnnviz.commands.summary import load_architecture
from cnnviz.core.analysis import Analysis, analyze
from cnnviz.core.architecture import Architecture
from cnnviz.core.explain_jobs import (
    AUTO_MOST_STEPS,
    AUTO_STEPS,
    AUTO_TOLERANCE,
    BASELINES,
    METHODS,
    ExplainRequest,
)
from cnnviz.core.presets import PRESETS

NAME = "explain"
HELP = "Which pixels made the network say its class: an attribution map (Grad-CAM, IG, ...)."
NAMES = {
    "gradcam": "Grad-CAM",
    "guided-backprop": "guided backprop",
    "guided-gradcam": "guided Grad-CAM",
    "saliency": "saliency",
    "integrated-gradients": "integrated gradients",
    "occlusion": "occlusion",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("arch", help=f"architecture file or preset ({', '.join(PRESETS)})")
    parser.add_argument("image", help="image file (PNG, JPEG, ...)")
    parser.add_argument("--method", required=True, choices=METHODS, help="attribution method")
    parser.add_argument("--out", required=True, metavar="MAP.npz", help="write the map here")
    parser.add_argument(
        "--layer",
        metavar="LAYER",
        help="Grad-CAM's layer: 7, 3.body.0 or its run --out key (default: the last conv)",
    )
    parser.add_argument(
        "--target", metavar="CLASS", help="class number or name (default: the top prediction)"
    )
    parser.add_argument("--weights", metavar="FILE", help="safetensors or .pt/.pth state dict")
    parser.add_argument(
        "--no-weights", action="store_true", help="ignore the architecture's own weights"
    )
    parser.add_argument("--seed", type=int, default=0, help="random initialisation and noise")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"), default="auto")
    parser.add_argument(
        "--steps",
        type=int,
        default=AUTO_STEPS,
        help=f"integrated gradients: N Gauss-Legendre steps as captum, or {AUTO_STEPS} "
        f"(default): {AUTO_MOST_STEPS} at most, until the gap is under 1 %%",
    )
    parser.add_argument(
        "--baseline", choices=BASELINES, default="black", help="integrated gradients' start"
    )
    parser.add_argument("--window", type=int, default=16, help="occlusion window, px (16)")
    parser.add_argument("--stride", type=int, default=8, help="occlusion stride, px (8)")
    parser.add_argument("--resize", choices=RESIZE_CHOICES, help="as cnnviz run")
    parser.add_argument("--normalize", choices=NORMALIZE_CHOICES, help="as cnnviz run")
    parser.add_argument("--invert", action="store_true", help="as cnnviz run")


def layer_index(text: str, analysis: Analysis) -> int:
    """The flat index of "7", "3.body.0", "layer_07" or "layer_03.body.00"."""
    parts = text.strip().removeprefix("layer_").split(".")
    address = ".".join(str(int(p)) if p.isdigit() else p for p in parts)
    try:
        return analysis.at(address).index
    except KeyError:
        top = len(analysis.top_level) - 1
        raise CommandError(
            f"--layer {text}: no such layer (0 to {top}, or a path inside a block such as 3.body.0)"
        ) from None


def target_index(text: str, arch: Architecture) -> int:
    """A class number, or a class name (any case) from the architecture's names."""
    if text.strip().lstrip("-").isdigit():
        return int(text)
    classes = arch.classes or []
    by_name = {name.lower(): i for i, name in enumerate(classes)}
    if text.strip().lower() in by_name:
        return by_name[text.strip().lower()]
    if not classes:
        raise CommandError(f"--target {text}: this network names no classes; give a number")
    close = difflib.get_close_matches(text, classes, n=1)
    guess = f" (did you mean {close[0]!r}?)" if close else ""
    raise CommandError(f"--target {text}: no class of that name{guess}")


def _request(args, arch, analysis, image) -> ExplainRequest:
    layer = layer_index(args.layer, analysis) if args.layer is not None else None
    target = target_index(args.target, arch) if args.target is not None else None
    return ExplainRequest(
        request_id=1,
        architecture=arch,
        image=image,
        method=args.method,
        layer=layer,
        target=target,
        seed=args.seed,
        weights_path=weights_file(args, arch),
        steps=args.steps,
        baseline=args.baseline,
        window=args.window,
        stride=args.stride,
    )


def _explain(args, arch, analysis, request):
    from cnnviz.compute.device import DeviceError, resolve_device
    from cnnviz.compute.explain import run_explain
    from cnnviz.compute.runner import ComputeError, ForwardRunner

    try:
        model = ForwardRunner().model_for(request).to(resolve_device(args.device))
        return run_explain(model, analysis, request, preprocessing=preprocessing(args, arch))
    except (ComputeError, DeviceError) as exc:
        raise CommandError(str(exc)) from None


def execute(args: argparse.Namespace) -> int:
    arch = load_architecture(args.arch)
    out = Path(args.out)
    if not out.parent.is_dir():
        raise CommandError(f"cannot write {out}: no folder {out.parent}")
    image = network_input(args, arch)
    analysis = analyze(arch)
    request = _request(args, arch, analysis, image)
    result = _explain(args, arch, analysis, request)
    arrays = {
        "input": result.input,
        "map": result.map,
        "target": np.int64(result.target),
        "score": np.float32(result.score),
    }
    if result.layer_map is not None:
        arrays["layer_map"] = result.layer_map
        arrays["layer"] = np.int64(result.layer)
    if result.delta is not None:
        arrays["delta"] = np.float64(result.delta)
    save_npz(out, arrays)
    print(_report(args, arch, analysis, result, out))
    return 0


def _completeness(args, result) -> str:
    """ "; 256 steps (auto), completeness gap 0.07 (0.8% of F(x) - F(baseline))",
    and at the auto cap, that the gap is still not under 1 %."""
    change = float(result.map.astype(np.float64).sum()) - result.delta
    share = abs(result.delta) / abs(change) if change else 0.0
    how = " (auto)" if args.steps == AUTO_STEPS else ""
    text = f"; {result.steps_used} steps{how}, completeness gap {result.delta:.3g}"
    text += f" ({share:.2%} of F(x) - F(baseline))" if change else ""
    if args.steps == AUTO_STEPS and share >= AUTO_TOLERANCE:
        text += f": not under {AUTO_TOLERANCE:.0%} at the cap of {AUTO_MOST_STEPS} steps"
    return text


def _report(args, arch, analysis, result, out: Path) -> str:
    classes = arch.classes or []
    name = classes[result.target] if result.target < len(classes) else None
    what = f"class {result.target}" + (f" {name!r}" if name and name != str(result.target) else "")
    line = f"{NAMES[result.method]} of {arch.name} for {what} (score {result.score:.4g})"
    if result.layer is not None:
        info = analysis.layers[result.layer]
        line += f" at {info.name} {info.layer.type}"
    if result.delta is not None:
        line += _completeness(args, result)
    keys = ["input", "map"]
    keys += ["layer_map"] if result.layer_map is not None else []
    keys += ["delta"] if result.delta is not None else []
    return f"{line}\nwrote {', '.join(keys)} to {out}"
