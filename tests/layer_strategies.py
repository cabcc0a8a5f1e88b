"""Hypothesis strategies for layers and inputs, drawn from the catalogue itself.

Every layer type and every parameter the catalogue declares is covered, so a
type added to the catalogue is drawn without touching the tests. Values are
mostly small (networks a CPU runs in milliseconds) and now and then anywhere
in the declared range (the editor accepts them; shapes are then checked on
torch's meta device).
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from cnnviz.core.architecture import MAX_INPUT_CHANNELS, MAX_INPUT_SIDE, InputShape, Layer
from cnnviz.core.catalogue import (
    BOOL,
    CATALOGUE,
    CHOICE,
    FLOAT,
    INT,
    OPT_BOOL,
    OPT_FLOAT,
    OPT_INT,
    OPT_PAIR,
    PAD4,
    PADDING,
    PAIR,
    Param,
)


def _ints(low: int, high: int) -> st.SearchStrategy[int]:
    """Whole numbers in [low, high], small ones four times out of five."""
    small = st.integers(low, min(high, low + 5))
    return st.one_of(small, small, small, st.integers(low, min(high, 64)), st.integers(low, high))


def _int_in(p: Param) -> st.SearchStrategy[int]:
    return _ints(int(p.minimum), int(p.maximum))


def _pair(p: Param) -> st.SearchStrategy[int | tuple[int, int]]:
    return st.one_of(_int_in(p), st.tuples(_int_in(p), _int_in(p)))


def param_values(p: Param) -> st.SearchStrategy[Any]:
    """Values the catalogue accepts for `p` (as the editor hands them over)."""
    if p.kind == INT:
        return _int_in(p)
    if p.kind == PAIR:
        return _pair(p)
    if p.kind == OPT_PAIR:
        return st.one_of(st.none(), _pair(p))
    if p.kind == OPT_INT:
        return st.one_of(st.none(), _int_in(p))
    if p.kind == PADDING:
        return st.one_of(_pair(p), st.sampled_from(p.choices))
    if p.kind == PAD4:
        return st.one_of(_int_in(p), st.tuples(*[_int_in(p)] * 4))
    if p.kind == FLOAT:
        return st.floats(p.minimum, p.maximum, allow_nan=False)
    if p.kind == OPT_FLOAT:
        return st.one_of(st.none(), st.floats(p.minimum, p.maximum, allow_nan=False))
    if p.kind == BOOL:
        return st.booleans()
    if p.kind == OPT_BOOL:
        return st.one_of(st.none(), st.booleans())
    if p.kind == CHOICE:
        return st.sampled_from(p.choices)
    raise AssertionError(f"no strategy for parameter kind {p.kind}")


def rejected_values(p: Param) -> st.SearchStrategy[Any]:
    """Values the catalogue refuses for `p` (just outside the range, wrong kind)."""
    wrong = [st.just("nonsense"), st.just([1, 2, 3])]
    if p.kind in (INT, PAIR, OPT_PAIR, OPT_INT, PADDING, PAD4):
        wrong += [st.just(int(p.minimum) - 1), st.just(int(p.maximum) + 1), st.just(1.5)]
    elif p.kind in (FLOAT, OPT_FLOAT):
        wrong += [st.just(p.minimum - 1.0), st.just(p.maximum + 1.0), st.just(float("nan"))]
    elif p.kind == BOOL:
        wrong += [st.just(1), st.none()]
    elif p.kind == OPT_BOOL:
        wrong += [st.just(1)]
    return st.one_of(wrong)


@st.composite
def layers_of(draw, type_name: str) -> Layer:
    """A layer of this type: every required parameter, and some optional ones."""
    params = {}
    for p in CATALOGUE[type_name].params:
        if p.required or draw(st.booleans()):
            params[p.name] = draw(param_values(p))
    return Layer.make(type_name, **params)


layer_types = st.sampled_from(sorted(CATALOGUE))
layers = layer_types.flatmap(layers_of)

_small_side = st.integers(1, 40)
input_shapes = st.one_of(
    st.builds(InputShape, st.integers(1, 6), _small_side, _small_side),
    st.builds(InputShape, st.integers(1, 6), _small_side, _small_side),
    st.builds(
        InputShape,
        st.integers(1, MAX_INPUT_CHANNELS),
        st.integers(1, MAX_INPUT_SIDE),
        st.integers(1, MAX_INPUT_SIDE),
    ),
)
