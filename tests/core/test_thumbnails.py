"""The overview strip's thumbnails: representative pictures, resizing, placement."""

from __future__ import annotations

import numpy as np
import pytest

from cnnviz.core.thumbnails import (
    MEAN,
    STRONGEST,
    plan_strip,
    reduce_vector,
    representative,
    resize_nearest,
    strongest_channel,
    thumbnail_size,
)


def test_mean_representative_is_the_channel_mean_in_unit_range():
    maps = np.random.default_rng(0).normal(size=(4, 5, 6)).astype(np.float32)
    picture = representative(maps, MEAN)
    mean = maps.mean(axis=0)
    expected = (mean - mean.min()) / (mean.max() - mean.min())
    np.testing.assert_allclose(picture, expected, rtol=1e-5, atol=1e-6)


def test_strongest_representative_is_the_most_active_channel():
    maps = np.zeros((3, 2, 2), dtype=np.float32)
    maps[1] = [[0.0, -5.0], [1.0, 2.0]]
    maps[2] = [[0.0, 0.0], [0.0, 3.0]]
    assert strongest_channel(maps) == 1
    np.testing.assert_allclose(representative(maps, STRONGEST), [[5 / 7, 0.0], [6 / 7, 1.0]])
    with pytest.raises(ValueError, match="unknown representative"):
        representative(maps, "median")


def test_vectors_and_constants():
    np.testing.assert_allclose(representative(np.array([1.0, 3.0, 2.0])), [[0.0, 1.0, 0.5]])
    np.testing.assert_array_equal(representative(np.full((2, 3, 3), 7.0)), np.zeros((3, 3)))


def test_reduce_vector_averages_blocks_without_skipping_values():
    np.testing.assert_allclose(reduce_vector(np.arange(10.0), 4), [[1.0, 4.0, 7.0, 9.0]])
    np.testing.assert_array_equal(reduce_vector(np.arange(3.0), 8), [[0.0, 1.0, 2.0]])


def test_resize_nearest():
    picture = np.arange(4.0).reshape(2, 2)
    np.testing.assert_array_equal(
        resize_nearest(picture, (4, 4)),
        [[0, 0, 1, 1], [0, 0, 1, 1], [2, 2, 3, 3], [2, 2, 3, 3]],
    )
    np.testing.assert_array_equal(
        resize_nearest(np.arange(16.0).reshape(4, 4), (2, 2)), [[0, 2], [8, 10]]
    )
    assert resize_nearest(np.zeros((3, 5, 3)), (6, 10)).shape == (6, 10, 3)


def test_thumbnail_sizes_keep_aspect_within_limits():
    assert thumbnail_size((64, 64), 32) == (32, 32)
    assert thumbnail_size((10, 20), 32) == (32, 64)
    assert thumbnail_size((1, 100), 32) == (32, 96)  # at most 3:1
    assert thumbnail_size((100, 1), 32) == (32, 10)  # at least 1:3
    assert thumbnail_size((1, 10), 30, is_vector=True) == (10, 60)


def test_strip_places_thumbnails_left_to_right():
    strip = plan_strip([(10, 10), (6, 20), (10, 4)], gap=2)
    assert strip.lefts == (0, 12, 34) and strip.width == 38 and strip.height == 10
    assert strip.top(1) == 2  # centred vertically
    assert strip.locate(5, 5) == 0
    assert strip.locate(20, 3) == 1
    assert strip.locate(20, 0) is None  # above the short thumbnail
    assert strip.locate(11, 5) is None  # in the gap
    assert strip.locate(36, 9) == 2
