"""Framing a drawn digit: its ink spans FILL of the frame on its longer side, centred."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from cnnviz.core.digit_framing import FILL, IDENTITY, MAX_SCALE, frame_strokes

SIZE = 280

point = st.tuples(st.floats(0, SIZE), st.floats(0, SIZE))
stroke = st.tuples(st.lists(point, min_size=1, max_size=12), st.floats(2, 40))


def ink_extent(strokes, framing):
    """Low and high corners of the framed ink (centre lines widened by each brush)."""
    lows, highs = [], []
    for points, width in strokes:
        moved = framing.apply(np.asarray(points, dtype=float).reshape(-1, 2))
        lows.append(moved.min(axis=0) - width / 2)
        highs.append(moved.max(axis=0) + width / 2)
    return np.min(lows, axis=0), np.max(highs, axis=0)


@settings(max_examples=300, deadline=None)
@given(st.lists(stroke, min_size=1, max_size=4))
def test_the_ink_is_centred_and_spans_fill_of_the_frame_on_its_longer_side(strokes):
    framing = frame_strokes(strokes, SIZE)
    low, high = ink_extent(strokes, framing)
    if framing == IDENTITY:  # only when the brush alone is wider than FILL of the frame
        assert max(w for _, w in strokes) > FILL * SIZE
        return
    np.testing.assert_allclose((low + high) / 2, SIZE / 2, atol=1e-6)  # centred both ways
    longer = (high - low).max()
    if framing.scale < MAX_SCALE:
        np.testing.assert_allclose(longer, FILL * SIZE, rtol=1e-9)
    else:  # a scribble is enlarged only so far
        assert longer <= FILL * SIZE


def test_a_small_digit_in_a_corner_is_enlarged_and_moved_to_the_middle():
    one = [(np.array([[20.0, 30.0], [30.0, 20.0], [30.0, 70.0]]), 10.0)]  # 60 px of ink
    framing = frame_strokes(one, SIZE)
    np.testing.assert_allclose(framing.scale, (FILL * SIZE - 10) / 50)
    low, high = ink_extent(one, framing)
    np.testing.assert_allclose(high[1] - low[1], FILL * SIZE)
    np.testing.assert_allclose((low + high) / 2, (SIZE / 2, SIZE / 2))


def test_nothing_drawn_or_a_brush_wider_than_the_frame_is_left_alone():
    assert frame_strokes([], SIZE) == IDENTITY
    assert frame_strokes([(np.empty((0, 2)), 10.0)], SIZE) == IDENTITY
    assert frame_strokes([(np.array([[5.0, 5.0]]), 500.0)], SIZE) == IDENTITY
