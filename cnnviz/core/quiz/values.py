"""Value questions on the real input: one output cell of a convolution or a pooling.

The answer is the value the forward produced (torch's, in ``ForwardResult``);
the reveal re-does that cell's sum here in numpy with the layer's real weights
and input, so a person sees where the number comes from (tests check the two
agree).
"""

from __future__ import annotations

import numpy as np

from cnnviz.core.analysis import LayerInfo
from cnnviz.core.layers._common import as_pair
from cnnviz.core.layers._windows import conv_padding
from cnnviz.core.pooling_view import pool_geometry
from cnnviz.core.quiz.paper import title, x
from cnnviz.core.quiz.question import FLOAT, Question

MAX_TERMS = 9  # products written out in full; the rest summed per channel
MAX_CHANNELS = 6


def _activation(result, index: int):
    for layer in result.layers:
        if layer.index == index:
            return layer
    return None


def _cell(rng, shape) -> tuple[int, int, int]:
    return tuple(int(rng.integers(n)) for n in shape)


def _taps(out: int, stride: int, pad: int, dilation: int, kernel: int) -> list[int]:
    return [out * stride - pad + i * dilation for i in range(kernel)]


def conv_cell(x_in: np.ndarray, weight, bias, layer, cell) -> tuple[float, list[str]]:
    """The cell's value computed in float64, and the lines that work it out."""
    o, r, c = cell
    out_c, per_group = weight.shape[0], weight.shape[1]
    group = o // (out_c // layer.get("groups"))
    (pt, _), (pl, _) = conv_padding(layer)
    (sh, sw), (dh, dw) = as_pair(layer.get("stride")), as_pair(layer.get("dilation"))
    rows = _taps(r, sh, pt, dh, weight.shape[2])
    cols = _taps(c, sw, pl, dw, weight.shape[3])
    h, w = x_in.shape[1:]
    total, lines = 0.0, []
    for k in range(per_group):
        ch = group * per_group + k
        terms = []
        for i, row in enumerate(rows):
            for j, col in enumerate(cols):
                inside = 0 <= row < h and 0 <= col < w
                value = float(x_in[ch, row, col]) if inside else 0.0
                terms.append((float(weight[o, k, i, j]), value))
        part = sum(a * b for a, b in terms)
        total += part
        if k < MAX_CHANNELS:
            lines.append(_channel_line(ch, terms, part, len(rows), len(cols)))
    if per_group > MAX_CHANNELS:
        lines.append(f"… {per_group - MAX_CHANNELS} more input channels")
    b = float(bias[o]) if bias is not None else 0.0
    lines.append(
        f"sum over {per_group} channel(s) = {total:.4f}"
        + (f"; + bias {b:.4f}" if bias is not None else "; no bias")
        + f" = {total + b:.4f}"
    )
    return total + b, lines


def _num(value: float) -> str:
    """A factor of a product: a negative one in brackets, so "·" never meets "-"."""
    return f"({value:.3f})" if value < 0 else f"{value:.3f}"


def _channel_line(ch: int, terms, part: float, kh: int, kw: int) -> str:
    shown = " + ".join(f"{_num(a)}·{_num(b)}" for a, b in terms[:MAX_TERMS])
    more = f" + … ({len(terms)} products)" if len(terms) > MAX_TERMS else ""
    return f"input channel {ch}, {kh}×{kw} window: {shown}{more} = {part:.4f}"


def conv_value(info: LayerInfo, result, rng) -> Question | None:
    if info.layer.type != "Conv2d" or info.layer.get("padding_mode") != "zeros":
        return None
    act, filters = _activation(result, info.index), result.filters.get(info.index)
    if act is None or act.input is None or filters is None:
        return None
    cell = _cell(rng, act.output.shape)
    weight, bias = filters
    _, lines = conv_cell(np.asarray(act.input, np.float64), weight, bias, info.layer, cell)
    answer = float(act.output[cell])
    o, r, c = cell
    (sh, sw), (pt, pl) = as_pair(info.layer.get("stride")), (p[0] for p in conv_padding(info.layer))
    dh, dw = as_pair(info.layer.get("dilation"))
    head = (
        f"y[{o}, {r}, {c}] = bias[{o}] + Σ w[{o}, ch, i, j] · x[ch, {r}·{sh} − {pt} + i·{dh}, "
        f"{c}·{sw} − {pl} + j·{dw}] (stride·cell − padding + tap·dilation; zero outside the input)"
    )
    return Question(
        "conv_value",
        info.index,
        info.address,
        f"{title(info)}: on the current input, what is the value of output channel {o}, "
        f"row {r}, column {c} (counting from 0)? Its output is {x(info.output_shape)}.",
        answer,
        FLOAT,
        "\n".join([head, *lines, f"torch's forward gives {answer:.4f}"]),
        cell=cell,
    )


def pool_cell(channel: np.ndarray, layer, r: int, c: int) -> tuple[float, list[str]]:
    """One output of a MaxPool2d/AvgPool2d computed here, and how."""
    geom = pool_geometry(layer)
    rows = _taps(r, geom.stride[0], geom.padding[0], geom.dilation[0], geom.kernel[0])
    cols = _taps(c, geom.stride[1], geom.padding[1], geom.dilation[1], geom.kernel[1])
    h, w = channel.shape
    real = [float(channel[i, j]) for i in rows for j in cols if 0 <= i < h and 0 <= j < w]
    where = f"rows {rows[0]}…{rows[-1]}, columns {cols[0]}…{cols[-1]}"
    shown = ", ".join(f"{v:.3f}" for v in real[:16]) + (" …" if len(real) > 16 else "")
    if layer.type == "MaxPool2d":
        value = max(real) if real else float("-inf")
        return value, [f"window {where}: {shown}", f"max = {value:.4f}"]
    divisor = _avg_divisor(geom, rows, cols, h, w, len(real))
    value = sum(real) / divisor
    return value, [
        f"window {where}: {shown}",
        f"mean = {sum(real):.4f} / {divisor} = {value:.4f}",
    ]


def _avg_divisor(geom, rows, cols, h: int, w: int, real: int) -> int:
    """torch's AvgPool2d divisor (as pooling_view.window_means)."""
    if geom.divisor_override:
        return geom.divisor_override
    if not geom.count_include_pad:
        return real
    ph, pw = geom.padding
    in_rows = sum(-ph <= i < h + ph for i in rows)
    in_cols = sum(-pw <= j < w + pw for j in cols)
    return in_rows * in_cols


def pool_value(info: LayerInfo, result, rng) -> Question | None:
    if info.layer.type not in ("MaxPool2d", "AvgPool2d"):
        return None
    act = _activation(result, info.index)
    if act is None or act.input is None or act.input.ndim != 3:
        return None
    cell = _cell(rng, act.output.shape)
    o, r, c = cell
    _, lines = pool_cell(np.asarray(act.input[o], np.float64), info.layer, r, c)
    answer = float(act.output[cell])
    return Question(
        "pool_value",
        info.index,
        info.address,
        f"{title(info)}: on the current input, what is the value of output channel {o}, "
        f"row {r}, column {c} (counting from 0)? It pools channel {o} of its "
        f"{x(info.input_shape)} input.",
        answer,
        FLOAT,
        "\n".join([*lines, f"torch's forward gives {answer:.4f}"]),
        cell=cell,
    )
