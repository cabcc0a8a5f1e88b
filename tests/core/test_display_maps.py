"""Pictures prepared for the screen: bounded in size, coloured as the full maps,
positions read off them are the full maps'."""

from __future__ import annotations

import numpy as np
import pytest

from cnnviz.core.display_maps import (
    SCREEN_PIXELS,
    display_stride,
    normalise_tiles,
    prepare,
    scaled_layout,
)
from cnnviz.core.jobs import LayerActivation
from cnnviz.core.mosaic import PER_CHANNEL, PER_LAYER, channel_statistics, normalise, plan_layout
from cnnviz.core.thumbnails import MEAN, STRONGEST, representative, strongest_channel


def maps(shape, seed=0) -> np.ndarray:
    values = np.random.default_rng(seed).standard_normal(shape, dtype=np.float32)
    values[1] = np.maximum(values[1], 0) * 3  # channels of different ranges
    return values


@pytest.mark.parametrize(
    "shape", [(64, 448, 448), (64, 896, 896), (3, 5000, 20), (512, 28, 28), (8, 10, 10)]
)
def test_the_tiles_fit_a_screen_and_are_the_maps_own_values(shape):
    output = maps(shape)
    pictures = prepare(output)
    stride = pictures.stride
    assert pictures.tiles.size <= max(SCREEN_PIXELS, shape[0])
    np.testing.assert_array_equal(pictures.tiles, output[:, ::stride, ::stride])
    if stride > 1:  # the smallest step that fits
        assert display_stride(shape, SCREEN_PIXELS) == stride
        smaller = -(-shape[1] // (stride - 1)) * -(-shape[2] // (stride - 1)) * shape[0]
        assert smaller > SCREEN_PIXELS


def test_vgg_maps_at_896_px_are_sampled_and_small_maps_are_whole():
    assert prepare(maps((64, 896, 896))).stride == 8
    assert prepare(maps((8, 10, 10))).stride == 1


def test_statistics_and_thumbnails_are_the_full_maps():
    output = maps((16, 300, 300))
    output[3] = 0  # all zero for this image
    output[4, :100] = np.nan  # statistics of NaN are NaN, as the whole layer's
    pictures = prepare(output)
    full = channel_statistics(output)
    for name in ("minimum", "maximum", "mean", "zero_fraction", "dead"):
        np.testing.assert_allclose(
            getattr(pictures.statistics, name), getattr(full, name), rtol=1e-5, atol=1e-7
        )
    assert pictures.strongest == strongest_channel(output)
    np.testing.assert_allclose(pictures.mean_picture, representative(output, MEAN), atol=1e-6)
    np.testing.assert_allclose(
        pictures.strongest_picture(output), representative(output, STRONGEST), atol=1e-6
    )


@pytest.mark.parametrize("mode", [PER_CHANNEL, PER_LAYER])
@pytest.mark.parametrize("symmetric", [False, True])
def test_sampled_tiles_are_coloured_as_the_whole_maps(mode, symmetric):
    output = maps((6, 2100, 500))
    pictures = prepare(output)
    s = pictures.stride
    assert s > 1
    whole = normalise(output, mode, symmetric)
    sampled = normalise_tiles(pictures.tiles, pictures.statistics, mode, symmetric)
    assert sampled.levels == pytest.approx(whole.levels)
    np.testing.assert_allclose(sampled.values, whole.values[:, ::s, ::s], atol=1e-6)
    one = normalise_tiles(output[2:3], pictures.statistics, mode, symmetric, slice(2, 3))
    np.testing.assert_allclose(one.values[0], whole.values[2], atol=1e-6)


def test_a_position_on_the_sampled_mosaic_is_the_full_maps_position():
    grid = plan_layout(10, (34, 34))  # tiles of 100 × 100 maps taken every 3rd value
    layout = scaled_layout(grid, 3)
    y, x = layout.origin(7)
    assert (y, x) == tuple(3 * v for v in grid.origin(7))
    tile = layout.locate(y + 41.5, x + 98.5)
    assert (tile.channel, tile.row, tile.col) == (7, 41, 98)


def test_the_activation_keeps_its_pictures():
    layer = LayerActivation(0, "Conv2d", maps((4, 20, 20)))
    assert layer.pictures is layer.pictures
    assert LayerActivation(1, "Linear", np.zeros(10, np.float32)).pictures is None
