"""The mosaic behind the feature-map panel: layout, tiles, normalisation, statistics."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cnnviz.core.mosaic import (
    PER_CHANNEL,
    PER_LAYER,
    MosaicLayout,
    TilePosition,
    assemble,
    channel_statistics,
    image_for_display,
    layer_levels,
    normalise,
    plan_layout,
)

shapes = st.tuples(
    st.integers(1, 40),  # channels
    st.integers(1, 12),  # tile height
    st.integers(1, 12),  # tile width
)


@settings(max_examples=60, deadline=None)
@given(shapes, st.floats(0.3, 4.0))
def test_layout_holds_every_channel_without_an_empty_row(shape, aspect):
    channels, h, w = shape
    layout = plan_layout(channels, (h, w), aspect=aspect)
    assert layout.rows * layout.cols >= channels
    assert (layout.rows - 1) * layout.cols < channels  # the last row is used
    assert layout.cols <= channels


def test_layout_follows_the_aspect_of_the_view():
    wide = plan_layout(64, (10, 10), aspect=4.0)
    tall = plan_layout(64, (10, 10), aspect=0.25)
    assert wide.cols > wide.rows
    assert tall.rows > tall.cols
    assert plan_layout(64, (10, 10), aspect=1.0).cols == 8


@settings(max_examples=60, deadline=None)
@given(shapes, st.integers(0, 3), st.integers(0, 2**31 - 1))
def test_every_tile_of_the_mosaic_equals_its_channel(shape, gap, seed):
    channels, h, w = shape
    maps = np.random.default_rng(seed).normal(size=shape).astype(np.float32)
    layout = plan_layout(channels, (h, w), gap=gap)
    mosaic = assemble(maps, layout)
    assert mosaic.shape == layout.shape
    assert mosaic.dtype == np.float32 and mosaic.flags.c_contiguous
    for channel in range(channels):
        y, x = layout.origin(channel)
        np.testing.assert_array_equal(mosaic[y : y + h, x : x + w], maps[channel])
    # Everything else is a gap (NaN, drawn transparent).
    assert np.count_nonzero(~np.isnan(mosaic)) == maps.size


def test_assemble_reuses_the_buffer_and_clears_old_tiles():
    layout = plan_layout(5, (3, 3), gap=1)
    first = assemble(np.ones((5, 3, 3), np.float32), layout)
    second = assemble(np.full((5, 3, 3), 2.0, np.float32), layout, out=first)
    assert second is first
    assert set(np.unique(second[~np.isnan(second)])) == {2.0}


def test_assemble_rejects_tiles_of_another_shape():
    with pytest.raises(ValueError, match="do not match"):
        assemble(np.zeros((4, 3, 3), np.float32), plan_layout(5, (3, 3)))


def test_known_layout_positions():
    layout = MosaicLayout(channels=10, tile_height=4, tile_width=5, rows=3, cols=4, gap=1)
    assert layout.shape == (3 * 5 - 1, 4 * 6 - 1)
    assert layout.origin(0) == (0, 0)
    assert layout.origin(5) == (5, 6)
    assert layout.origin(9) == (10, 6)
    assert layout.locate(6.5, 8.2) == TilePosition(5, 1, 2)
    assert layout.locate(4, 0) is None  # the gap row under the first row of tiles
    assert layout.locate(0, 5) is None  # the gap column
    assert layout.locate(11, 13) is None  # cell 10 of the grid holds no channel
    assert layout.locate(-0.5, 0) is None
    with pytest.raises(IndexError):
        layout.origin(10)


@settings(max_examples=60, deadline=None)
@given(shapes, st.integers(0, 3), st.data())
def test_locate_inverts_origin(shape, gap, data):
    channels, h, w = shape
    layout = plan_layout(channels, (h, w), gap=gap)
    channel = data.draw(st.integers(0, channels - 1))
    row, col = data.draw(st.integers(0, h - 1)), data.draw(st.integers(0, w - 1))
    y, x = layout.origin(channel)
    assert layout.locate(y + row + 0.5, x + col + 0.99) == TilePosition(channel, row, col)


def test_per_channel_normalisation_scales_each_channel_to_unit_range():
    rng = np.random.default_rng(1)
    maps = rng.normal(size=(6, 7, 8)).astype(np.float32) * np.arange(1, 7)[:, None, None]
    maps[2] = 3.0  # a constant channel
    result = normalise(maps, PER_CHANNEL)
    assert result.levels == (0.0, 1.0)
    for c in range(6):
        low, high = maps[c].min(), maps[c].max()
        expected = (maps[c] - low) / (high - low) if high > low else np.zeros_like(maps[c])
        np.testing.assert_allclose(result.values[c], expected, rtol=1e-5, atol=1e-6)


def test_per_channel_symmetric_normalisation_keeps_zero_at_zero():
    maps = np.array([[[-2.0, 1.0]], [[0.5, 0.25]], [[0.0, 0.0]]], dtype=np.float32)
    result = normalise(maps, PER_CHANNEL, symmetric=True)
    assert result.levels == (-1.0, 1.0)
    np.testing.assert_allclose(result.values, [[[-1.0, 0.5]], [[1.0, 0.5]], [[0.0, 0.0]]])


def test_per_layer_normalisation_keeps_values_and_uses_the_layer_range():
    maps = np.array([[[-1.0, 2.0]], [[0.5, 4.0]]], dtype=np.float32)
    result = normalise(maps, PER_LAYER)
    np.testing.assert_array_equal(result.values, maps)
    assert result.levels == (-1.0, 4.0)
    assert normalise(maps, PER_LAYER, symmetric=True).levels == (-4.0, 4.0)


def test_levels_of_a_constant_or_empty_layer_are_never_empty():
    assert layer_levels(np.zeros((2, 3, 3))) == (-0.5, 0.5)
    assert layer_levels(np.full((1, 2, 2), np.nan)) == (0.0, 1.0)
    low, high = layer_levels(np.array([[[np.nan, 1.0, 3.0]]]))
    assert (low, high) == (1.0, 3.0)


def test_normalise_rejects_bad_input():
    with pytest.raises(ValueError, match="must be"):
        normalise(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="unknown normalisation"):
        normalise(np.zeros((1, 3, 3)), "global")


def test_channel_statistics_and_dead_channels():
    maps = np.zeros((4, 3, 3), dtype=np.float32)
    maps[0] = np.arange(9).reshape(3, 3)
    maps[2, 1, 1] = -1.0
    stats = channel_statistics(maps)
    assert stats.dead_channels == [1, 3]
    np.testing.assert_array_equal(stats.minimum, [0, 0, -1, 0])
    np.testing.assert_array_equal(stats.maximum, [8, 0, 0, 0])
    np.testing.assert_allclose(stats.mean, [4, 0, -1 / 9, 0])
    np.testing.assert_allclose(stats.zero_fraction, [1 / 9, 1, 8 / 9, 1])


def test_image_for_display():
    rgb = np.random.default_rng(0).random((3, 4, 5)).astype(np.float32)
    np.testing.assert_array_equal(image_for_display(rgb), rgb.transpose(1, 2, 0))
    normalised = np.array([[[-2.0, 0.0], [2.0, 6.0]]], dtype=np.float32)
    np.testing.assert_allclose(image_for_display(normalised), [[0.0, 0.25], [0.5, 1.0]])
    two_channels = np.stack([np.zeros((2, 2)), np.ones((2, 2))]).astype(np.float32)
    np.testing.assert_allclose(image_for_display(two_channels), np.full((2, 2), 0.5))
    with pytest.raises(ValueError):
        image_for_display(np.zeros((4, 4)))
