"""`cnnviz animate`: a convolution or pooling stepped through, as a GIF or as numbers.

Without --input/--kernel it plays the classic teaching example: the 5x5
binary image and the X-shaped 3x3 filter (with --pool: the 4x4 map whose 2x2
max pooling is [[5, 7], [8, 9]]). Matrix files are plain text, rows of numbers
separated by spaces or commas; a blank line starts the next channel.
"""

from __future__ import annotations

import argparse
import math
from typing import Any

import numpy as np

from cnnviz.commands import CommandError, animate_backward
from cnnviz.core import safe_json
from cnnviz.core.conv_flip import convolution_walkthrough
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
from cnnviz.core.conv_text import MAX_SIDE, format_value

NAME = "animate"
HELP = "Step through a convolution or pooling: an animated GIF, one frame per output cell."


# Every argument has a range, and the walkthrough a size, so no combination can
# ask for gigabytes: --padding 100000 once tried to allocate 298 GiB.
MAX_ARGUMENT = MAX_SIDE  # stride, dilation, pool size: up to the largest matrix side
MAX_PADDING = MAX_SIDE
MAX_STEPS = 65_536  # output cells stepped through (a 256x256 map): about 2 s, 100 MB
MAX_PADDED_VALUES = 4 * 1024 * 1024  # the padded input: 32 MB of float64
FRAME_MS = (20, 60_000)


def _whole(text: str) -> list[int]:
    try:
        return [int(p) for p in text.replace("x", ",").split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected N or H,W (whole numbers), got {text!r}"
        ) from None


def pair_in(low: int, high: int):
    """An argparse type: 'N' → N, 'H,W' → (H, W), each from `low` to `high`."""

    def pair(text: str) -> int | tuple[int, int]:
        parts = _whole(text)
        if len(parts) not in (1, 2):
            raise argparse.ArgumentTypeError(f"expected N or H,W, got {text!r}")
        if not all(low <= p <= high for p in parts):
            raise argparse.ArgumentTypeError(f"must be from {low} to {high}, got {text!r}")
        return parts[0] if len(parts) == 1 else (parts[0], parts[1])

    return pair


def _frame_ms(text: str) -> int:
    low, high = FRAME_MS
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if not low <= value <= high:
        raise argparse.ArgumentTypeError(f"must be from {low} to {high}, got {text!r}")
    return value


def _finite(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = (
        "Matrix files: rows of numbers (spaces or commas); a blank line starts the next "
        "channel. Example: cnnviz animate --padding 1 --stride 2 --dilation 2 --out conv.gif"
    )
    parser.add_argument("--input", metavar="FILE", help="input matrix (default: 5x5 classroom)")
    parser.add_argument("--kernel", metavar="FILE", help="kernel matrix (default: 3x3 X filter)")
    steps = pair_in(1, MAX_ARGUMENT)
    parser.add_argument(
        "--stride", type=steps, metavar="S", help="default 1 (pooling: its size); 1 to 256"
    )
    parser.add_argument(
        "--padding", type=pair_in(0, MAX_PADDING), default=0, metavar="P", help="0 to 256"
    )
    parser.add_argument("--dilation", type=steps, default=1, metavar="D", help="1 to 256")
    parser.add_argument("--padding-mode", choices=PADDING_MODES, default="zeros")
    parser.add_argument("--bias", type=_finite, default=0.0, help="added to every sum (default 0)")
    parser.add_argument("--relu", action="store_true", help="apply ReLU after the bias")
    parser.add_argument(
        "--flip",
        action="store_true",
        help="true convolution: rotate the kernel 180° first (torch's Conv2d does not)",
    )
    parser.add_argument("--pool", choices=("max", "avg"), help="step through pooling instead")
    parser.add_argument("--pool-size", type=steps, default=2, metavar="K", help="1 to 256")
    parser.add_argument("--ceil-mode", action="store_true", help="pooling: round the size up")
    parser.add_argument("--out", metavar="ANIM.gif", help="write the animated GIF here")
    parser.add_argument(
        "--frame-ms", type=_frame_ms, default=800, help="ms per frame, 20 to 60000 (default 800)"
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="print the output matrix as strict JSON (a value too large to be finite is null)",
    )
    animate_backward.add_arguments(parser)


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


def _nested(array: np.ndarray) -> list:
    """(1, H, W) as rows, (C, H, W) as channels of rows, numbers as _plain gives them."""
    matrix = array[0] if array.shape[0] == 1 else array
    if matrix.ndim == 2:
        return [[_plain(v) for v in row] for row in matrix]
    return [[[_plain(v) for v in row] for row in channel] for channel in matrix]


def as_json(walk: Walkthrough, frames: int | None, grad=None) -> dict[str, Any]:
    """The output matrix; backward (`grad` given): the gradient and the ∂L/∂Y used."""
    output = walk.output() if grad is None else animate_backward.result(walk)
    matrix = _nested(output)
    record = {
        "output": matrix,
        "output_shape": list(np.shape(matrix)),
        "formula": "; ".join(walk.formula),
        "layer": walk.description(),
        "steps": len(walk.steps),
    }
    if grad is not None:
        record["grad_output"] = _nested(grad)
    if frames is not None:
        record["gif_frames"] = frames
    return record


def as_text(walk: Walkthrough, backward: bool = False) -> str:
    lines = [walk.description(), *walk.formula, "gradient:" if backward else "output:"]
    output = animate_backward.result(walk) if backward else walk.output()
    for channel in output:
        lines += ["  " + "  ".join(f"{format_value(v):>6}" for v in row) for row in channel]
        lines.append("")
    return "\n".join(lines).rstrip()


def check_size(config: ConvConfig | PoolConfig, gif: bool) -> None:
    """CommandError if the walkthrough (or its GIF) would be too large to make.

    Checked on the layer's shapes alone, before any step is computed.
    """
    from cnnviz.core.conv_gif import MAX_FRAMES

    steps = math.prod(config.output_shape)  # one per output cell, every output channel
    limit = MAX_FRAMES if gif else MAX_STEPS
    if steps > limit:
        shape = "x".join(map(str, config.output_shape))
        what = f"a GIF of at most {limit:,} frames" if gif else f"at most {limit:,} steps"
        raise CommandError(
            f"the output is {shape}, {steps:,} cells to step through; {what} "
            "(use a smaller input or padding, or a larger stride)"
        )
    channels, height, width = config.input.shape
    pads = config.padding if isinstance(config, ConvConfig) else [(p, p) for p in config.padding]
    padded = channels * (height + sum(pads[0])) * (width + sum(pads[1]))
    if padded > MAX_PADDED_VALUES:
        raise CommandError(
            f"the padded input would hold {padded:,} values; at most {MAX_PADDED_VALUES:,} "
            "(use less padding or a smaller input)"
        )


def _write(walk: Walkthrough, path: str, frame_ms: int) -> int:
    from cnnviz.core.conv_gif import write_gif

    try:
        return write_gif(walk, path, frame_ms)
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    except OSError as exc:
        raise CommandError(f"cannot write {path}: {exc.strerror or exc}") from None


def _check_flip(args: argparse.Namespace) -> None:
    # Flipping is about a kernel, and the backward pass has its own kernels (conv_backward).
    if args.flip and args.pool:
        raise CommandError("--flip is for convolution: pooling has no kernel to flip")
    if args.flip and args.backward:
        raise CommandError("--flip steps the forward convolution only; drop --backward")


def execute(args: argparse.Namespace) -> int:
    _check_flip(args)
    config = build_config(args)
    animate_backward.check(args, config, gif=bool(args.out))
    grad = None
    if args.backward:
        walk, grad = animate_backward.walkthrough(args, config)
    else:
        check_size(config, gif=bool(args.out))
        walk = convolution_walkthrough(config) if args.flip else walkthrough(config)
    frames = _write(walk, args.out, args.frame_ms) if args.out else None
    if args.json:
        print(safe_json.dumps(as_json(walk, frames, grad), ensure_ascii=False))
    elif frames is not None:
        cells = "one per step of the backward pass" if grad is not None else "one per output cell"
        print(f"wrote {args.out}: {frames} frames, {cells}")
    else:
        print(as_text(walk, grad is not None))
    return 0
