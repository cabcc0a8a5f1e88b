"""The Opaque layer type on paper (issue 18): what an import measured, checked
shapes, its parameter count, a conservative receptive field, a file round trip,
and no place in the palette."""

from __future__ import annotations

import pytest

from cnnviz.core import architecture
from cnnviz.core.analysis import analyze
from cnnviz.core.architecture import Architecture, ArchitectureError, InputShape, Layer
from cnnviz.core.catalogue import CATALOGUE, by_group, layer_type
from cnnviz.core.formula import output_size_lines, parameter_line
from cnnviz.core.layers.opaque import MAX_PROGRAM_CHARS


def opaque(**changes) -> Layer:
    params = {
        "label": "LayerNorm2d",
        "source": "stage.norm",
        "program": "UEsDBA==",
        "in_shape": [8, 6, 6],
        "out_shape": [8, 6, 6],
        "params": 16,
    }
    return Layer.make("Opaque", **{**params, **changes})


def net(layer: Layer, size: int = 8) -> Architecture:
    conv = Layer.make("Conv2d", out_channels=8, kernel_size=3)
    head = (Layer.make("Flatten"), Layer.make("Linear", out_features=3))
    return Architecture("net", InputShape(3, size, size), (conv, layer, *head))


def test_it_gives_its_measured_shape_and_parameter_count():
    analysis = analyze(net(opaque(out_shape=[4, 3, 3], params=100)))
    info = analysis.layers[1]
    assert info.error is None and info.output_shape == (4, 3, 3)
    assert info.params == 100 and info.macs == 0
    assert analysis.layers[3].params == 4 * 3 * 3 * 3 + 3  # the Linear reads its 36 values


def test_another_input_is_refused_in_one_line():
    bad = analyze(net(opaque(), size=10)).first_error
    assert bad.error == (
        "layer 1 Opaque: LayerNorm2d was measured on 8×6×6 and runs the original "
        "module; it cannot take 8×8×8"
    )


def test_its_field_is_the_whole_input():
    """Nothing says which inputs an output reads: every output may read all of them."""
    fields = analyze(net(opaque(out_shape=[8, 2, 2]))).layers[1].receptive_field
    assert fields.size == (8, 8)


def test_a_vector_output_reads_the_whole_input_too():
    layers = (Layer.make("Conv2d", out_channels=8, kernel_size=3), opaque(out_shape=[5]))
    analysis = analyze(Architecture("v", InputShape(3, 8, 8), layers))
    assert analysis.layers[1].output_shape == (5,)
    assert analysis.layers[1].receptive_field.is_global


def test_the_formula_says_the_macs_are_not_counted():
    arch = net(opaque())
    assert "MACs: not counted (opaque)" in output_size_lines(arch.layers[1], (8, 6, 6))
    assert parameter_line(arch.layers[1], (8, 6, 6)).startswith("params = 16 ")


def test_it_round_trips_through_a_file(tmp_path):
    arch = net(opaque())
    path = tmp_path / "net.json"
    architecture.save(arch, path)
    assert architecture.load(path) == arch


def test_its_fields_are_checked_in_one_line():
    with pytest.raises(ArchitectureError, match=r"^Opaque: in_shape must be 1 to 3 sizes"):
        opaque(in_shape=[1, 2, 3, 4])
    with pytest.raises(ArchitectureError, match=r"^Opaque: label must be text"):
        opaque(label=3)
    with pytest.raises(ArchitectureError, match=r"^Opaque: program holds 41,943,041 char"):
        opaque(program="A" * (MAX_PROGRAM_CHARS + 1))


def test_only_an_import_makes_one():
    assert layer_type("Opaque").name == "Opaque"
    assert "Opaque" not in CATALOGUE
    assert all(t.name != "Opaque" for types in by_group().values() for t in types)
    assert all(p.hidden for p in layer_type("Opaque").params)  # nothing to edit
    assert opaque().describe() == "LayerNorm2d"


def test_the_quiz_asks_nothing_about_it():
    """Its numbers are measured, not worked out: no question is about it."""
    from cnnviz.core.quiz.generate import make_quiz

    analysis = analyze(net(opaque()))
    for level in (1, 2, 3):
        for seed in range(8):
            questions = make_quiz(analysis, 6, seed=seed, level=level)
            assert questions
            asked = {q.layer for q in questions if q.kind != "largest_layer"}
            assert "1" not in asked, (level, seed)
