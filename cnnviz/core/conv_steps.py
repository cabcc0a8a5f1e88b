"""One convolution or pooling layer computed one output cell at a time.

This is the arithmetic the step-through panel, the GIF export and
``cnnviz animate`` show, so it is written to be *read*: for every output cell
it builds a :class:`Step` (see :mod:`cnnviz.core.conv_step_model`, whose
names are re-exported here) by taking the window over the padded input,
multiplying, summing per channel, adding the bias and applying the activation
(or, for pooling, taking the maximum or the average). Like torch, a
"convolution" is a cross-correlation (the kernel is not flipped).
tests/core/test_conv_steps.py proves every step's value equal to torch's.
"""

from __future__ import annotations

import numpy as np

from cnnviz.core.conv_step_model import (
    ACTIVATIONS,
    CLASSROOM_IMAGE,
    CLASSROOM_KERNEL,
    CLASSROOM_POOL_INPUT,
    INPUT,
    OUTSIDE,
    PADDING,
    PADDING_MODES,
    POOL_MODES,
    ConvConfig,
    PadPairs,
    Pair,
    PoolConfig,
    Step,
    StepError,
    Walkthrough,
    _cell_kinds,
    normalize_padding,
    pad_input,
)
from cnnviz.core.conv_text import (
    MatrixFileError,
    conv_formula,
    pool_formula,
    read_matrices,
    read_matrix,
)

__all__ = [
    "ACTIVATIONS",
    "CLASSROOM_IMAGE",
    "CLASSROOM_KERNEL",
    "CLASSROOM_POOL_INPUT",
    "INPUT",
    "OUTSIDE",
    "PADDING",
    "PADDING_MODES",
    "POOL_MODES",
    "ConvConfig",
    "MatrixFileError",
    "PadPairs",
    "Pair",
    "PoolConfig",
    "Step",
    "StepError",
    "Walkthrough",
    "conv_steps",
    "conv_walkthrough",
    "normalize_padding",
    "pad_input",
    "pool_steps",
    "pool_walkthrough",
    "read_matrices",
    "read_matrix",
    "walkthrough",
]


def _region(region, out_hw: Pair) -> tuple[int, int, int, int]:
    if region is None:
        return 0, 0, out_hw[0], out_hw[1]
    row0, col0, rows, cols = (int(v) for v in region)
    if row0 < 0 or col0 < 0 or rows < 1 or cols < 1:
        raise StepError(f"the output region {region!r} must start at 0 or later and be non-empty")
    if row0 + rows > out_hw[0] or col0 + cols > out_hw[1]:
        raise StepError(
            f"the output region rows {row0}..{row0 + rows - 1}, cols {col0}..{col0 + cols - 1} "
            f"lies outside the {out_hw[0]}x{out_hw[1]} output"
        )
    return row0, col0, rows, cols


def _channel_list(channels, count: int) -> tuple[int, ...]:
    chosen = tuple(range(count)) if channels is None else tuple(int(c) for c in channels)
    if not chosen or min(chosen) < 0 or max(chosen) >= count:
        raise StepError(f"output channels must be between 0 and {count - 1}, got {channels!r}")
    return chosen


def conv_walkthrough(config: ConvConfig, out_channels=None, region=None) -> Walkthrough:
    """The steps of `config`, channel by channel, row by row, optionally a region only."""
    padded = pad_input(config.input, config.padding, config.padding_mode)
    out_shape = config.output_shape
    chosen = _channel_list(out_channels, out_shape[0])
    row0, col0, n_rows, n_cols = _region(region, out_shape[1:])
    in_per_group = config.input.shape[0] // config.groups
    out_per_group = out_shape[0] // config.groups
    (kh, kw), (sh, sw), (dh, dw) = config.kernel_size, config.stride, config.dilation
    steps = []
    for o in chosen:
        group = o // out_per_group
        channels = np.arange(group * in_per_group, (group + 1) * in_per_group)
        weights, bias = config.kernel[o], float(config.bias[o])
        for r in range(row0, row0 + n_rows):
            rows = r * sh + dh * np.arange(kh)
            for c in range(col0, col0 + n_cols):
                cols = c * sw + dw * np.arange(kw)
                window = padded[np.ix_(channels, rows, cols)]
                products = window * weights
                partial = products.sum(axis=(1, 2))
                total = float(partial.sum())
                value = total + bias
                if config.activation == "relu":
                    value = max(value, 0.0)
                steps.append(
                    Step(len(steps), (o, r, c), channels, rows, cols, window, products,
                         partial, total, bias, value)
                )  # fmt: skip
    pads = config.padding
    return Walkthrough(
        "conv", config, padded, _cell_kinds(config.input.shape[1:], pads, padded.shape[1:]),
        (pads[0][0], pads[1][0]), out_shape, chosen, (row0, col0, n_rows, n_cols),
        tuple(steps), conv_formula(config.input.shape[1:], config.kernel_size, config.stride,
                                   pads, config.dilation),
    )  # fmt: skip


def conv_steps(config: ConvConfig, out_channels=None, region=None) -> list[Step]:
    """One Step per output cell (channel-major, then rows, then columns)."""
    return list(conv_walkthrough(config, out_channels, region).steps)


def _pool_padded(config: PoolConfig) -> tuple[np.ndarray, np.ndarray]:
    """The input with pooling padding, grown on the bottom/right for ceil_mode windows."""
    _, out_h, out_w = config.output_shape
    (kh, kw), (sh, sw), (dh, dw) = config.kernel_size, config.stride, config.dilation
    (ph, pw), (h, w) = config.padding, config.input.shape[1:]
    extra_h = max(0, (out_h - 1) * sh + dh * (kh - 1) + 1 - (h + 2 * ph))
    extra_w = max(0, (out_w - 1) * sw + dw * (kw - 1) + 1 - (w + 2 * pw))
    # Max pooling never picks padding (torch pads with -inf); average pooling adds zeros.
    fill = -np.inf if config.mode == "max" else 0.0
    padded = pad_input(config.input, ((ph, ph + extra_h), (pw, pw + extra_w)), "zeros", fill)
    kinds = _cell_kinds((h, w), ((ph, ph), (pw, pw)), padded.shape[1:])
    return padded, kinds


def _max_of(window: np.ndarray, counted: np.ndarray) -> tuple[float, tuple[int, int] | None]:
    """Torch's choice: the first maximum in row-major order among real input cells."""
    best, chosen = -np.inf, None
    for (i, j), value in np.ndenumerate(window):
        if counted[i, j] and (chosen is None or value > best):
            best, chosen = float(value), (i, j)
    return best, chosen


def _avg_divisor(config: PoolConfig, r: int, c: int, counted: np.ndarray) -> int:
    """AvgPool2d's divisor: the window clipped to the padded input (or real cells only)."""
    if not config.count_include_pad:
        return int(counted.sum())
    sizes = []
    for start, k, size, p in zip(
        (r * config.stride[0], c * config.stride[1]), config.kernel_size,
        config.input.shape[1:], config.padding, strict=True,
    ):  # fmt: skip
        sizes.append(min(start + k, size + 2 * p) - start)
    return sizes[0] * sizes[1]


def pool_walkthrough(config: PoolConfig, out_channels=None, region=None) -> Walkthrough:
    """The steps of a max or average pooling, one per output cell."""
    padded, kinds = _pool_padded(config)
    out_shape = config.output_shape
    chosen_channels = _channel_list(out_channels, out_shape[0])
    row0, col0, n_rows, n_cols = _region(region, out_shape[1:])
    (kh, kw), (sh, sw), (dh, dw) = config.kernel_size, config.stride, config.dilation
    steps = []
    for o in chosen_channels:
        channels = np.array([o])
        for r in range(row0, row0 + n_rows):
            rows = r * sh + dh * np.arange(kh)
            for c in range(col0, col0 + n_cols):
                cols = c * sw + dw * np.arange(kw)
                window = padded[np.ix_(channels, rows, cols)]
                counted = kinds[np.ix_(rows, cols)] == INPUT
                summed = float(np.where(counted, window[0], 0.0).sum())
                if config.mode == "max":
                    total, pick = _max_of(window[0], counted)
                    value, divisor = total, 1
                else:
                    total, pick = summed, None
                    divisor = _avg_divisor(config, r, c, counted)
                    value = total / divisor
                steps.append(
                    Step(len(steps), (o, r, c), channels, rows, cols, window, None,
                         np.array([summed]), total, 0.0, value, pick, divisor)
                )  # fmt: skip
    return Walkthrough(
        config.mode, config, padded, kinds, config.padding, out_shape, chosen_channels,
        (row0, col0, n_rows, n_cols), tuple(steps),
        pool_formula(config.input.shape[1:], config.kernel_size, config.stride, config.padding,
                     config.dilation, config.ceil_mode),
    )  # fmt: skip


def pool_steps(config: PoolConfig, out_channels=None, region=None) -> list[Step]:
    """One Step per pooled output cell (channel-major, then rows, then columns)."""
    return list(pool_walkthrough(config, out_channels, region).steps)


def walkthrough(config: ConvConfig | PoolConfig, out_channels=None, region=None) -> Walkthrough:
    if isinstance(config, PoolConfig):
        return pool_walkthrough(config, out_channels, region)
    return conv_walkthrough(config, out_channels, region)
