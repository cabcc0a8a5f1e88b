"""Stack edits as pure functions: where rows go, and what follows them."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cnnviz.core import stack_edits
from cnnviz.core.jobs import KernelEdit

ITEMS = tuple("abcdef")


def test_insert():
    edit = stack_edits.insert(ITEMS, 2, ["X", "Y"])
    assert "".join(edit.items) == "abXYcdef"
    assert edit.rows == (2, 3)
    assert edit.index_map == {0: 0, 1: 1, 2: 4, 3: 5, 4: 6, 5: 7}
    assert "".join(stack_edits.insert(ITEMS, 99, ["X"]).items) == "abcdefX"


def test_remove_several():
    edit = stack_edits.remove(ITEMS, [4, 1])
    assert "".join(edit.items) == "acdf"
    assert edit.rows == (1,)  # what now sits where the first removed row was
    assert edit.index_map == {0: 0, 2: 1, 3: 2, 5: 3}
    assert stack_edits.remove(ITEMS, [5]).rows == (4,)
    assert stack_edits.remove(("a",), [0]).rows == ()


@pytest.mark.parametrize(
    ("rows", "position", "expected", "moved_to"),
    [
        ([0], 3, "bcadef", (2,)),  # drop between c and d
        ([0, 1], 6, "cdefab", (4, 5)),  # to the end
        ([4], 0, "eabcdf", (0,)),
        ([1, 4], 3, "acbedf", (2, 3)),  # non-contiguous rows gather, in order
        ([2], 2, "abcdef", (2,)),  # onto itself: nothing changes
        ([2], 3, "abcdef", (2,)),
    ],
)
def test_move(rows, position, expected, moved_to):
    edit = stack_edits.move(ITEMS, rows, position)
    assert "".join(edit.items) == expected
    assert edit.rows == moved_to


def test_move_by_one():
    assert "".join(stack_edits.move_by(ITEMS, [2, 3], -1).items) == "acdbef"
    assert "".join(stack_edits.move_by(ITEMS, [2, 3], 1).items) == "abecdf"
    assert "".join(stack_edits.move_by(ITEMS, [0], -1).items) == "abcdef"


def test_duplicate_goes_after_the_last_selected():
    edit = stack_edits.duplicate(ITEMS, [1, 3])
    assert "".join(edit.items) == "abcdbdef"
    assert edit.rows == (4, 5)


def test_rows_outside_the_stack_are_refused():
    with pytest.raises(IndexError, match="row 6 is outside the stack of 6"):
        stack_edits.remove(ITEMS, [6])


@settings(max_examples=80, deadline=None)
@given(
    rows=st.sets(st.integers(0, 7), min_size=1),
    position=st.integers(0, 8),
)
def test_move_keeps_every_item_and_the_map_says_where(rows, position):
    items = tuple(range(8))
    edit = stack_edits.move(items, rows, position)
    assert sorted(edit.items) == list(items)
    for old, new in edit.index_map.items():
        assert edit.items[new] == items[old]
    moved = [edit.items[r] for r in edit.rows]
    assert moved == sorted(rows)  # the block keeps its order
    assert list(edit.rows) == list(range(edit.rows[0], edit.rows[0] + len(rows)))


def test_kernel_edits_follow_their_layer():
    kernel = np.ones((1, 3, 3), np.float32)
    edits = (KernelEdit(0, 0, kernel), KernelEdit(3, 1, kernel))
    moved = stack_edits.move(ITEMS, [0], 5)  # layer 0 goes to row 4
    remapped = stack_edits.remap_kernel_edits(edits, moved.index_map)
    assert [(e.layer, e.out_channel) for e in remapped] == [(4, 0), (2, 1)]
    removed = stack_edits.remove(ITEMS, [3])
    assert [e.layer for e in stack_edits.remap_kernel_edits(edits, removed.index_map)] == [0]
