"""`cnnviz animate`: a convolution or pooling stepped through, as a GIF or as numbers.

Without --input/--kernel it plays the classic teaching example: the 5x5
binary image and the X-shaped 3x3 filter (with --pool: the 4x4 map whose 2x2
max pooling is [[5, 7], [8, 9]]). Matrix files are plain text, rows of numbers
separated by spaces or commas; a blank line starts the next channel.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

import numpy as np

from cnnviz.commands import CommandError
from cnnviz.core.conv_steps import (
    CLASSROOM_IMAGE,
    CLASSROOM_KERNEL,
    CLASSROOM_POOL_INPUT,
    PADDING_MODES,
    ConvConfig,
    MatrixFileError,
    PoolConfig,
    StepError,
    Walkthrough,
    read_matrices,
    walkthrough,
)
from cnnviz.core.conv_text import format_value

NAME = "animate"
HELP = "Step through a convolution or pooling: an animated GIF, one frame per output cell."


def pair(text: str) -> int | tuple[int, int]:
    """'2' → 2, '2,1' → (2, 1), for --stride/--padding/--dilation/--pool-size."""
    try:
        parts = [int(p) for p in text.replace("x", ",").split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected N or H,W (whole numbers), got {text!r}"
        ) from None
    if len(parts) == 1:
        return parts[0]
    if len(parts) == 2:
        return parts[0], parts[1]
    raise argparse.ArgumentTypeError(f"expected N or H,W, got {text!r}")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = (
        "Matrix files: rows of numbers (spaces or commas); a blank line starts the next "
        "channel. Example: cnnviz animate --padding 1 --stride 2 --dilation 2 --out conv.gif"
    )
    parser.add_argument("--input", metavar="FILE", help="input matrix (default: 5x5 classroom)")
    parser.add_argument("--kernel", metavar="FILE", help="kernel matrix (default: 3x3 X filter)")
    parser.add_argument("--stride", type=pair, metavar="S", help="default 1 (pooling: its size)")
    parser.add_argument("--padding", type=pair, default=0, metavar="P", help="default 0")
    parser.add_argument("--dilation", type=pair, default=1, metavar="D", help="default 1")
    parser.add_argument("--padding-mode", choices=PADDING_MODES, default="zeros")
    parser.add_argument("--bias", type=float, default=0.0, help="added to every sum (default 0)")
    parser.add_argument("--relu", action="store_true", help="apply ReLU after the bias")
    parser.add_argument("--pool", choices=("max", "avg"), help="step through pooling instead")
    parser.add_argument("--pool-size", type=pair, default=2, metavar="K", help="default 2")
    parser.add_argument("--ceil-mode", action="store_true", help="pooling: round the size up")
    parser.add_argument("--out", metavar="ANIM.gif", help="write the animated GIF here")
    parser.add_argument("--frame-ms", type=int, default=800, help="ms per frame (default 800)")
    parser.add_argument("--json", action="store_true", help="print the output matrix as JSON")


def _read(path: str | None, default: np.ndarray) -> np.ndarray:
    if path is None:
        return default[np.newaxis]
    try:
        return read_matrices(path)
    except MatrixFileError as exc:
        raise CommandError(str(exc)) from None


def build_config(args: argparse.Namespace) -> ConvConfig | PoolConfig:
    """The layer the arguments describe, or CommandError saying what is wrong."""
    try:
        if args.pool:
            if args.kernel:
                raise CommandError("--kernel is for convolution; pooling takes --pool-size")
            if args.bias or args.relu or args.padding_mode != "zeros":
                raise CommandError("--bias, --relu and --padding-mode are for convolution only")
            return PoolConfig(
                _read(args.input, CLASSROOM_POOL_INPUT), args.pool, args.pool_size,
                args.stride, args.padding, args.dilation, args.ceil_mode,
            )  # fmt: skip
        if args.ceil_mode:
            raise CommandError("--ceil-mode is for pooling (--pool max|avg)")
        image = _read(args.input, CLASSROOM_IMAGE)
        kernel = _read(args.kernel, CLASSROOM_KERNEL)
        stride = 1 if args.stride is None else args.stride
        return ConvConfig(
            image,
            kernel[np.newaxis],
            bias=[args.bias],
            stride=stride,
            padding=args.padding,
            dilation=args.dilation,
            padding_mode=args.padding_mode,
            activation="relu" if args.relu else "none",
        )
    except StepError as exc:
        raise CommandError(str(exc)) from None


def _plain(value: float) -> Any:
    """Whole numbers as JSON integers, so the classroom map reads [[4, 3, 4], ...]."""
    value = float(value)
    return int(value) if value.is_integer() and abs(value) < 2**53 else value


def as_json(walk: Walkthrough, frames: int | None) -> dict[str, Any]:
    output = walk.output()
    matrix = output[0] if output.shape[0] == 1 else output
    record = {
        "output": [[_plain(v) for v in row] for row in matrix]
        if matrix.ndim == 2
        else [[[_plain(v) for v in row] for row in channel] for channel in matrix],
        "output_shape": list(matrix.shape),
        "formula": "; ".join(walk.formula),
        "layer": walk.description(),
        "steps": len(walk.steps),
    }
    if frames is not None:
        record["gif_frames"] = frames
    return record


def as_text(walk: Walkthrough) -> str:
    lines = [walk.description(), *walk.formula, "output:"]
    for channel in walk.output():
        lines += ["  " + "  ".join(f"{format_value(v):>6}" for v in row) for row in channel]
        lines.append("")
    return "\n".join(lines).rstrip()


def _write(walk: Walkthrough, path: str, frame_ms: int) -> int:
    from cnnviz.core.conv_gif import write_gif

    if not 20 <= frame_ms <= 60_000:
        raise CommandError(f"--frame-ms must be between 20 and 60000, got {frame_ms}")
    try:
        return write_gif(walk, path, frame_ms)
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    except OSError as exc:
        raise CommandError(f"cannot write {path}: {exc.strerror or exc}") from None


def execute(args: argparse.Namespace) -> int:
    walk = walkthrough(build_config(args))
    frames = _write(walk, args.out, args.frame_ms) if args.out else None
    if args.json:
        print(json.dumps(as_json(walk, frames), ensure_ascii=False))
    elif frames is not None:
        print(f"wrote {args.out}: {frames} frames, one per output cell")
    else:
        print(as_text(walk))
    return 0
