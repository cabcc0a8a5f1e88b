"""`cnnviz run ARCH IMAGE [--out ACTS.npz]`: one image through a network.

Prints the prediction (the most likely classes with their probabilities) when
the last layer gives class scores. ``--out`` writes the network input under
``input`` and each layer's output under ``layer_00``, ``layer_01``, ... (one
array per layer, without the batch axis); a block's merged output is its
``layer_NN`` and the layers inside it add ``layer_NN.body.MM``,
``layer_NN.shortcut.MM`` and ``layer_NN.branches.K.MM``. ``--json`` prints the report as
strict JSON instead (a number that is NaN or infinite is null), with every
layer's statistics (min, max, mean, share of zeros); ``--stats`` prints those
as a table. Weights come from ``--weights``, else from
the architecture file's own ``"weights"`` entry (the bundled presets have
some), else its torchvision checkpoint in the torch hub cache (``"hub_weights"``,
see ``cnnviz weights``), else a random initialisation from ``--seed``, which
the output says plainly: an untrained network's prediction means nothing.

The picture is prepared as the network declares (``"preprocessing"``; the
ImageNet presets: resize 256, centre crop 224, ImageNet mean/std), else
stretched to the input size; ``--resize``, ``--normalize`` and ``--invert``
change that.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

import numpy as np

from cnnviz.commands import CommandError
from cnnviz.commands.declared_input import get_weights_hint, preprocessing
from cnnviz.commands.summary import load_architecture
from cnnviz.core import safe_json
from cnnviz.core.analysis import analyze
from cnnviz.core.architecture import Architecture
from cnnviz.core.layers.hooked import is_hooked_metadata
from cnnviz.core.presets import PRESETS, preset_path, weights_path

NAME = "run"
HELP = "Run one image through a network: its prediction, and every layer's output with --out."
JSON_HELP = (
    "print the report as JSON: predicted_class, class_name, probabilities, top (the --top "
    "classes, most likely first), weights (the weights file, or null), trained (false when "
    "the weights are a random initialisation, whose predictions mean nothing; null for your "
    "own model's weights from its constructor, which cnnviz cannot judge), out (the "
    ".npz written, or null), layer_stats. Strict JSON: a number that is not finite (NaN or "
    "infinity, e.g. from NaN weights) is null"
)
UNTRAINED = (
    "random weights (untrained, seed {seed}): {what} mean nothing; "
    "give --weights FILE, or make one with cnnviz train"
)
RESIZE_CHOICES = ("stretch", "crop", "letterbox")
OVERRIDE = "--ignore-memory-limit runs it anyway"
NORMALIZE_CHOICES = ("none", "imagenet", "mean_std")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "arch",
        help=f"architecture file or preset ({', '.join(PRESETS)}), or your own PyTorch model: "
        "FILE.py:CLASS (runs that file), a TorchScript .pt or an exported .pt2",
    )
    parser.add_argument("image", help="image file (PNG, JPEG, TIFF, GIF, BMP, WebP, ...)")
    parser.add_argument(
        "--out", metavar="ACTS.npz", help="also write the input and every layer's output here"
    )
    parser.add_argument(
        "--weights",
        metavar="FILE",
        help="safetensors or .pt/.pth state dict (default: the architecture's own, if any)",
    )
    parser.add_argument(
        "--no-weights", action="store_true", help="ignore the architecture's own weights"
    )
    parser.add_argument(
        "--input",
        metavar="C,H,W",
        help="the input size: needed for your own model (FILE.py:CLASS), else overrides it",
    )
    parser.add_argument("--seed", type=int, default=0, help="random initialisation (default 0)")
    parser.add_argument(
        "--device",
        choices=("auto", "cpu", "cuda", "mps"),
        default="auto",
        help="where torch computes (default: CUDA, then Apple MPS, then CPU)",
    )
    parser.add_argument(
        "--resize",
        choices=RESIZE_CHOICES,
        help="how the picture fits the input (default: as the network declares, else stretch)",
    )
    parser.add_argument(
        "--normalize",
        choices=NORMALIZE_CHOICES,
        help="value scaling (default: as the network declares, else none)",
    )
    parser.add_argument(
        "--invert", action="store_true", help="invert the image (dark digits on light paper)"
    )
    parser.add_argument(
        "--train-mode", action="store_true", help="dropout and batch norm in training behaviour"
    )
    parser.add_argument(
        "--top", type=int, default=5, metavar="K", help="how many classes to list (default 5)"
    )
    parser.add_argument("--json", action="store_true", help=JSON_HELP)
    parser.add_argument(
        "--stats", action="store_true", help="print each layer's min, max, mean and zeros"
    )
    parser.add_argument(
        "--ignore-memory-limit",
        action="store_true",
        help="run even when the network needs more memory than cnnviz allows itself "
        "(by default it refuses, naming the layer that needs most)",
    )


def weights_file(args: argparse.Namespace, arch: Architecture) -> str | None:
    """--weights, else the architecture's own (a preset's bundled file, a file named
    beside it), unless --no-weights (a command without that option has none)."""
    if args.weights:
        return args.weights
    if getattr(args, "no_weights", False):
        return None
    try:
        arch_file = Path(args.arch) if Path(args.arch).suffix else preset_path(args.arch)
    except ValueError:
        arch_file = None
    found = weights_path(arch, arch_file)
    return str(found) if found else None


def network_input(args: argparse.Namespace, arch: Architecture) -> np.ndarray:
    """The image file as exactly the tensor the network takes; CommandError if unusable."""
    from cnnviz.core.images import ImageError, load_image, to_network_input

    try:
        image = load_image(args.image)
    except ImageError as exc:
        raise CommandError(str(exc)) from None
    try:
        c, h, w = arch.input.as_tuple()
        return to_network_input(image, c, h, w, preprocessing(args, arch))
    except ValueError as exc:
        raise CommandError(f"{Path(args.image).name}: {exc}") from None


def _save_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Written beside the target and renamed, so a failure never leaves half a file."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        with tmp.open("wb") as handle:
            np.savez(handle, **arrays)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise CommandError(f"cannot write {path}: {exc.strerror or exc}") from None


def hooked_key(arch: Architecture, index: int) -> str:
    """A hooked view's --out key: the module's path, "blocks.1 (call 2)" for a second call."""
    layer = arch.layers[index]
    module, call = layer.get("module"), layer.get("call")
    return module if call == 1 else f"{module} (call {call})"


def layer_key(index: int, count: int) -> str:
    return f"layer_{index:0{max(2, len(str(count - 1)))}d}"


def activation_key(address: str, count: int) -> str:
    """The --out key of the layer at ``address`` ("3", "3.body.0", "6.branches.2.1")
    in a stack of ``count`` top-level entries: "layer_03", "layer_03.body.00",
    "layer_06.branches.2.01" (a layer's position in its path has two digits, as
    the top level; a branch keeps its own number)."""
    top, *rest = address.split(".")
    parts = [layer_key(int(top), count)]
    for previous, part in zip([top, *rest], rest, strict=False):
        parts.append(part if not part.isdigit() or previous == "branches" else f"{int(part):02d}")
    return ".".join(parts)


def _class_name(arch: Architecture, index: int) -> str | None:
    classes = arch.classes
    return classes[index] if classes and index < len(classes) else None


def _prediction(result, arch: Architecture, top: int) -> dict[str, Any]:
    probs = result.probabilities
    if probs is None:
        return {"predicted_class": None, "class_name": None, "probabilities": None, "top": None}
    best = int(np.argmax(probs))
    # Stable, so equal probabilities keep the class order.
    order = np.argsort(-probs, kind="stable")[: max(1, top)]
    return {
        "predicted_class": best,
        "class_name": _class_name(arch, best),
        "probabilities": [round(float(p), 6) for p in probs],
        "top": [
            {"class": int(i), "name": _class_name(arch, int(i)), "probability": float(probs[i])}
            for i in order
        ],
    }


def _forward(args: argparse.Namespace, arch: Architecture, image, weights: str | None):
    from cnnviz.compute.device import DeviceError, resolve_device
    from cnnviz.compute.runner import ComputeError, ForwardRunner, MemoryRefused
    from cnnviz.core.jobs import ForwardRequest

    try:
        device = resolve_device(args.device)
    except DeviceError as exc:
        raise CommandError(str(exc)) from None
    request = ForwardRequest(
        request_id=1,
        architecture=arch,
        image=image,
        seed=args.seed,
        train_mode=args.train_mode,
        weights_path=weights,
        device=str(device),
        ignore_memory_limit=args.ignore_memory_limit,
    )
    try:
        return ForwardRunner().run(request)
    except MemoryRefused as exc:
        raise CommandError(f"{exc}; {OVERRIDE}") from None
    except ComputeError as exc:
        raise CommandError(str(exc)) from None


def _architecture(args: argparse.Namespace) -> Architecture:
    """The network; a model of the person's own comes with its weights (its --weights,
    under its own keys, or its constructor's) as a file under cnnviz's keys."""
    from cnnviz.commands.imported import is_model_source, load_imported

    if not is_model_source(args.arch):
        return load_architecture(args.arch, args.input)
    imported = load_imported(args.arch, args.input, args.weights)
    # What the report names: the person's own file (or their constructor's weights),
    # never the converted copy in a temporary folder.
    args.own_weights, args.imported = args.weights, True
    # A hooked view has none: its live model runs with its own weights (or --weights).
    args.weights = str(imported.weights) if imported.weights else None
    return imported.architecture


def execute(args: argparse.Namespace) -> int:
    arch = _architecture(args)
    image = network_input(args, arch)
    weights = weights_file(args, arch)
    hooked = is_hooked_metadata(arch.metadata)  # the model's own weights, not cnnviz's
    weights = arch.metadata["hooked"].get("model_weights") if hooked else weights
    result = _forward(args, arch, image, weights)
    shown, trained = weights, weights is not None
    if getattr(args, "imported", False):
        shown = args.own_weights
        trained = True if shown else None  # the constructor's weights: trained or not
    analysis = analyze(arch)
    addresses = [info.address for info in analysis.layers]
    out = Path(args.out) if args.out else None
    if out is not None:
        arrays = {"input": result.input}
        count = len(analysis.top_level)
        for layer in result.layers:
            key = activation_key(addresses[layer.index], count)
            arrays[hooked_key(arch, layer.index) if hooked else key] = layer.output
        _save_npz(out, arrays)
    report = {
        "architecture": arch.name,
        "image": str(args.image),
        "input_shape": list(result.input.shape),
        "preprocessing": preprocessing(args, arch).to_json(),
        "preprocessing_text": preprocessing(args, arch).describe(*arch.input.as_tuple()[1:]),
        "weights": shown,
        "trained": trained,
        "seed": args.seed,
        "device": result.device,
        "elapsed_ms": round(result.elapsed_ms, 3),
        "out": None if out is None else str(out),
        "layers": len(result.layers),
        **_prediction(result, arch, args.top),
        "notice": result.notice,
        "get_weights": get_weights_hint(arch) if trained is False else None,
        "layer_stats": [_layer_stats(layer, addresses[layer.index]) for layer in result.layers],
    }
    if args.json:
        print(safe_json.dumps(report, indent=2))
    else:
        print(_human(report))
        if args.stats:
            print(_stats_table(report["layer_stats"]))
    return 0


def _layer_stats(layer, address: str) -> dict[str, Any]:
    stats = layer.stats
    return {
        "index": layer.index,
        "address": address,
        "type": layer.type,
        "shape": list(layer.output.shape),
        "min": stats.minimum,
        "max": stats.maximum,
        "mean": stats.mean,
        "zero_fraction": stats.zero_fraction,
    }


def _stats_table(rows: list[dict[str, Any]]) -> str:
    lines = [f"{'layer':<22}{'shape':>14}{'min':>11}{'max':>11}{'mean':>11}{'zeros':>8}"]
    for row in rows:
        shape = "×".join(map(str, row["shape"]))
        lines.append(
            f"{row['address']:>3} {row['type']:<18}{shape:>14}{row['min']:>11.4g}"
            f"{row['max']:>11.4g}{row['mean']:>11.4g}{row['zero_fraction']:>8.0%}"
        )
    return "\n".join(lines)


def _label(row: dict[str, Any]) -> str:
    name = row["name"]
    if name is None:
        return f"class {row['class']}"
    # Digits are named by their own index: "7", not "7 7".
    return name if name == str(row["class"]) else f"{name} (class {row['class']})"


def _human(report: dict[str, Any]) -> str:
    weights = f"weights {Path(report['weights']).name}" if report["trained"] else "random weights"
    if report["trained"] is None:
        weights = f"the weights {report['architecture']}'s constructor gave it"
    prep = report["preprocessing_text"]
    lines = [
        f"{report['architecture']} on {Path(report['image']).name} "
        f"({report['device']}, {report['elapsed_ms']:.1f} ms, {weights}"
        + ("" if prep == "stretch" else f"; input {prep}")
        + ")"
    ]
    if report["trained"] is False:
        what = "these predictions" if report["top"] else "its filters and outputs"
        lines.append("note: " + UNTRAINED.format(seed=report["seed"], what=what))
        if report["get_weights"]:
            lines.append(f"note: {report['get_weights']}")
    if report["top"]:
        count = len(report["probabilities"])
        lines.append(f"prediction (top {len(report['top'])} of {count} classes):")
        lines += [f"  {row['probability']:>7.2%}  {_label(row)}" for row in report["top"]]
    else:
        lines.append("no prediction: the last layer does not give class scores")
    if report["out"]:
        lines.append(f"wrote input and {report['layers']} layer outputs to {report['out']}")
    if report["notice"]:
        lines.append(f"note: {report['notice']}")
    return "\n".join(lines)
