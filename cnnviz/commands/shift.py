"""`cnnviz shift ARCH IMAGE --pixels K [--axis x|y]`: translation invariance, measured.

Runs the network twice, on the picture and on the picture moved K pixels
(zeros fill what enters), and prints per layer its total stride, the
equivariance error (the shifted map against the original moved K / stride
cells, away from the borders) and the invariance error (the two maps at the
same positions), then the prediction before and after (cnnviz.core.translation
says exactly what is compared). The picture and the weights are prepared and
found as ``cnnviz run`` does.
"""

from __future__ import annotations

import argparse
import json

from cnnviz.commands import CommandError
from cnnviz.commands.run import NORMALIZE_CHOICES, RESIZE_CHOICES, network_input, weights_file
from cnnviz.commands.summary import load_architecture
from cnnviz.core.analysis import analyze
from cnnviz.core.presets import PRESETS
from cnnviz.core.translation import FILL, TranslationReport, axis_shift

NAME = "shift"
HELP = "Shift the input by K pixels and compare every layer and the prediction."
MOST_PIXELS = 64


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("arch", help=f"architecture file or preset ({', '.join(PRESETS)})")
    parser.add_argument("image", help="image file (PNG, JPEG, ...)")
    parser.add_argument(
        "--pixels", type=int, required=True, metavar="K", help="shift by K pixels (negative: back)"
    )
    parser.add_argument(
        "--axis", choices=("x", "y"), default="x", help="x: right (default), y: down"
    )
    parser.add_argument("--weights", metavar="FILE", help="safetensors or .pt/.pth state dict")
    parser.add_argument(
        "--no-weights", action="store_true", help="ignore the architecture's own weights"
    )
    parser.add_argument("--seed", type=int, default=0, help="random initialisation")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"), default="auto")
    parser.add_argument("--resize", choices=RESIZE_CHOICES, help="as cnnviz run")
    parser.add_argument("--normalize", choices=NORMALIZE_CHOICES, help="as cnnviz run")
    parser.add_argument("--invert", action="store_true", help="as cnnviz run")
    parser.add_argument("--json", action="store_true", help="print the comparison as JSON")


def _compare(args, arch, image) -> TranslationReport:
    from cnnviz.compute.device import DeviceError, resolve_device
    from cnnviz.compute.runner import ComputeError, ForwardRunner
    from cnnviz.compute.translation import shifted_forwards
    from cnnviz.core.jobs import ForwardRequest

    request = ForwardRequest(1, arch, image, seed=args.seed, weights_path=weights_file(args, arch))
    try:
        model = ForwardRunner().model_for(request).to(resolve_device(args.device))
    except (ComputeError, DeviceError) as exc:
        raise CommandError(str(exc)) from None
    shift = axis_shift(args.pixels, args.axis)
    return shifted_forwards(model, analyze(arch), image, shift).report


def _number(value: float | None, width: int = 10) -> str:
    return f"{'—' if value is None else f'{value:.3g}':>{width}}"


def as_table(report: TranslationReport, classes: list[str] | None = None) -> str:
    """One line per layer and the prediction before and after, for a person."""
    lines = [
        f"shift: dy={report.dy} dx={report.dx} px ({FILL} fill what enters)",
        f"{'layer':<8}{'type':<26}{'shape':<16}{'stride':>8}{'cells':>8}"
        f"{'equivar.':>10}{'invar.':>10}  note",
    ]
    for row in report.layers:
        shape = "×".join(map(str, row.shape))
        stride = "×".join(map(str, row.stride)) if row.stride else "—"
        moved = max(row.cells, key=abs) if row.cells else None
        cells = "—" if moved is None else f"{moved:.3g}"
        mark = " (pool)" if row.pooling else ""
        lines.append(
            f"{row.address:<8}{row.type + mark:<26}{shape:<16}{stride:>8}{cells:>8}"
            f"{_number(row.equivariance)}{_number(row.invariance)}  {row.note}".rstrip()
        )
    lines.append(_prediction_line(report, classes))
    return "\n".join(lines)


def _prediction_line(report: TranslationReport, classes: list[str] | None) -> str:
    p = report.prediction
    if p is None:
        return "prediction: the last layer gives no class scores"

    def name(index: int) -> str:
        label = classes[index] if classes and index < len(classes) else None
        return f"class {index}" + (f" {label!r}" if label and label != str(index) else "")

    return (
        f"prediction: {name(p.before)} p={p.before_probability:.4f} → "
        f"{name(p.after)} p={p.after_probability:.4f} "
        f"(p of {name(p.before)} changes by {p.change:+.4f})"
    )


def execute(args: argparse.Namespace) -> int:
    arch = load_architecture(args.arch)
    if abs(args.pixels) > MOST_PIXELS:
        raise CommandError(f"--pixels {args.pixels}: at most {MOST_PIXELS} either way")
    _, h, w = arch.input.as_tuple()
    if abs(args.pixels) >= (w if args.axis == "x" else h):
        raise CommandError(f"--pixels {args.pixels}: the input is only {w}×{h} pixels")
    image = network_input(args, arch)
    report = _compare(args, arch, image)
    if args.json:
        print(json.dumps(report.as_dict(), indent=1, allow_nan=False))
    else:
        print(as_table(report, arch.classes))
    return 0
