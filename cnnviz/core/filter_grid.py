"""A conv layer's kernels laid out to fill a panel: filters wrapped into columns.

A Conv2d weight (O, I, kh, kw) is O filters of I kernels each. Each filter is
drawn as a block: its I kernels side by side, then (optionally) extra slots
after a wider gap, such as the RGB composite of a colour layer's filter.
Blocks fill rows of ``block_cols``. One block per row is the classic table
(a row per filter, a column per input channel); several per row let a layer
with few input channels use a wide panel: VGG-16's first conv (64 filters ×
3 channels) would otherwise be a column 64 kernels tall and 3 wide.

``plan_filter_grid`` picks the number of blocks per row that shows the
kernels largest in a given area; ``FilterGrid.assemble`` writes the kernels
into one float32 image (one picture, as DESIGN.md's "Fast pictures" asks)
and ``locate`` goes back from a pixel to (filter, slot, row, col).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import as_strided


@dataclass(frozen=True)
class KernelPosition:
    filter: int
    slot: int  # 0..inputs-1: an input channel; inputs and up: an extra slot
    row: int
    col: int


@dataclass(frozen=True)
class FilterGrid:
    filters: int
    inputs: int
    kernel_height: int
    kernel_width: int
    block_cols: int = 1
    extra: int = 0  # slots after the input channels (the RGB composite)
    gap: int = 1

    @property
    def slots(self) -> int:
        return self.inputs + self.extra

    @property
    def pitch(self) -> tuple[int, int]:
        """Distance between neighbouring kernels of a block (and between block rows)."""
        return (self.kernel_height + self.gap, self.kernel_width + self.gap)

    @property
    def block_gap(self) -> int:
        """Between filters side by side: wider than between a filter's own kernels,
        so each filter reads as one strip (a uniform grid when blocks are single kernels)."""
        return self.gap if self.slots == 1 else 4 * self.gap

    @property
    def rows(self) -> int:
        return -(-self.filters // self.block_cols)

    def slot_x(self, slot: int) -> int:
        """x of a slot inside its block; extra slots sit after a gap twice as wide."""
        if slot < self.inputs:
            return slot * self.pitch[1]
        return self.inputs * self.pitch[1] + self.gap + (slot - self.inputs) * self.pitch[1]

    @property
    def block_width(self) -> int:
        return self.slot_x(self.slots - 1) + self.kernel_width

    @property
    def block_pitch(self) -> int:
        return self.block_width + self.block_gap

    @property
    def shape(self) -> tuple[int, int]:
        """(height, width) of the whole picture, without trailing gaps."""
        return (
            self.rows * self.pitch[0] - self.gap,
            self.block_cols * self.block_pitch - self.block_gap,
        )

    def origin(self, filter_: int, slot: int | None = None) -> tuple[int, int]:
        """(y, x) of the top-left pixel of filter `filter_`'s kernel in `slot`.
        Without a slot, `filter_` counts kernels as in the weight, o·inputs + i
        (the way MosaicLayout.origin counts tiles)."""
        if slot is None:
            filter_, slot = divmod(filter_, self.inputs)
        if not 0 <= filter_ < self.filters or not 0 <= slot < self.slots:
            raise IndexError(f"no kernel for filter {filter_}, slot {slot}")
        row, col = divmod(filter_, self.block_cols)
        return (row * self.pitch[0], col * self.block_pitch + self.slot_x(slot))

    def locate(self, y: float, x: float) -> KernelPosition | None:
        """The kernel tap under picture pixel (y, x); None in a gap or outside."""
        if y < 0 or x < 0:
            return None
        row, in_y = divmod(math.floor(y), self.pitch[0])
        col, in_block = divmod(math.floor(x), self.block_pitch)
        filter_ = row * self.block_cols + col
        if in_y >= self.kernel_height or col >= self.block_cols or filter_ >= self.filters:
            return None
        for slot in range(self.slots):
            in_x = in_block - self.slot_x(slot)
            if 0 <= in_x < self.kernel_width:
                return KernelPosition(filter_, slot, in_y, in_x)
        return None

    def write_slot(self, out: np.ndarray, slot: int, tiles: np.ndarray) -> None:
        """Write one kernel-sized tile per filter (O, kh, kw, ...) into `slot` of
        every block of `out` (H, W, ...), in one assignment per row of blocks."""
        kh, kw = self.kernel_height, self.kernel_width
        if tiles.shape[:3] != (self.filters, kh, kw) or out.shape[:2] != self.shape:
            raise ValueError(f"tiles {tiles.shape} or picture {out.shape} do not fit the grid")
        rest = out.shape[2:]
        row_stride, col_stride = out.strides[:2]
        # (block row, block col, y, x, ...) view of this slot in every block: every
        # index it can address lies inside `out` (see `shape`).
        start = out[:, self.slot_x(slot) :]
        grid = as_strided(
            start,
            shape=(self.rows, self.block_cols, kh, kw, *rest),
            strides=(self.pitch[0] * row_stride, self.block_pitch * col_stride,
                     row_stride, col_stride, *out.strides[2:]),
        )  # fmt: skip
        whole_rows, left = divmod(self.filters, self.block_cols)
        if whole_rows:
            grid[:whole_rows] = tiles[: whole_rows * self.block_cols].reshape(
                whole_rows, self.block_cols, kh, kw, *rest
            )
        if left:
            grid[whole_rows, :left] = tiles[whole_rows * self.block_cols :]

    def assemble(
        self, weight: np.ndarray, out: np.ndarray | None = None, gap: float = np.nan
    ) -> np.ndarray:
        """The kernels of `weight` (O, I, kh, kw) in one C-contiguous float32 picture;
        gaps and extra slots hold `gap`. `out` is reused when its shape fits."""
        if weight.shape != (self.filters, self.inputs, self.kernel_height, self.kernel_width):
            raise ValueError(f"weights {weight.shape} do not match the grid")
        if out is None or out.shape != self.shape or out.dtype != np.float32:
            out = np.empty(self.shape, dtype=np.float32)
        out.fill(gap)
        for slot in range(self.inputs):
            self.write_slot(out, slot, weight[:, slot])
        return out


def kernel_gap(kernel_hw: tuple[int, int]) -> int:
    """About 15 % of a kernel, at least one pixel: kernels stay visibly apart."""
    return max(1, round(0.15 * max(kernel_hw)))


def plan_filter_grid(
    filters: int,
    inputs: int,
    kernel_hw: tuple[int, int],
    area_hw: tuple[float, float],
    extra: int = 0,
) -> FilterGrid:
    """The grid whose kernels come out largest when the picture is scaled to fit
    `area_hw` (height, width; any unit, only the proportion counts). Fewer blocks
    per row win unless more make the kernels 5 % larger: the classic table of one
    filter per row reads most easily."""
    if filters < 1 or inputs < 1:
        raise ValueError("a filter grid needs at least one filter and one input channel")
    kh, kw = (max(1, int(v)) for v in kernel_hw)
    height, width = (max(1.0, float(v)) for v in area_hw)
    gap = kernel_gap((kh, kw))
    best, best_scale = None, -1.0
    # Only the fewest columns for each number of rows: more would leave a row short.
    for cols in sorted({-(-filters // rows) for rows in range(1, filters + 1)}):
        grid = FilterGrid(filters, inputs, kh, kw, cols, extra, gap)
        grid_h, grid_w = grid.shape
        scale = min(height / grid_h, width / grid_w)
        if scale > best_scale * 1.05:
            best, best_scale = grid, scale
    return best
