"""The output-size and parameter-count formulas, with one layer's numbers filled in.

The properties panel shows these live so a learner sees *why* a layer's output
has its size: ``H_out = ⌊(32 + 2·1 − 1·(3−1) − 1) / 2⌋ + 1 = 16``. The result on
the right is always the core's own arithmetic (`cnnviz.core.shapes`), so the
line can never disagree with the stack.
"""

from __future__ import annotations

import math

from cnnviz.core.architecture import Layer
from cnnviz.core.pooling_view import adaptive_windows
from cnnviz.core.shapes import Shape, as_pair, conv_out_size, conv_padding, pool_out_size

_AXES = (("H", "height"), ("W", "width"))


def _pad_term(before: int, after: int) -> str:
    if before == after:
        return f"2·{before}"
    return f"({before}+{after})"


def _too_small(out: int) -> str:
    return " (less than 1: the window does not fit)" if out < 1 else ""


def _conv_lines(layer: Layer, shape: Shape) -> list[str]:
    kernel, stride = as_pair(layer.get("kernel_size")), as_pair(layer.get("stride"))
    dilation, pads = as_pair(layer.get("dilation")), conv_padding(layer)
    lines = []
    for axis, (name, _) in enumerate(_AXES):
        size, k, s, d = shape[1 + axis], kernel[axis], stride[axis], dilation[axis]
        before, after = pads[axis]
        out = conv_out_size(size, k, s, before + after, d)
        lines.append(
            f"{name}_out = ⌊({size} + {_pad_term(before, after)} − {d}·({k}−1) − 1) / {s}⌋"
            f" + 1 = {out}{_too_small(out)}"
        )
    return lines


def _pool_lines(layer: Layer, shape: Shape) -> list[str]:
    kernel = as_pair(layer.get("kernel_size"))
    stride_value = layer.get("stride")
    stride = as_pair(stride_value if stride_value is not None else kernel)
    padding = as_pair(layer.get("padding"))
    dilation = as_pair(layer.get("dilation") if layer.type == "MaxPool2d" else 1)
    ceil = layer.get("ceil_mode")
    left, right = ("⌈", "⌉") if ceil else ("⌊", "⌋")
    lines = []
    for axis, (name, _) in enumerate(_AXES):
        size, k, s = shape[1 + axis], kernel[axis], stride[axis]
        p, d = padding[axis], dilation[axis]
        out = pool_out_size(size, k, s, p, d, ceil)
        numerator = size + 2 * p - d * (k - 1) - 1
        plain = (math.ceil(numerator / s) if ceil else numerator // s) + 1
        line = f"{name}_out = {left}({size} + 2·{p} − {d}·({k}−1) − 1) / {s}{right} + 1 = {out}"
        if plain != out:
            # torch drops a last window that would start in the right padding.
            line = line[: -len(str(out))] + f"{plain} − 1 = {out} (last window dropped)"
        lines.append(line + _too_small(out))
    if stride_value is None:
        lines.append(f"stride empty: equal to the kernel, {kernel[0]}×{kernel[1]}")
    return lines


def adaptive_window_text(size: int, out: int) -> str:
    """How torch's adaptive windows fall along one axis, e.g. "windows of 2–3
    cells, overlapping" for 5 → 3 (they are [0, 2), [1, 4), [3, 5))."""
    starts, ends = adaptive_windows(size, out)
    widths = ends - starts
    low, high = int(widths.min()), int(widths.max())
    cells = f"{low} cell" if high == 1 else f"{low} cells" if low == high else f"{low}–{high} cells"
    if out == 1:
        return f"one window of {cells}"
    overlap = bool((ends[:-1] > starts[1:]).any())
    return f"windows of {cells}, " + ("overlapping" if overlap else "side by side")


def _adaptive_lines(layer: Layer, shape: Shape) -> list[str]:
    out = as_pair(layer.get("output_size"))
    return [
        f"{name}_out = {o} (fixed); {adaptive_window_text(shape[1 + axis], o)}"
        for axis, ((name, _), o) in enumerate(zip(_AXES, out, strict=True))
    ]


def output_size_lines(layer: Layer, input_shape: Shape | None) -> list[str]:
    """The output-size formula per axis with the layer's numbers, or a short
    description for layers that do not slide a window. Empty when unknown."""
    if input_shape is None:
        return []
    shape = tuple(input_shape)
    spatial = len(shape) == 3
    if layer.type == "Conv2d" and spatial:
        return _conv_lines(layer, shape)
    if layer.type in ("MaxPool2d", "AvgPool2d") and spatial:
        return _pool_lines(layer, shape)
    if layer.type == "AdaptiveAvgPool2d" and spatial:
        return _adaptive_lines(layer, shape)
    if layer.type == "Flatten":
        factors = "·".join(str(s) for s in shape)
        return [f"N = {factors} = {math.prod(shape)}"]
    if layer.type == "Linear":
        return [f"out = out_features = {layer.get('out_features')} (from {shape[-1]} inputs)"]
    return ["output shape = input shape: " + "×".join(str(s) for s in shape)]


def parameter_line(layer: Layer, input_shape: Shape | None) -> str:
    """How the layer's parameter count comes about, with its numbers."""
    if input_shape is None:
        return ""
    shape = tuple(input_shape)
    if layer.type == "Conv2d" and len(shape) == 3:
        out_c, groups = layer.get("out_channels"), layer.get("groups")
        kh, kw = as_pair(layer.get("kernel_size"))
        per_filter = (shape[0] // groups) * kh * kw
        in_term = f"{shape[0]}/{groups}" if groups > 1 else f"{shape[0]}"
        bias = out_c if layer.get("bias") else 0
        total = out_c * per_filter + bias
        bias_term = f" + {out_c}" if bias else ""
        return f"params = {out_c}·({in_term}·{kh}·{kw}){bias_term} = {total:,}"
    if layer.type == "Linear":
        n_in, n_out = shape[-1], layer.get("out_features")
        bias = n_out if layer.get("bias") else 0
        bias_term = f" + {n_out}" if bias else ""
        return f"params = {n_in}·{n_out}{bias_term} = {n_in * n_out + bias:,}"
    if layer.type == "BatchNorm2d" and len(shape) == 3:
        if not layer.get("affine"):
            return "params = 0 (affine off); running mean and variance are buffers"
        return f"params = 2·{shape[0]} = {2 * shape[0]:,} (γ and β per channel)"
    return "params = 0 (no weights)"
