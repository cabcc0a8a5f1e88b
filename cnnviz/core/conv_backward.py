"""The backward pass of one convolution or pooling layer, one value at a time.

Given ∂L/∂Y (the gradient at the layer's output, before any bias or ReLU):

- ∂L/∂X is a FULL convolution of ∂L/∂Y with the flipped kernel. ∂L/∂Y is
  first spread out by the stride (stride − 1 zeros between its values) and
  bordered by dilation·(k − 1) zeros; the flipped kernel (same dilation) then
  slides over it with stride 1. Each step is one input position: the ∂L/∂Y
  values and flipped taps that meet there, their products and the sum. The
  gradient at padded positions is discarded (padding is not an input), so only
  the image's positions are stepped through.
- ∂L/∂W is the correlation of X with ∂L/∂Y: weight W[o, c, p, q] is the sum
  over every output cell of X under tap (p, q) of that cell's window times
  ∂L/∂Y there. As a convolution: the (padded) X channel c with ∂L/∂Y[o] as the
  kernel, stride = the layer's dilation, dilation = the layer's stride.

Both are ordinary :class:`Walkthrough` objects of conv_steps (so the stepper
and the GIF draw them as they draw the forward pass), carrying their own
:class:`Names`. Pooling is stepped per output cell: max pooling routes each
∂L/∂Y to its window's winner (the first maximum, as torch), average pooling
splits it over the window (torch's divisor; shares on padding are dropped).
tests/core/test_conv_backward.py checks every step against torch's autograd.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from cnnviz.core.conv_steps import (
    INPUT,
    PADDING,
    ConvConfig,
    PoolConfig,
    Step,
    StepError,
    Walkthrough,
    _cell_kinds,
    conv_walkthrough,
    pad_input,
    pool_walkthrough,
)
from cnnviz.core.conv_text import Names, describe_layer

GRADIENTS = ("ones", "random")


def grad_output(shape, kind: str = "ones", seed: int = 0) -> np.ndarray:
    """A ∂L/∂Y to step with: all ones (L = ΣY) or small random whole numbers (−2…2)."""
    if kind == "ones":
        return np.ones(shape)
    if kind == "random":
        return np.random.default_rng(seed).integers(-2, 3, size=shape).astype(np.float64)
    raise StepError(f"∂L/∂Y must be one of {', '.join(GRADIENTS)}, got {kind!r}")


def _checked_grad(grad, shape) -> np.ndarray:
    grad = np.array(grad, dtype=np.float64)
    if grad.ndim == 2:
        grad = grad[np.newaxis]
    if grad.shape != tuple(shape):
        raise StepError(f"∂L/∂Y must have the output's shape {tuple(shape)}, got {grad.shape}")
    if not np.all(np.isfinite(grad)):
        raise StepError("∂L/∂Y contains a value that is not a finite number")
    return grad


def _check_conv(config: ConvConfig) -> None:
    if config.padding_mode != "zeros" and any(p for pair in config.padding for p in pair):
        raise StepError(
            f"backward mode steps zero padding only, not {config.padding_mode} padding "
            "(its gradient would flow back onto the copied input cells)"
        )


def _spread_axis(size: int, before: int, k: int, s: int, d: int, out: int):
    """For one axis of the spread, bordered ∂L/∂Y read by image positions 0…size−1:
    per cell, the ∂L/∂Y index it holds (or −1 for an inserted or border zero)."""
    border = d * (k - 1)
    u = np.arange(size + border) + before - border  # index into ∂L/∂Y spread by the stride
    real = (u >= 0) & (u <= (out - 1) * s) & (u % s == 0)
    return np.where(real, u // s, -1), border - before


def _backward_description(config: ConvConfig, what: str) -> str:
    layer = describe_layer(
        "conv", config.kernel_size, config.stride, config.padding, config.dilation
    )
    return f"backward: {what} · {layer}"


def grad_input_walkthrough(config: ConvConfig, grad, region=None) -> Walkthrough:
    """∂L/∂X step by step: one step per input position (channel, row, column); `region`
    (row0, col0, rows, cols) steps only those input positions."""
    _check_conv(config)
    out_c, out_h, out_w = config.output_shape
    grad = _checked_grad(grad, config.output_shape)
    channels, height, width = config.input.shape
    (kh, kw), (sh, sw), (dh, dw) = config.kernel_size, config.stride, config.dilation
    (top, _), (left, _) = config.padding
    rows, shift_r = _spread_axis(height, top, kh, sh, dh, out_h)
    cols, shift_c = _spread_axis(width, left, kw, sw, dw, out_w)
    real = (rows[:, None] >= 0) & (cols[None, :] >= 0)
    spread = np.where(real, grad[:, np.maximum(rows, 0)][:, :, np.maximum(cols, 0)], 0.0)
    groups = config.groups
    in_per, out_per = channels // groups, out_c // groups
    flipped = np.empty((channels, out_per, kh, kw))
    for c in range(channels):
        g = c // in_per
        flipped[c] = config.kernel[g * out_per : (g + 1) * out_per, c % in_per, ::-1, ::-1]
    full = ConvConfig(spread, flipped, stride=1, padding=0, dilation=config.dilation,
                      groups=groups)  # fmt: skip
    walk = conv_walkthrough(full, region=region)
    kinds = np.where(real, INPUT, PADDING).astype(np.int8)
    names = _grad_input_names(config, out_per, in_per)  # cell kind 0 (INPUT): a ∂L/∂Y value
    formula = (
        "∂L/∂X[c, i, j] = Σ_o Σ_p,q ∂L/∂Y↑[o, i + D·p, j + D·q] · W[o, c, K−1−p, K−1−q]",
        f"∂L/∂Y↑: ∂L/∂Y with stride−1 = {sh - 1}×{sw - 1} zeros between values, bordered by "
        f"D·(K−1) = {dh * (kh - 1)}×{dw * (kw - 1)} zeros (a full convolution)",
    )
    return replace(walk, config=full, cell_kind=kinds, pad_before=(shift_r, shift_c),
                   formula=formula, names=names)  # fmt: skip


def _grad_input_names(config: ConvConfig, out_per: int, in_per: int) -> Names:
    out_c, channels = config.kernel.shape[0], config.input.shape[0]
    kernels = {}
    for c in range(channels):
        g = c // in_per
        for o in range(g * out_per, (g + 1) * out_per):
            kernels[(c, o)] = f"W[{o}, {c % in_per}]\nflipped"
    pads = sum(config.padding[0]) + sum(config.padding[1])
    dropped = "; the gradient at padded positions is discarded" if pads else ""
    return Names(
        inputs={o: f"∂L/∂Y channel {o}" for o in range(out_c)},
        kernels=kernels,
        outputs={c: f"∂L/∂X channel {c}" for c in range(channels)},
        values={c: f"∂L/∂X[{c}" for c in range(channels)},
        description=_backward_description(config, "∂L/∂X = full conv(∂L/∂Y↑, flipped W)"),
        note="grey: zeros (between ∂L/∂Y values: stride; around: full-convolution border)"
        + dropped,
        backward=True,
        spread=config.stride,
    )


def grad_weight_walkthrough(config: ConvConfig, grad) -> Walkthrough:
    """∂L/∂W step by step: one step per weight W[o, c, p, q], o-major."""
    _check_conv(config)
    out_c, out_h, out_w = config.output_shape
    grad = _checked_grad(grad, config.output_shape)
    channels = config.input.shape[0]
    groups = config.groups
    in_per, out_per = channels // groups, out_c // groups
    padded = pad_input(config.input, config.padding)
    # Output channel m = c·out_per + (o mod out_per) reads input channel c (groups = C_in).
    kernel = np.empty((channels * out_per, 1, out_h, out_w))
    for c in range(channels):
        g = c // in_per
        kernel[c * out_per : (c + 1) * out_per, 0] = grad[g * out_per : (g + 1) * out_per]
    order, names = [], _grad_weight_names(config, in_per, out_per)
    for o in range(out_c):
        for local in range(in_per):
            order.append(((o // out_per) * in_per + local) * out_per + o % out_per)
    corr = ConvConfig(padded, kernel, stride=config.dilation, padding=0,
                      dilation=config.stride, groups=channels)  # fmt: skip
    kh, kw = config.kernel_size
    walk = conv_walkthrough(corr, order, (0, 0, kh, kw))
    pads = config.padding
    formula = (
        "∂L/∂W[o, c, p, q] = Σ_r,s X_pad[c, r·S + D·p, s·S + D·q] · ∂L/∂Y[o, r, s]",
        f"each weight: {out_h}×{out_w} products, X read every S = "
        f"{config.stride[0]}×{config.stride[1]} cells",
    )
    return replace(walk, config=corr, pad_before=(pads[0][0], pads[1][0]),
                   cell_kind=_cell_kinds(config.input.shape[1:], pads, padded.shape[1:]),
                   output_shape=(out_c * in_per, kh, kw), formula=formula,
                   names=names)  # fmt: skip


def _grad_weight_names(config: ConvConfig, in_per: int, out_per: int) -> Names:
    channels = config.input.shape[0]
    kernels, outputs, values = {}, {}, {}
    for c in range(channels):
        g = c // in_per
        for o in range(g * out_per, (g + 1) * out_per):
            m = c * out_per + o % out_per
            kernels[(m, c)] = f"∂L/∂Y\nchannel {o}"
            outputs[m] = f"∂L/∂W[{o}, {c % in_per}]"
            values[m] = f"∂L/∂W[{o}, {c % in_per}"
    return Names(
        inputs={c: f"X channel {c}" for c in range(channels)},
        kernels=kernels,
        outputs=outputs,
        values=values,
        description=_backward_description(config, "∂L/∂W = correlation(X, ∂L/∂Y)"),
        window="X cells read:",
        backward=True,
    )


def grad_input(config: ConvConfig, grad) -> np.ndarray:
    """∂L/∂X (C, H, W) from the steps."""
    return grad_input_walkthrough(config, grad).output()


def grad_weight(config: ConvConfig, grad) -> np.ndarray:
    """∂L/∂W with the kernel's shape (O, C/groups, kh, kw), from the steps."""
    return grad_weight_walkthrough(config, grad).output().reshape(config.kernel.shape)


def pool_backward_walkthrough(config: PoolConfig, grad) -> Walkthrough:
    """The forward's windows (and winners), each step's value now its ∂L/∂Y: the output
    side fills with ∂L/∂Y, and :func:`pool_grad_so_far` gives ∂L/∂X after any step."""
    grad = _checked_grad(grad, config.output_shape)
    walk = pool_walkthrough(config)
    steps = tuple(replace(step, value=float(grad[step.out])) for step in walk.steps)
    rule = {
        "max": "max pooling routes each ∂L/∂Y to its window's maximum",
        "avg": "average pooling splits each ∂L/∂Y over its window",
    }[config.mode]
    layer = describe_layer(config.mode, config.kernel_size, config.stride,
                           [(p, p) for p in config.padding], config.dilation)  # fmt: skip
    count = config.input.shape[0]
    names = Names(
        outputs={c: f"∂L/∂Y channel {c}" for c in range(count)},
        values={c: f"∂L/∂Y[{c}" for c in range(count)},
        description=f"backward: {rule} · {layer}",
        backward=True,
    )
    formula = (
        "∂L/∂X[c, i, j] = Σ over windows whose maximum is (i, j) of ∂L/∂Y (ties: the first "
        "maximum, as torch)"
        if config.mode == "max"
        else "∂L/∂X[c, i, j] = Σ over windows holding (i, j) of ∂L/∂Y ÷ the window's divisor"
        + (" (padding counted, its share discarded)" if config.count_include_pad else ""),
    )
    return replace(walk, steps=steps, formula=formula, names=names)


def pool_targets(walk: Walkthrough, step: Step):
    """(image cells (c, i, j) that receive a share of step's ∂L/∂Y, the share, how many
    shares fell on padding and are discarded)."""
    top, left = walk.pad_before
    channel = int(step.channels[0])
    if walk.kind == "max":
        if step.chosen is None:
            return (), 0.0, 0
        i, j = step.chosen
        return ((channel, int(step.rows[i]) - top, int(step.cols[j]) - left),), step.value, 0
    kinds = walk.cell_kind[np.ix_(step.rows, step.cols)]
    cells = tuple((channel, int(step.rows[i]) - top, int(step.cols[j]) - left)
                  for i, j in zip(*np.nonzero(kinds == INPUT), strict=True))  # fmt: skip
    on_padding = int((kinds == PADDING).sum()) if walk.config.count_include_pad else 0
    return cells, step.value / step.divisor, on_padding


def pool_grad_so_far(walk: Walkthrough, upto: int | None = None) -> np.ndarray:
    """∂L/∂X (C, H, W) after the first `upto` steps of a pool_backward_walkthrough."""
    total = np.zeros(walk.config.input.shape)
    for step in walk.steps[:upto]:
        cells, share, _ = pool_targets(walk, step)
        for cell in cells:
            total[cell] += share
    return total


def pool_grad_input(config: PoolConfig, grad) -> np.ndarray:
    """∂L/∂X (C, H, W) of a pooling layer, from the steps."""
    return pool_grad_so_far(pool_backward_walkthrough(config, grad))
