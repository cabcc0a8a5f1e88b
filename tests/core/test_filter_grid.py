"""The filter grid: kernels where origin says, locate inverts it, plans fill the area."""

from __future__ import annotations

import numpy as np
import pytest

from cnnviz.core.filter_grid import FilterGrid, KernelPosition, plan_filter_grid


def weights(o: int, i: int, kh: int, kw: int) -> np.ndarray:
    return np.arange(o * i * kh * kw, dtype=np.float32).reshape(o, i, kh, kw)


@pytest.mark.parametrize("cols", [1, 3, 5, 7])
def test_every_kernel_is_written_where_origin_says(cols):
    grid = FilterGrid(filters=7, inputs=3, kernel_height=3, kernel_width=2, block_cols=cols)
    weight = weights(7, 3, 3, 2)
    picture = grid.assemble(weight)
    assert picture.dtype == np.float32 and picture.flags.c_contiguous
    for o in range(7):
        for i in range(3):
            y, x = grid.origin(o, i)
            np.testing.assert_array_equal(picture[y : y + 3, x : x + 2], weight[o, i])
    # Everything else is gap: as many NaNs as the picture has pixels beyond the kernels.
    assert np.isnan(picture).sum() == picture.size - weight.size


def test_locate_inverts_origin_and_gaps_are_none():
    grid = FilterGrid(10, 3, 3, 3, block_cols=4, extra=1)
    for o in range(10):
        for slot in range(4):
            y, x = grid.origin(o, slot)
            assert grid.locate(y + 2.5, x + 1.2) == KernelPosition(o, slot, 2, 1)
    y, x = grid.origin(0, 0)
    assert grid.locate(y + grid.kernel_height, x) is None  # the gap under a kernel
    assert grid.locate(-1, 0) is None
    last_y, _ = grid.origin(9, 0)
    _, empty_x = grid.origin(1, 0)
    assert grid.locate(last_y + 1, empty_x + 1 + grid.block_pitch) is None  # short last row
    assert grid.locate(0, grid.shape[1] + 5) is None


def test_filters_are_set_apart_more_than_their_kernels():
    grid = FilterGrid(8, 3, 3, 3, block_cols=4, extra=1)
    inside = grid.origin(0, 1)[1] - grid.origin(0, 0)[1] - grid.kernel_width
    before_extra = grid.origin(0, 3)[1] - grid.origin(0, 2)[1] - grid.kernel_width
    between = grid.origin(1, 0)[1] - grid.origin(0, 3)[1] - grid.kernel_width
    assert inside < before_extra < between
    # Single-kernel blocks (one grey input, no extras) make a uniform grid.
    plain = FilterGrid(8, 1, 3, 3, block_cols=4)
    assert plain.origin(1, 0)[1] - plain.origin(0, 0)[1] == plain.pitch[1]


def test_extra_slots_take_tiles_with_channels():
    grid = FilterGrid(5, 3, 2, 2, block_cols=2, extra=1)
    rgba = np.zeros((*grid.shape, 4), dtype=np.uint8)
    tiles = np.arange(5 * 2 * 2 * 4, dtype=np.uint8).reshape(5, 2, 2, 4)
    grid.write_slot(rgba, 3, tiles)
    for o in range(5):
        y, x = grid.origin(o, 3)
        np.testing.assert_array_equal(rgba[y : y + 2, x : x + 2], tiles[o])
    with pytest.raises(ValueError):
        grid.write_slot(rgba, 3, tiles[:4])


def test_a_wide_area_wraps_a_first_layer_into_columns():
    # VGG-16's first conv in a panel wider than high: filters side by side.
    grid = plan_filter_grid(64, 3, (3, 3), area_hw=(560, 600), extra=1)
    assert grid.block_cols > 1
    height, width = grid.shape
    scale = min(560 / height, 600 / width)
    column = FilterGrid(64, 3, 3, 3, 1, 1, grid.gap)
    column_scale = min(560 / column.shape[0], 600 / column.shape[1])
    assert scale >= 3 * column_scale
    assert 3 * scale >= 16  # a 3×3 kernel at least 16 screen pixels wide


def test_many_input_channels_keep_one_filter_per_row():
    # 64 × 64 kernels already make a square: wrapping would only shrink them.
    assert plan_filter_grid(64, 64, (3, 3), area_hw=(500, 500)).block_cols == 1


def test_the_plan_is_the_best_scale_of_all_column_counts():
    area = (300.0, 900.0)
    plan = plan_filter_grid(10, 2, (5, 5), area)

    def scale(grid):
        return min(area[0] / grid.shape[0], area[1] / grid.shape[1])

    others = [FilterGrid(10, 2, 5, 5, cols, 0, plan.gap) for cols in range(1, 11)]
    best = max(scale(g) for g in others)
    assert scale(plan) >= best / 1.05
    # Near ties go to fewer columns: nothing narrower is within 5 % of the best.
    assert all(scale(g) < best / 1.05 for g in others[: plan.block_cols - 1])


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError):
        plan_filter_grid(0, 3, (3, 3), (100, 100))
    grid = FilterGrid(2, 2, 3, 3)
    with pytest.raises(ValueError):
        grid.assemble(weights(2, 3, 3, 3))
    with pytest.raises(IndexError):
        grid.origin(2, 0)
