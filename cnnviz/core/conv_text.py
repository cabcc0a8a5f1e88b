"""Words and numbers around a convolution walkthrough: formulas, values, matrix files.

The output-size formula is written out with the layer's own numbers, e.g.
``H_out = ⌊(5 + 2·1 − 2·(3−1) − 1) / 2⌋ + 1 = ⌊3 / 2⌋ + 1 = 2``; its result
is the core's own arithmetic (`cnnviz.core.shapes`), so it cannot disagree
with the output that is drawn. Matrix files are plain text: rows of numbers
separated by spaces or commas; a blank line starts the next channel.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cnnviz.core import safe_files
from cnnviz.core.shapes import conv_out_size, pool_out_size

MAX_FILE_BYTES = 1_000_000
MAX_SIDE = 256  # rows or columns in one matrix
MAX_CHANNELS = 64

CONV_GENERAL = "out = ⌊(in + 2·P − D·(K−1) − 1) / S⌋ + 1"
POOL_GENERAL = "out = ⌊(in + 2·P − D·(K−1) − 1) / S⌋ + 1"
POOL_GENERAL_CEIL = "out = ⌈(in + 2·P − D·(K−1) − 1) / S⌉ + 1"

_ASCII = str.maketrans(
    {"⌊": "floor(", "⌋": ")", "⌈": "ceil(", "⌉": ")", "−": "-", "·": "*", "×": "x",
     "Σ": "sum ", "→": "->", "∞": "inf", "…": "...",
     "∂": "d", "↑": "^"}
)  # fmt: skip


@dataclass(frozen=True, eq=False)
class Names:
    """What a walkthrough's grids are called on screen. The backward pass is stepped
    as convolutions too (conv_backward.py), whose "input" is ∂L/∂Y or X and whose
    "output" is ∂L/∂X or ∂L/∂W: they pass their own names; None keeps the forward's."""

    inputs: dict[int, str] | None = None  # by input channel
    kernels: dict[tuple[int, int], str] | None = None  # by (output channel, input channel)
    outputs: dict[int, str] | None = None  # by output channel
    values: dict[int, str] | None = None  # by output channel: the value's name before ", r, c]"
    description: str = ""  # replaces the layer's one-line description
    note: str = ""  # replaces the padding note
    window: str = "window reads"
    backward: bool = False  # no bias or activation: the sum is the value
    spread: tuple[int, int] | None = None  # ∂L/∂X: the stride ∂L/∂Y was spread out by

    def input(self, c: int) -> str:
        return self.inputs[c] if self.inputs else f"input channel {c}"

    def kernel(self, o: int, c: int) -> str:
        return self.kernels[(o, c)] if self.kernels else f"kernel {o}\nchannel {c}"

    def output(self, o: int) -> str:
        return self.outputs[o] if self.outputs else f"output channel {o}"

    def value(self, o: int, r: int, c: int) -> str:
        return f"{self.values[o] if self.values else f'output[{o}'}, {r}, {c}]"


FORWARD = Names()


def ascii_text(text: str) -> str:
    """The same line with only ASCII characters, for fonts that lack ⌊ − · Σ."""
    return text.translate(_ASCII)


def format_value(value: float, decimals: int = 2) -> str:
    """Whole numbers as whole numbers (4, not 4.00); others with a few decimals."""
    if math.isinf(value):
        return "−∞" if value < 0 else "∞"
    if math.isnan(value):
        return "nan"
    if abs(value - round(value)) < 1e-9 and abs(value) < 1e6:
        text = str(round(value))
    elif abs(value) >= 1e5:
        text = f"{value:.2g}"
    elif abs(value) >= 100:
        text = f"{value:.0f}"
    elif abs(value) >= 10:
        text = f"{value:.1f}"
    else:  # tiny values stay visible as 0.00 / −0.00, never as a plain 0
        text = f"{value:.{decimals}f}"
    return text.replace("-", "−")


def _pad_term(before: int, after: int) -> str:
    return f"2·{before}" if before == after else f"({before}+{after})"


def _axis_line(name, size, k, s, before, after, d, out, ceil=False) -> str:
    numerator = size + before + after - d * (k - 1) - 1
    left, right = ("⌈", "⌉") if ceil else ("⌊", "⌋")
    plain = (math.ceil(numerator / s) if ceil else numerator // s) + 1
    line = (
        f"{name} = {left}({size} + {_pad_term(before, after)} − {d}·({k}−1) − 1) / {s}{right} + 1"
        f" = {left}{numerator} / {s}{right} + 1"
    )
    if plain != out:  # torch drops a last window that would start in the right padding
        return f"{line} − 1 = {out} (last window would start in the padding)"
    return f"{line} = {out}"


def _merge(lines: list[str]) -> tuple[str, ...]:
    """One line for both axes when their numbers are the same."""
    height, width = lines
    if height.removeprefix("H_out") == width.removeprefix("W_out"):
        return ("H_out = W_out" + height.removeprefix("H_out"),)
    return height, width


def conv_formula(input_hw, kernel, stride, pads, dilation) -> tuple[str, ...]:
    """The general formula, then one line per axis with the numbers filled in."""
    lines = []
    for name, size, k, s, (before, after), d in zip(
        ("H_out", "W_out"), input_hw, kernel, stride, pads, dilation, strict=True
    ):
        out = conv_out_size(size, k, s, before + after, d)
        lines.append(_axis_line(name, size, k, s, before, after, d, out))
    return (CONV_GENERAL, *_merge(lines))


def pool_formula(input_hw, kernel, stride, padding, dilation, ceil_mode) -> tuple[str, ...]:
    lines = []
    for name, size, k, s, p, d in zip(
        ("H_out", "W_out"), input_hw, kernel, stride, padding, dilation, strict=True
    ):
        out = pool_out_size(size, k, s, p, d, ceil_mode)
        lines.append(_axis_line(name, size, k, s, p, p, d, out, ceil_mode))
    return (POOL_GENERAL_CEIL if ceil_mode else POOL_GENERAL, *_merge(lines))


def _size(pair) -> str:
    return str(pair[0]) if pair[0] == pair[1] else f"{pair[0]}×{pair[1]}"


def describe_layer(kind: str, kernel, stride, pads, dilation, padding_mode="zeros") -> str:
    """One line naming the layer, e.g. "convolution 3×3 · stride 2 · padding 1 · dilation 2"."""
    name = {"conv": "convolution", "max": "max pooling", "avg": "average pooling"}[kind]
    pad_sizes = [a if a == b else f"{a}+{b}" for a, b in pads]
    parts = [f"{name} {kernel[0]}×{kernel[1]}", f"stride {_size(stride)}"]
    parts.append(f"padding {_size(pad_sizes)}")
    if any(p for pair in pads for p in pair) and kind == "conv" and padding_mode != "zeros":
        parts[-1] += f" ({padding_mode})"
    if tuple(dilation) != (1, 1):
        parts.append(f"dilation {_size(dilation)}")
    return " · ".join(parts)


def padding_note(kind: str, padding_mode: str = "zeros") -> str:
    """What the grey cells around the input are."""
    if kind == "max":
        return "grey: padding (−∞, never the maximum)"
    if kind == "avg":
        return "grey: zero padding (counted in the average)"
    if padding_mode == "zeros":
        return "grey: zero padding"
    return f"grey: {padding_mode} padding (copies of input values)"


def _joined(terms) -> str:
    return " + ".join(format_value(t) for t in terms).replace("+ −", "− ")


def sum_terms(products: np.ndarray, fits=lambda text: True) -> str:
    """Products (kh, kw) written out as a sum: one line, else a line per kernel row."""
    line = _joined(np.ravel(products))
    if fits(line):
        return line
    rows = [_joined(row) for row in products]
    rows = [rows[0]] + [r.replace("−", "− ", 1) if r.startswith("−") else "+ " + r
                        for r in rows[1:]]  # fmt: skip
    if len(rows) <= 5 and all(fits(r) for r in rows):
        return "\n".join(rows)
    return f"the {np.size(products)} products added up"


def _positions(indices, offset: int) -> str:
    values = [int(i) - offset for i in indices]
    if len(values) <= 5:
        return ", ".join(format_value(v) for v in values)
    gap = values[1] - values[0]
    every = f" every {gap}" if gap > 1 else ""
    return f"{format_value(values[0])} to {format_value(values[-1])}{every}"


def window_text(walk, step) -> str:
    """Which image rows and columns the window reads (outside the image: padding)."""
    top, left = walk.pad_before
    if walk.names.spread is not None:
        return _meeting_text(walk, step)
    rows, cols = _positions(step.rows, top), _positions(step.cols, left)
    return f"{walk.names.window} rows {rows} × columns {cols}"


def _meeting_text(walk, step) -> str:
    """∂L/∂X: the ∂L/∂Y cells (not the inserted zeros) that meet the flipped kernel here."""
    top, left = walk.pad_before
    (sh, sw), real = walk.names.spread, walk.cell_kind[np.ix_(step.rows, step.cols)] == 0
    cells = [f"({(step.rows[i] - top) // sh}, {(step.cols[j] - left) // sw})"
             for i, j in zip(*np.nonzero(real), strict=True)]  # fmt: skip
    if not cells:
        return "no ∂L/∂Y value reaches this input: only zeros under the kernel"
    shown = ", ".join(cells[:6]) + (f" and {len(cells) - 6} more" if len(cells) > 6 else "")
    return f"meets ∂L/∂Y[·, r, c] at (r, c) = {shown}"


def _pool_backward_lines(walk, step) -> list[str]:
    """Where a pooling window's ∂L/∂Y goes (conv_backward.pool_targets)."""
    from cnnviz.core.conv_backward import pool_targets  # conv_backward imports this module

    cells, share, dropped = pool_targets(walk, step)
    head = f"{walk.names.value(*step.out)} = {format_value(step.value)}"
    if walk.kind == "max":
        if not cells:
            return [head, "→ nowhere (only padding)"]
        return [head, f"→ ∂L/∂X[{', '.join(map(str, cells[0]))}]", "(the window's maximum)"]
    to = f"to each of {len(cells)} cells" if len(cells) != 1 else "to its one input cell"
    lines = [head, f"÷ {step.divisor} = {format_value(share)}", to]
    return lines + ([f"({dropped} on padding: discarded)"] if dropped else [])


def result_lines(walk, step) -> list[str]:
    """How the output value comes about after the sums of products."""
    if walk.names.backward and walk.kind != "conv":
        return _pool_backward_lines(walk, step)
    if walk.kind == "max":
        return [f"max = {format_value(step.value)}" + ("" if step.chosen else " (all padding)")]
    if walk.kind == "avg":
        return [f"Σ = {format_value(step.total)}",
                f"÷ {step.divisor} = {format_value(step.value)}"]  # fmt: skip
    lines = []
    if len(step.partial_sums) > 1:
        lines.append(f"Σ channels = {format_value(step.total)}")
    if walk.names.backward:
        return [*lines, f"{walk.names.value(*step.out)} = {format_value(step.value)}"]
    lines.append(f"+ bias {format_value(step.bias)} = {format_value(step.pre_activation)}")
    if walk.config.activation == "relu":
        lines.append(f"ReLU → {format_value(step.value)}")
    return lines


class MatrixFileError(ValueError):
    """A matrix file that cannot be read; the message is one line naming the problem."""


_SEPARATORS = re.compile(r"[,\s;]+")


def _parse_row(line: str, where: str) -> list[float]:
    row = []
    for token in _SEPARATORS.split(line.strip()):
        try:
            value = float(token)
        except ValueError:
            raise MatrixFileError(f"{where}: {token!r} is not a number") from None
        if not math.isfinite(value):
            raise MatrixFileError(f"{where}: {token!r} is not a finite number")
        row.append(value)
    return row


def _blocks(text: str, source: str) -> list[list[list[float]]]:
    blocks: list[list[list[float]]] = [[]]
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            if blocks[-1]:
                blocks.append([])
            continue
        row = _parse_row(line, f"{source}: line {number}")
        width = len(blocks[-1][0]) if blocks[-1] else len(row)
        if len(row) != width:
            raise MatrixFileError(
                f"{source}: line {number} has {len(row)} numbers but the rows above have {width}"
            )
        if len(row) > MAX_SIDE or len(blocks[-1]) >= MAX_SIDE:
            raise MatrixFileError(
                f"{source}: a matrix may have at most {MAX_SIDE} rows and columns"
            )
        blocks[-1].append(row)
    return [block for block in blocks if block]


def parse_matrices(text: str, source: str = "matrix") -> np.ndarray:
    """Rows of numbers, channels separated by blank lines → (C, H, W) float64."""
    blocks = _blocks(text, source)
    if not blocks:
        raise MatrixFileError(f"{source}: no numbers found (expected rows of numbers)")
    if len(blocks) > MAX_CHANNELS:
        raise MatrixFileError(f"{source}: at most {MAX_CHANNELS} channels, found {len(blocks)}")
    shapes = {(len(block), len(block[0])) for block in blocks}
    if len(shapes) > 1:
        sizes = ", ".join(f"{h}x{w}" for h, w in sorted(shapes))
        raise MatrixFileError(f"{source}: all channels must have the same size, found {sizes}")
    return np.array(blocks, dtype=np.float64)


def read_matrices(path) -> np.ndarray:
    """A matrix file as (C, H, W); MatrixFileError with one line if it cannot be used.

    Read within MAX_FILE_BYTES, and only a regular file: a FIFO or a device
    (``--input /dev/zero``) is refused before it is opened.
    """
    path = Path(path)
    if not path.exists() and not path.is_symlink():
        raise MatrixFileError(f"{path}: no such file")
    try:
        text = safe_files.read_text(path, MAX_FILE_BYTES, "a matrix file")
    except safe_files.UnreadableFile as exc:
        raise MatrixFileError(str(exc)) from None
    return parse_matrices(text, str(path))


def read_matrix(path) -> np.ndarray:
    """A one-channel matrix file as (H, W)."""
    matrices = read_matrices(path)
    if matrices.shape[0] != 1:
        raise MatrixFileError(
            f"{path}: expected one matrix but found {matrices.shape[0]} separated by blank lines"
        )
    return matrices[0]


def format_matrices(array: np.ndarray) -> str:
    """The inverse of parse_matrices: rows of numbers, a blank line between channels."""
    array = np.asarray(array, dtype=np.float64)
    if array.ndim == 2:
        array = array[np.newaxis]
    blocks = []
    for channel in array:
        rows = [" ".join(f"{v:.6g}" for v in row) for row in channel]
        blocks.append("\n".join(rows))
    return "\n\n".join(blocks)
