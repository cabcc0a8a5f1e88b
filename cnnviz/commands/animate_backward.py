"""`cnnviz animate --backward`: the backward pass stepped through (core/conv_backward.py).

∂L/∂Y is all ones (L = the sum of the outputs) or small random whole numbers
(--grad random, --grad-seed). --backward input steps ∂L/∂X, one input
position per frame; --backward weight steps ∂L/∂W, one weight per frame;
pooling steps one window per frame, its ∂L/∂Y going to the winner (max) or
split over the window (avg). Sized before anything is computed, like the
forward walkthrough.
"""

from __future__ import annotations

import argparse
import math

import numpy as np

from cnnviz.commands import CommandError
from cnnviz.core.conv_backward import (
    GRADIENTS,
    grad_input_walkthrough,
    grad_output,
    grad_weight_walkthrough,
    pool_backward_walkthrough,
    pool_grad_so_far,
)
from cnnviz.core.conv_steps import ConvConfig, PoolConfig, StepError, Walkthrough

# Values held by the steps' windows and products together: 2 × 32 MB of float64.
MAX_STEP_VALUES = 4 * 1024 * 1024
MAX_SEED = 2**31 - 1


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"must be from 0 to {MAX_SEED}, got {text!r}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--backward",
        nargs="?",
        const="input",
        choices=("input", "weight"),
        help="step through the backward pass: ∂L/∂X (input, the default) or ∂L/∂W (weight)",
    )
    parser.add_argument(
        "--grad",
        choices=GRADIENTS,
        default="ones",
        help="∂L/∂Y for --backward: ones (L = ΣY, default) or random whole numbers −2…2",
    )
    parser.add_argument(
        "--grad-seed", type=_seed, default=0, metavar="N", help="seed of --grad random"
    )


def check(args: argparse.Namespace, config: ConvConfig | PoolConfig, gif: bool) -> None:
    """CommandError when the backward steps asked for cannot or should not be made."""
    if args.backward is None:
        if args.grad != "ones" or args.grad_seed:
            raise CommandError("--grad and --grad-seed are for --backward")
        return
    if args.relu:
        raise CommandError("--relu with --backward: ∂L/∂Y is taken at the convolution's output")
    pool = isinstance(config, PoolConfig)
    if pool and args.backward == "weight":
        raise CommandError("pooling has no weights: use --backward (input) with --pool")
    steps, window = _sizes(config, "pool" if pool else args.backward)
    from cnnviz.commands.animate import MAX_STEPS
    from cnnviz.core.conv_gif import MAX_FRAMES

    limit = MAX_FRAMES if gif else MAX_STEPS
    if steps > limit:
        what = f"a GIF of at most {limit:,} frames" if gif else f"at most {limit:,} steps"
        raise CommandError(
            f"the backward pass has {steps:,} values to step through; {what} "
            "(use a smaller input or kernel)"
        )
    if steps * window > MAX_STEP_VALUES:
        raise CommandError(
            f"{steps:,} steps of {window:,} products each: at most {MAX_STEP_VALUES:,} "
            "values (use a smaller input or kernel)"
        )


def _sizes(config: ConvConfig | PoolConfig, which: str) -> tuple[int, int]:
    """(steps, products per step) of the backward walkthrough, from shapes alone."""
    if which == "pool":
        return math.prod(config.output_shape), math.prod(config.kernel_size)
    out_c, out_h, out_w = config.output_shape
    channels, height, width = config.input.shape
    if which == "input":
        return channels * height * width, out_c // config.groups * math.prod(config.kernel_size)
    return config.kernel.size, out_h * out_w


def walkthrough(args: argparse.Namespace, config: ConvConfig | PoolConfig):
    """(the backward walkthrough, the ∂L/∂Y it steps with)."""
    grad = grad_output(config.output_shape, args.grad, args.grad_seed)
    try:
        if isinstance(config, PoolConfig):
            return pool_backward_walkthrough(config, grad), grad
        if args.backward == "weight":
            return grad_weight_walkthrough(config, grad), grad
        return grad_input_walkthrough(config, grad), grad
    except StepError as exc:
        raise CommandError(str(exc)) from None


def result(walk: Walkthrough) -> np.ndarray:
    """The gradient the steps add up to: ∂L/∂X (C, H, W) or ∂L/∂W (C, kh, kw) per channel."""
    if walk.kind == "conv":
        return walk.output()
    return pool_grad_so_far(walk)
