"""What a pooling layer looks at: its windows, the winning cells, the means.

The pooling panel outlines every window on the input channel, marks the cell
that max pooling keeps, and explains each output value. These are the
numbers behind that picture, computed the way torch does (tests compare):

* ``pool_geometry``: kernel/stride/padding/dilation/ceil_mode of a layer;
* ``window_boxes``: for every output cell, the input rows/cols its window
  covers (half-open, clipped to the input: padding is not input);
* ``max_pool_winners``: for every output cell, the input (row, col) of the
  maximum (first in scan order on ties, as torch's return_indices);
* ``window_means``: what average pooling outputs, with torch's divisor rules.

Adaptive average pooling has windows of varying size that may overlap;
``adaptive_windows`` (one axis) and ``adaptive_boxes`` give torch's
start = floor(i·in/out), end = ceil((i+1)·in/out). The formula text and the
receptive field use the same function.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cnnviz.core.architecture import Layer
from cnnviz.core.layers._windows import adaptive_windows  # its home: beside the adaptive rules
from cnnviz.core.shapes import as_pair, pool_out_size

POOLING_TYPES = ("MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d")


@dataclass(frozen=True)
class PoolGeometry:
    kernel: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int]
    dilation: tuple[int, int] = (1, 1)
    ceil_mode: bool = False
    count_include_pad: bool = True  # AvgPool2d only
    divisor_override: int | None = None  # AvgPool2d only (not offered by the catalogue)

    def output_size(self, in_hw: tuple[int, int]) -> tuple[int, int]:
        return tuple(
            pool_out_size(size, k, s, p, d, self.ceil_mode)
            for size, k, s, p, d in zip(
                in_hw, self.kernel, self.stride, self.padding, self.dilation, strict=True
            )
        )


def pool_geometry(layer: Layer) -> PoolGeometry:
    """The window arithmetic of a MaxPool2d or AvgPool2d layer (torch's defaults)."""
    if layer.type not in ("MaxPool2d", "AvgPool2d"):
        raise ValueError(f"{layer.type} has no fixed pooling window")
    kernel = as_pair(layer.get("kernel_size"))
    stride = layer.get("stride")
    is_max = layer.type == "MaxPool2d"
    return PoolGeometry(
        kernel=kernel,
        stride=as_pair(stride) if stride is not None else kernel,
        padding=as_pair(layer.get("padding")),
        dilation=as_pair(layer.get("dilation")) if is_max else (1, 1),
        ceil_mode=bool(layer.get("ceil_mode")),
        count_include_pad=True if is_max else bool(layer.get("count_include_pad")),
    )


def _taps(geom: PoolGeometry, axis: int, out_size: int) -> np.ndarray:
    """(out_size, k) input coordinates of each window's taps along one axis
    (may be negative or beyond the input: those are padding)."""
    starts = np.arange(out_size) * geom.stride[axis] - geom.padding[axis]
    offsets = np.arange(geom.kernel[axis]) * geom.dilation[axis]
    return starts[:, None] + offsets[None, :]


def window_boxes(geom: PoolGeometry, in_hw: tuple[int, int]) -> np.ndarray:
    """(out_h, out_w, 4) int boxes (top, left, bottom, right), half-open, clipped
    to the input. With dilation the box spans the taps and the holes between."""
    out_h, out_w = geom.output_size(in_hw)
    rows, cols = _taps(geom, 0, out_h), _taps(geom, 1, out_w)
    top = np.clip(rows[:, 0], 0, in_hw[0])
    bottom = np.clip(rows[:, -1] + 1, 0, in_hw[0])
    left = np.clip(cols[:, 0], 0, in_hw[1])
    right = np.clip(cols[:, -1] + 1, 0, in_hw[1])
    boxes = np.empty((out_h, out_w, 4), dtype=np.int64)
    boxes[..., 0] = top[:, None]
    boxes[..., 1] = left[None, :]
    boxes[..., 2] = bottom[:, None]
    boxes[..., 3] = right[None, :]
    return boxes


def _gather(channel: np.ndarray, geom: PoolGeometry, fill: float):
    """Values under every tap: (out_h, out_w, kh·kw), padding taps = `fill`;
    plus the taps' input rows and cols."""
    in_hw = channel.shape
    out_h, out_w = geom.output_size(in_hw)
    rows, cols = _taps(geom, 0, out_h), _taps(geom, 1, out_w)
    tap_rows = np.broadcast_to(rows[:, None, :, None], (out_h, out_w, *geom.kernel))
    tap_cols = np.broadcast_to(cols[None, :, None, :], (out_h, out_w, *geom.kernel))
    inside = (tap_rows >= 0) & (tap_rows < in_hw[0]) & (tap_cols >= 0) & (tap_cols < in_hw[1])
    values = np.full(tap_rows.shape, fill, dtype=np.float64)
    values[inside] = channel[tap_rows[inside], tap_cols[inside]]
    flat = (out_h, out_w, geom.kernel[0] * geom.kernel[1])
    return (
        values.reshape(flat),
        tap_rows.reshape(flat),
        tap_cols.reshape(flat),
        inside.reshape(flat),
    )


def max_pool_winners(channel: np.ndarray, geom: PoolGeometry) -> np.ndarray:
    """(out_h, out_w, 2) int: input (row, col) of each window's maximum.

    Ties go to the first tap in row-major order, as torch. NaN wins, as in torch.
    A dilated window whose taps all fall in the padding has no winner: (-1, -1)
    (torch outputs -inf there).
    """
    channel = np.asarray(channel)
    values, tap_rows, tap_cols, inside = _gather(channel, geom, -np.inf)
    # np.argmax returns the first maximum, and the first NaN like torch.
    best = np.argmax(values, axis=-1)[..., None]
    rows = np.take_along_axis(tap_rows, best, axis=-1)[..., 0]
    cols = np.take_along_axis(tap_cols, best, axis=-1)[..., 0]
    winners = np.stack([rows, cols], axis=-1)
    winners[~inside.any(axis=-1)] = -1
    return winners


def flat_windows(channel: np.ndarray, geom: PoolGeometry) -> np.ndarray:
    """(out_h, out_w) bool: windows whose real cells are all equal (e.g. all
    zero after a ReLU). Max pooling then keeps the first cell only by
    convention, not because it was larger."""
    values, _, _, inside = _gather(np.asarray(channel), geom, np.nan)
    highest = np.nanmax(np.where(inside, values, -np.inf), axis=-1)
    lowest = np.nanmin(np.where(inside, values, np.inf), axis=-1)
    return highest == lowest


def window_means(channel: np.ndarray, geom: PoolGeometry) -> np.ndarray:
    """(out_h, out_w) what AvgPool2d outputs: the window's sum over its divisor.

    torch divides by divisor_override if set; else by the window size clipped
    to the padded input when count_include_pad, or by the number of real cells
    when not.
    """
    channel = np.asarray(channel)
    values, tap_rows, tap_cols, inside = _gather(channel, geom, 0.0)
    sums = values.sum(axis=-1)
    if geom.divisor_override:
        return (sums / geom.divisor_override).astype(np.float32)
    if geom.count_include_pad:
        # Taps within the padded input count (torch clips to size + padding);
        # ceil_mode windows that run past the padding do not.
        h, w = channel.shape
        ph, pw = geom.padding
        in_padded = (
            (tap_rows >= -ph) & (tap_rows < h + ph) & (tap_cols >= -pw) & (tap_cols < w + pw)
        )
        counts = in_padded.sum(axis=-1)
    else:
        counts = inside.sum(axis=-1)
    return (sums / counts).astype(np.float32)


def adaptive_boxes(in_hw: tuple[int, int], out_hw: tuple[int, int]) -> np.ndarray:
    """(out_h, out_w, 4) boxes (top, left, bottom, right) of AdaptiveAvgPool2d."""
    (top, bottom), (left, right) = (
        adaptive_windows(size, out) for size, out in zip(in_hw, out_hw, strict=True)
    )
    boxes = np.empty((out_hw[0], out_hw[1], 4), dtype=np.int64)
    boxes[..., 0] = top[:, None]
    boxes[..., 1] = left[None, :]
    boxes[..., 2] = bottom[:, None]
    boxes[..., 3] = right[None, :]
    return boxes


def box_means(channel: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Mean of `channel` inside each box (via a summed-area table)."""
    table = np.zeros((channel.shape[0] + 1, channel.shape[1] + 1), dtype=np.float64)
    table[1:, 1:] = np.cumsum(np.cumsum(channel, axis=0), axis=1)
    top, left, bottom, right = (boxes[..., i] for i in range(4))
    sums = table[bottom, right] - table[top, right] - table[bottom, left] + table[top, left]
    area = (bottom - top) * (right - left)
    return (sums / np.maximum(area, 1)).astype(np.float32)


def box_outline_segments(boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """x and y arrays of line segments (pairs of points) outlining every box,
    in image coordinates (x = col, y = row), for one pyqtgraph curve with
    connect='pairs'."""
    top, left, bottom, right = (boxes.reshape(-1, 4)[:, i].astype(np.float64) for i in range(4))
    xs = np.stack([left, right, right, right, right, left, left, left], axis=1)
    ys = np.stack([top, top, top, bottom, bottom, bottom, bottom, top], axis=1)
    return xs.reshape(-1), ys.reshape(-1)
