"""A Conv2d as the dense matrix it equals: parameter sharing, made visible.

A convolution is linear, so it is one big matrix M (out C'·H'·W' × in C·H·W)
with conv(x).flatten() = M @ x.flatten() + b. Each row is one output value; it
holds the filter's K·K·C/g weights at the columns of the input window it sees
and zeros elsewhere. Every row of a channel holds the *same* weights, shifted:
those repeated entries are parameter sharing, and they draw the sliding kernel
as diagonals. A dense layer with the same input and output learns every entry
of M on its own.

``weight_index`` gives, per entry, which kernel weight sits there (-1: a zero),
so the picture needs no weights at all; ``dense_matrix`` fills in the values.
Matrices above ``MAX_ENTRIES`` are refused in one line that still gives the
counts. tests/core/test_conv_as_dense.py checks M @ x against torch's conv2d.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from math import prod
from typing import TYPE_CHECKING

import numpy as np

from cnnviz.core.layers._common import ShapeError, as_pair
from cnnviz.core.layers._windows import conv_out_size, conv_padding
from cnnviz.core.param_sharing import SharingComparison

if TYPE_CHECKING:
    from cnnviz.core.architecture import Layer

MAX_ENTRIES = 4_000_000  # 16 MB of float32: drawn and hovered without a pause
CROP_POSITIONS = 6  # output positions per axis in the lab's crop


class DenseTooLarge(ValueError):
    """The matrix would be too large to build; the message gives the counts anyway."""


@dataclass(frozen=True)
class ConvGeometry:
    """What a Conv2d's dense matrix depends on (zero padding only)."""

    in_shape: tuple[int, int, int]
    out_channels: int
    kernel: tuple[int, int]
    stride: tuple[int, int] = (1, 1)
    padding: tuple[tuple[int, int], tuple[int, int]] = ((0, 0), (0, 0))  # (before, after)
    dilation: tuple[int, int] = (1, 1)
    groups: int = 1
    bias: bool = True

    @classmethod
    def of(cls, layer: Layer, input_shape) -> ConvGeometry:
        """The geometry of a Conv2d `layer` on `input_shape` (C, H, W)."""
        if layer.type != "Conv2d":
            raise ShapeError(f"{layer.type} is not a Conv2d: only a conv has a sharing matrix")
        mode = layer.get("padding_mode")
        if mode != "zeros":
            raise ShapeError(
                f"padding_mode {mode!r}: its padded cells copy inputs, so entries are sums "
                "of weights; the matrix is drawn for zero padding only"
            )
        geometry = cls(
            tuple(int(v) for v in input_shape),
            int(layer.get("out_channels")),
            as_pair(layer.get("kernel_size")),
            as_pair(layer.get("stride")),
            conv_padding(layer),
            as_pair(layer.get("dilation")),
            int(layer.get("groups")),
            bool(layer.get("bias")),
        )
        geometry.out_hw  # noqa: B018 - raises ShapeError for a kernel larger than its input
        return geometry

    @property
    def out_hw(self) -> tuple[int, int]:
        sizes = []
        for size, k, s, (before, after), d in zip(
            self.in_shape[1:], self.kernel, self.stride, self.padding, self.dilation, strict=True
        ):
            out = conv_out_size(size, k, s, before + after, d)
            if out < 1:
                raise ShapeError(f"kernel {self.kernel} does not fit its {self.in_shape} input")
            sizes.append(out)
        return sizes[0], sizes[1]

    @property
    def out_shape(self) -> tuple[int, int, int]:
        return (self.out_channels, *self.out_hw)

    @property
    def weight_shape(self) -> tuple[int, int, int, int]:
        """torch's Conv2d weight: (C', C/g, kh, kw)."""
        return (self.out_channels, self.in_shape[0] // self.groups, *self.kernel)

    @property
    def rows(self) -> int:
        return prod(self.out_shape)

    @property
    def cols(self) -> int:
        return prod(self.in_shape)

    @property
    def entries(self) -> int:
        return self.rows * self.cols

    def counts(self) -> SharingComparison:
        """The conv's parameters against a Linear(in, out) with the same bias setting."""
        biases = self.out_channels if self.bias else 0
        return SharingComparison(
            self.in_shape,
            self.out_shape,
            prod(self.weight_shape) + biases,
            self.rows * self.cols,
            self.rows if self.bias else 0,
        )


def in_words(count: int) -> str:
    """E.g. 10,312,705,460,224 → "10.3 trillion" (what a number that long means)."""
    for size, word in ((10**12, "trillion"), (10**9, "billion"), (10**6, "million")):
        if count >= size:
            return f"{count / size:,.1f} {word}"
    return f"{count:,}"


def bytes_in_words(count: int) -> str:
    """E.g. 41,248,878,755,840 → "41.2 TB" (a dense layer's weights as float32)."""
    for size, unit in ((10**12, "TB"), (10**9, "GB"), (10**6, "MB"), (10**3, "kB")):
        if count >= size:
            return f"{count / size:,.1f} {unit}"
    return f"{count} bytes"


def too_large_line(geometry: ConvGeometry) -> str:
    found = geometry.counts()
    return (
        f"the equivalent dense matrix would have {geometry.rows:,} × {geometry.cols:,} = "
        f"{geometry.entries:,} entries ({in_words(geometry.entries)}), over the "
        f"{MAX_ENTRIES:,} drawn; counts: conv {found.conv_params:,} params, dense "
        f"{found.dense_params:,} ({found.ratio:,.0f}×)"
    )


def weight_index(geometry: ConvGeometry) -> np.ndarray:
    """(rows, cols) int64: the flat index into the weight (C', C/g, kh, kw) that
    sits at each entry of the dense matrix, -1 where the entry is a zero."""
    if geometry.entries > MAX_ENTRIES:
        raise DenseTooLarge(too_large_line(geometry))
    c_in, height, width = geometry.in_shape
    per_group_in = c_in // geometry.groups
    per_group_out = geometry.out_channels // geometry.groups
    out_h, out_w = geometry.out_hw
    kh, kw = geometry.kernel
    # Every (output value, kernel tap) pair at once: o, y, x, c, i, j.
    o, y, x, c, i, j = np.meshgrid(
        *(np.arange(n) for n in (geometry.out_channels, out_h, out_w, per_group_in, kh, kw)),
        indexing="ij",
        sparse=True,
    )
    h = y * geometry.stride[0] - geometry.padding[0][0] + i * geometry.dilation[0]
    w = x * geometry.stride[1] - geometry.padding[1][0] + j * geometry.dilation[1]
    full = np.broadcast_shapes(*(a.shape for a in (o, y, x, c, i, j)))
    inside = np.broadcast_to((h >= 0) & (h < height) & (w >= 0) & (w < width), full)
    channel = (o // per_group_out) * per_group_in + c
    row = np.broadcast_to((o * out_h + y) * out_w + x, inside.shape)[inside]
    col = np.broadcast_to((channel * height + h) * width + w, inside.shape)[inside]
    flat = np.broadcast_to(((o * per_group_in + c) * kh + i) * kw + j, inside.shape)[inside]
    index = np.full((geometry.rows, geometry.cols), -1, dtype=np.int64)
    # Distinct taps of one window read distinct inputs (dilation ≥ 1): no entry is written twice.
    index[row, col] = flat
    return index


def dense_matrix(weight: np.ndarray, geometry: ConvGeometry) -> np.ndarray:
    """M with conv(x).flatten() = M @ x.flatten() + dense_bias(bias)."""
    weight = np.asarray(weight)
    if weight.shape != geometry.weight_shape:
        raise ShapeError(f"weight shape {weight.shape} is not {geometry.weight_shape}")
    index = weight_index(geometry)
    values = weight.reshape(-1)[np.maximum(index, 0)]
    return np.where(index >= 0, values, 0).astype(weight.dtype, copy=False)


def dense_bias(bias: np.ndarray | None, geometry: ConvGeometry) -> np.ndarray:
    """The dense layer's bias: each channel's bias repeated at its H'·W' outputs."""
    out_h, out_w = geometry.out_hw
    if bias is None:
        return np.zeros(geometry.rows, dtype=np.float32)
    return np.repeat(np.asarray(bias), out_h * out_w)


@dataclass(frozen=True)
class Entry:
    """What one entry of the matrix means: output, input and kernel weight, all (c, y, x)."""

    output: tuple[int, int, int]
    input: tuple[int, int, int]
    weight: tuple[int, int, int, int] | None  # (out, in within the group, i, j); None: a zero


def entry_at(geometry: ConvGeometry, index: np.ndarray, row: int, col: int) -> Entry:
    """The meaning of entry (row, col), `index` being weight_index(geometry)."""
    output = tuple(int(v) for v in np.unravel_index(row, geometry.out_shape))
    source = tuple(int(v) for v in np.unravel_index(col, geometry.in_shape))
    flat = int(index[row, col])
    if flat < 0:
        return Entry(output, source, None)
    return Entry(
        output, source, tuple(int(v) for v in np.unravel_index(flat, geometry.weight_shape))
    )


def crop(geometry: ConvGeometry, positions: int = CROP_POSITIONS) -> ConvGeometry:
    """One input channel to one output channel on an input just large enough for
    `positions` outputs per axis (never larger than the real input): the same
    kernel, stride, padding and dilation, a matrix small enough to read."""
    sides = []
    for size, k, s, d, (before, after) in zip(
        geometry.in_shape[1:],
        geometry.kernel,
        geometry.stride,
        geometry.dilation,
        geometry.padding,
        strict=True,
    ):
        span = d * (k - 1) + 1
        wanted = max(span + s * (positions - 1) - before - after, 1)
        sides.append(min(size, wanted))
    return replace(geometry, in_shape=(1, sides[0], sides[1]), out_channels=1, groups=1)


def crop_weight(weight: np.ndarray, out_channel: int = 0, in_channel: int = 0) -> np.ndarray:
    """The (1, 1, kh, kw) kernel of the crop: filter `out_channel` on its `in_channel`
    (counted within its group, as torch's weight stores it)."""
    return np.asarray(weight)[out_channel : out_channel + 1, in_channel : in_channel + 1]
