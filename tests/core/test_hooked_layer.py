"""The Hooked row type of a read-only view (issue 18): its shape is the recorded one
whatever comes in, its count the recorded one; files keep rows and the view's
metadata; it is never in the palette."""

from __future__ import annotations

import json

import pytest

from cnnviz.core.analysis import analyze
from cnnviz.core.architecture import Architecture, ArchitectureError, InputShape, Layer, loads
from cnnviz.core.catalogue import CATALOGUE, by_group, layer_type

ENTRY = {"source": "/home/me/my_net.py:Net", "message": "read-only view: ...", "total_params": 7}


def _row(module: str, shape, params: int, call: int = 1) -> Layer:
    return Layer.make(
        "Hooked", label=f"{module} Conv2d", module=module, kind="Conv2d", call=call,
        out_shape=list(shape), params=params,
    )  # fmt: skip


def _view() -> Architecture:
    rows = (_row("a", (4, 8, 8), 5), _row("a", (4, 8, 8), 0, call=2), _row("fc", (3,), 2))
    return Architecture("Net", InputShape(3, 8, 8), rows, {"hooked": ENTRY})


def test_rows_give_their_recorded_shapes_and_counts_whatever_comes_in():
    analysis = analyze(_view())
    assert analysis.first_error is None
    assert [info.output_shape for info in analysis.layers] == [(4, 8, 8), (4, 8, 8), (3,)]
    assert [info.params for info in analysis.layers] == [5, 0, 2]
    assert [info.macs for info in analysis.layers] == [0, 0, 0]


def test_a_file_keeps_the_rows_and_the_views_metadata():
    arch = _view()
    assert loads(arch.dumps()) == arch


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"message": "x"}, '"hooked" must be an object with the model\'s "source"'),
        ({**ENTRY, "total_params": -1}, '"hooked": "total_params" must be a whole number'),
        ({**ENTRY, "not_run": "b.0"}, '"hooked": "not_run" must be a list of modules'),
    ],
)
def test_a_broken_hooked_entry_is_one_line(entry, message):
    data = {**_view().to_json(), "hooked": entry}
    with pytest.raises(ArchitectureError) as caught:
        loads(json.dumps(data))
    assert str(caught.value).startswith(message) and "\n" not in str(caught.value)


def test_hooked_is_known_but_never_offered_in_the_palette():
    assert layer_type("Hooked").name == "Hooked" and "Hooked" not in CATALOGUE
    assert all(t.name != "Hooked" for types in by_group().values() for t in types)
    assert all(p.hidden for p in layer_type("Hooked").params)
