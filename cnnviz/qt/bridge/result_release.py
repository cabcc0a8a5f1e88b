"""Let go of the shown result's big arrays before a large forward allocates its own.

The window shows the last result until the next one arrives, so while a
forward computes, two results are alive: at VGG-11 896 px the process peaked
at about twice what the compute side needs (tests/benchmarks/bench_memory.py
--window). When the forward about to run has a large estimated result
(cnnviz.core.memory), the arrays of the shown result are swapped for
stand-ins of the same shape and type that take no memory (a broadcast zero,
read-only), in the result itself, so that every holder (the controller, the
panel wiring, the panels' inputs) lets go at once. What the panels drew stays
on screen, and the statistics and screen-sized pictures the compute thread
prepared stay in the result: panels that draw from those redraw as before;
one that reads raw values until the new result arrives reads zeros.

This is the one change made to a result after it is made. A panel that kept
an array of its own (the feature maps of the selected layer, the pooling
panel's input) would keep the whole buffer the result's arrays are views of,
so such attributes of the built panels are swapped too; and pictures of maps
small enough to be shown whole, which are the output itself, get a copy.

A forward the budget will refuse does not release anything: then the shown
result stays the last one, whole.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable
from typing import Any

import numpy as np

from cnnviz.core.analysis import Analysis
from cnnviz.core.memory import estimate, memory_budget

log = logging.getLogger(__name__)

# A forward whose kept outputs are estimated at least this large releases the
# shown result first: below it, two results at once cost little, and keeping
# the raw values lets every panel redraw exactly until the new one arrives.
RELEASE_FROM_BYTES = 64 << 20
# Off: the shown result is kept whole (before issue 14; the benchmark's "keep").
ENABLED = True


def _stand_in(array: np.ndarray) -> np.ndarray:
    return np.broadcast_to(np.zeros((), array.dtype), array.shape)


def is_stand_in(array: np.ndarray) -> bool:
    """Whether `array` is a released result's zero stand-in (its values are gone)."""
    return array.size > 1 and not any(array.strides)


def held_bytes(result: Any) -> int:
    """Bytes of the result's layer arrays (each array counted once)."""
    seen: dict[int, int] = {}
    for layer in result.layers:
        for array in (layer.output, layer.input):
            if isinstance(array, np.ndarray) and not is_stand_in(array):
                seen[id(array)] = array.nbytes
    return sum(seen.values())


def release_arrays(result: Any, holders: Iterable[Any] = ()) -> int:
    """Swap every layer's output and input for a stand-in, and so any attribute of
    `holders` (the built panels) that is a view of one of them: the result's
    arrays are views of one buffer, which a single view kept alive whole. The
    bytes let go."""
    freed = held_bytes(result)
    released: list[np.ndarray] = []
    pictures: dict[int, Any] = {}  # id of the old pictures → their own copy
    for layer in result.layers:
        fields = layer.__dict__  # frozen dataclass: its fields live here
        for name in ("output", "input"):
            array = fields.get(name)
            if isinstance(array, np.ndarray) and not is_stand_in(array):
                released.append(array)
                fields[name] = _stand_in(array)
        old = fields.get("pictures")  # a cached property, once prepared
        if old is not None and (new := _own_pictures(old)) is not old:
            pictures[id(old)] = fields["pictures"] = new
    for holder in holders:
        _release_views(holder, released, pictures)
    return freed


def _own_pictures(pictures: Any) -> Any:
    """`pictures` with its own arrays: maps small enough to be shown whole are the
    output itself (a view of the buffer); a copy of them is small (a screenful)."""
    views = {
        f.name: getattr(pictures, f.name).copy()
        for f in dataclasses.fields(pictures)
        if isinstance(getattr(pictures, f.name), np.ndarray)
        and getattr(pictures, f.name).base is not None
    }
    return dataclasses.replace(pictures, **views) if views else pictures


def _release_views(holder: Any, released: list[np.ndarray], pictures: dict[int, Any]) -> None:
    fields = getattr(holder, "__dict__", None)
    if holder is None or fields is None:
        return
    for name, value in list(fields.items()):
        if id(value) in pictures:
            fields[name] = pictures[id(value)]
        elif _is_view_of(value, released):
            fields[name] = _stand_in(value)


def _is_view_of(value: Any, released: list[np.ndarray]) -> bool:
    if not isinstance(value, np.ndarray) or value.size <= 1 or is_stand_in(value):
        return False
    # Bounds only (cheap): the views of the result's buffer overlap it.
    return any(np.may_share_memory(value, array) for array in released)


def make_room(
    shown: Any,
    analysis: Analysis,
    *,
    train_mode: bool = False,
    ignore_memory_limit: bool = False,
    holders: Iterable[Any] = (),
) -> int:
    """Before a forward of `analysis`: release `shown` (a ComputedView, or None)
    and the views `holders` keep of it (see release_arrays) when that forward's
    result is large and it will run. The bytes let go."""
    if not ENABLED or shown is None:
        return 0
    if held_bytes(shown.result) == 0:
        return 0  # released already
    needed = estimate(analysis, train_mode)
    if needed.outputs < RELEASE_FROM_BYTES:
        return 0
    if not ignore_memory_limit and not memory_budget().allows(needed.total):
        return 0  # it will be refused: the shown result stays whole
    freed = release_arrays(shown.result, holders)
    log.debug("released %d bytes of the shown result before a large forward", freed)
    return freed
