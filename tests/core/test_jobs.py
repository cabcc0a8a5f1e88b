"""The hand-written constructors of the result classes match their declared fields."""

from __future__ import annotations

import dataclasses
import inspect

import numpy as np
import pytest

from cnnviz.core.jobs import ForwardResult, LayerActivation, LayerStats


def declared_default(f: dataclasses.Field):
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return inspect.Parameter.empty


@pytest.mark.parametrize("cls", [LayerActivation, ForwardResult])
def test_constructor_takes_the_fields_in_order(cls):
    parameters = list(inspect.signature(cls).parameters.values())
    fields = dataclasses.fields(cls)
    assert [p.name for p in parameters] == [f.name for f in fields]


def test_defaults_are_the_declared_ones():
    result = ForwardResult(7, np.zeros((1, 2, 2), np.float32), ())
    for f in dataclasses.fields(ForwardResult)[3:]:
        assert getattr(result, f.name) == declared_default(f), f.name
    assert LayerActivation(0, "ReLU", np.zeros(2)).input is None


@pytest.mark.parametrize("cls", [LayerActivation, ForwardResult])
def test_fields_cannot_be_reassigned(cls):
    obj = cls(0, "Conv2d", ()) if cls is LayerActivation else cls(0, np.zeros(1), ())
    with pytest.raises(dataclasses.FrozenInstanceError):
        obj.index = 1  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        obj.input = None  # type: ignore[misc]


def test_each_result_gets_its_own_filters_dict():
    first = ForwardResult(1, np.zeros(1), ())
    second = ForwardResult(2, np.zeros(1), ())
    assert first.filters == {} and first.filters is not second.filters


def test_layer_statistics_are_those_of_the_output():
    values = np.array([[0.0, -2.0], [0.0, 5.0]], np.float32)
    stats = LayerActivation(3, "ReLU", values).stats
    assert stats == LayerStats(-2.0, 5.0, 0.75, 0.5)
    assert all(type(v) is float for v in dataclasses.astuple(stats))


def test_statistics_of_an_empty_output_are_not_numbers():
    stats = LayerStats.of(np.zeros((0, 3), np.float32))
    assert all(np.isnan(v) for v in dataclasses.astuple(stats))
