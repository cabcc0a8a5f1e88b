"""The quiz core: lenient answer parsing with documented tolerances, seeded
generation on any network (generated graphs against an independent torch
model), worked sums that equal torch's values, what-if sizes that equal torch."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from cnnviz.compute.runner import ForwardRunner
from cnnviz.core.analysis import analyze
from cnnviz.core.architecture import Architecture, InputShape, Layer, from_json
from cnnviz.core.jobs import ForwardRequest
from cnnviz.core.presets import load_preset
from cnnviz.core.quiz import (
    JSON_KINDS,
    KINDS,
    Question,
    check,
    make_quiz,
    paper,
    parse_int,
    parse_shape,
)
from cnnviz.core.quiz.values import conv_cell, pool_cell
from tests.graph_strategies import graphs
from tests.quiz_torch import flop_macs, hooked_outputs, param_count
from tests.torch_graph import build


def q(answer, answer_type, also=()) -> Question:
    return Question("k", 0, "0", "?", answer, answer_type, "", also=also)


@pytest.mark.parametrize(
    "typed", ["16x28x28", "16×28×28", "(16, 28, 28)", "[16,28,28]", "16 28 28", "16*28*28"]
)
def test_shapes_are_read_leniently(typed):
    assert parse_shape(typed) == [16, 28, 28]
    assert check(q([16, 28, 28], "shape"), typed).correct


def test_a_shape_in_another_order_is_wrong():
    assert not check(q([16, 28, 28], "shape"), "28x28x16").correct
    assert not check(q([16, 28, 28], "shape"), "sixteen").correct


@pytest.mark.parametrize("typed", ["48120", "48,120", "48 120", "48_120", "48.12k"])
def test_integers_are_exact_whatever_the_grouping(typed):
    assert parse_int(typed) == 48120
    assert check(q(48120, "int"), typed).correct


@pytest.mark.parametrize("typed", ["48.1k", "48121", "48119", "4.8e4", ""])
def test_a_rounded_count_is_not_the_count(typed):
    assert not check(q(48120, "int"), typed).correct


def test_floats_within_1e_3_relative_or_two_decimals():
    assert check(q(0.96228, "float"), "0.96").correct  # 0.0023 away: two decimals
    assert not check(q(0.96228, "float"), "0.95").correct
    assert check(q(1234.5, "float"), "1235").correct  # 4e-4 relative
    assert not check(q(1234.5, "float"), "1237").correct
    assert check(q(-0.0822, "float"), "-0.082").correct
    assert not check(q(-0.0822, "float"), "0.082").correct


def test_fields_and_layers():
    assert check(q([5, 5], "field"), "5").correct
    assert check(q([5, 5], "field"), "5x5").correct
    assert not check(q([5, 7], "field"), "5").correct
    assert check(q([28, 28], "field", also=("all",)), "all").correct
    assert not check(q([5, 5], "field"), "all").correct
    assert check(q("7", "address", also=("9",)), "layer 9").correct
    assert not check(q("7", "address"), "3").correct


def forward(arch: Architecture, seed: int = 0):
    image = np.random.default_rng(seed).standard_normal(arch.input.as_tuple()).astype(np.float32)
    request = ForwardRequest(request_id=1, architecture=arch, image=image, seed=seed)
    return ForwardRunner().run(request)


@pytest.mark.parametrize("preset", ["lenet5", "resnetdigits", "interview", "inceptionsmall"])
def test_every_kind_appears_and_seeds_repeat(preset):
    arch = load_preset(preset)
    analysis, result = analyze(arch), forward(arch)
    quiz = make_quiz(analysis, 60, seed=3, level=2, result=result)
    assert len(quiz) == 60
    assert make_quiz(analysis, 60, seed=3, level=2, result=result) == quiz
    assert make_quiz(analysis, 60, seed=4, level=2, result=result) != quiz
    kinds = {question.kind for question in quiz}
    pools = any(i.layer.type.endswith("Pool2d") for i in analysis.layers)
    assert set(JSON_KINDS) - ({"pool_value"} if not pools else set()) <= kinds
    assert all(question.reveal and question.text for question in quiz)
    for question in quiz:
        typed = question.answer
        typed = "x".join(map(str, typed)) if isinstance(typed, list) else str(typed)
        assert check(question, typed).correct, question


def test_hard_questions_on_a_plain_stack_include_its_convolutions():
    arch = load_preset("lenet5")
    analysis = analyze(arch)
    quiz = make_quiz(analysis, 40, seed=0, level=3, result=forward(arch))
    asked = {question.layer for question in quiz}
    convs = {i.address for i in analysis.layers if i.layer.type == "Conv2d"}
    assert convs <= asked  # the first conv sits in the first third: still asked
    assert "conv_value" in {question.kind for question in quiz}
    for question in quiz:  # never "Tanh takes 6×28×28: what shape does it give?"
        if question.kind == "output_shape":
            info = analysis.at(question.layer)
            assert info.output_shape != info.input_shape, question.text


def test_a_field_reveal_shows_how_the_field_grew_from_the_input():
    analysis = analyze(load_preset("lenet5"))
    question = paper.receptive_field(analysis.at("4"), analysis, np.random.default_rng(0))
    assert question.answer == [14, 14]  # Tanh after conv 3: its input's field
    growth = question.reveal.splitlines()[-1]
    assert growth == (
        "grown by: input 1×1 → layer 0 Conv2d 5×5 → layer 2 AvgPool2d 6×6 → layer 3 Conv2d 14×14"
    )


def test_without_a_forward_there_are_no_value_questions():
    quiz = make_quiz(analyze(load_preset("lenet5")), 30, seed=0)
    assert len(quiz) == 30
    assert not {"conv_value", "pool_value"} & {question.kind for question in quiz}


def test_interview_preset_asks_dropout_and_batchnorm():
    analysis = analyze(load_preset("interview"))
    quiz = make_quiz(analysis, 40, seed=0, level=1, kinds=["dropout_eval", "batchnorm_params"])
    by_kind = {question.kind: question for question in quiz}
    assert by_kind["dropout_eval"].answer == 1 and "1/(1−p)" in by_kind["dropout_eval"].reveal
    counts = {question.answer for question in quiz if question.kind == "batchnorm_params"}
    assert counts <= {16, 17, 32, 33}  # 2C learned, 2C+1 buffers, C = 8 or 16
    bn = torch.nn.BatchNorm2d(8)
    assert sum(p.numel() for p in bn.parameters()) == 2 * 8
    assert sum(b.numel() for b in bn.buffers()) == 2 * 8 + 1


def test_largest_layer_is_the_module_with_most_parameters():
    arch = load_preset("resnetdigits")
    quiz = make_quiz(analyze(arch), 1, seed=0, kinds=["largest_layer"])
    from cnnviz.compute.model import build_model

    model = build_model(arch, 0)
    counts = {
        name: sum(p.numel() for p in m.parameters(recurse=False))
        for name, m in model.named_modules()
    }
    assert quiz[0].answer == max(counts, key=counts.get) == "10"


def test_unknown_kind_or_level_is_refused():
    analysis = analyze(load_preset("lenet5"))
    with pytest.raises(ValueError, match="level must be 1, 2 or 3"):
        make_quiz(analysis, 1, level=4)
    with pytest.raises(ValueError, match="unknown question kind"):
        make_quiz(analysis, 1, kinds=["nope"])


@pytest.mark.parametrize("preset", ["lenet5", "interview", "tinyvgg", "resnetdigits"])
@pytest.mark.parametrize("level", [1, 2, 3])
def test_what_if_sizes_equal_torch(preset, level):
    arch = load_preset(preset)
    analysis = analyze(arch)
    quiz = make_quiz(analysis, 8, seed=level, level=level, kinds=["what_if"])
    assert quiz
    changes = set()
    for question in quiz:
        info = analysis.layers[question.index]
        changed = info.layer.with_params(**question.extra["change"])
        module = _torch_module(changed, info.input_shape[0])
        y = module(torch.zeros(1, *info.input_shape))
        assert question.answer == list(y.shape[1:]), question
        changes |= set(question.extra["change"])
    if level == 3 and preset != "lenet5":  # lenet5's AvgPool2d has no dilation
        assert "dilation" in changes


def _torch_module(layer: Layer, in_channels: int):
    args = dict(layer.all_params())
    if layer.type == "Conv2d":
        return torch.nn.Conv2d(in_channels, **args)
    return getattr(torch.nn, layer.type)(**args)


def _check_worked_sums(analysis, result, quiz):
    """The numpy sum in the reveal equals the forward's (torch's) value."""
    acts = {a.index: a for a in result.layers}
    for question in quiz:
        act, info = acts[question.index], analysis.layers[question.index]
        if question.kind == "conv_value":
            weight, bias = result.filters[question.index]
            value, _ = conv_cell(
                act.input.astype(np.float64), weight, bias, info.layer, question.cell
            )
        else:
            o, r, c = question.cell
            value, _ = pool_cell(act.input[o].astype(np.float64), info.layer, r, c)
        assert value == pytest.approx(question.answer, rel=1e-4, abs=1e-5), question


def test_worked_sums_with_stride_dilation_groups_and_padding():
    layers = (
        Layer.make("Conv2d", out_channels=6, kernel_size=3, stride=2, padding=2, dilation=2),
        Layer.make("Conv2d", out_channels=4, kernel_size=(3, 2), groups=2, padding=(1, 0)),
        Layer.make("MaxPool2d", kernel_size=3, stride=2, padding=1, dilation=2),
        Layer.make("AvgPool2d", kernel_size=2, padding=1, count_include_pad=False),
        Layer.make("AvgPool2d", kernel_size=3, stride=1, padding=1),
    )
    arch = Architecture("worked", InputShape(3, 21, 19), layers)
    analysis, result = analyze(arch), forward(arch, 5)
    quiz = make_quiz(analysis, 40, seed=2, result=result, kinds=["conv_value", "pool_value"])
    assert {question.index for question in quiz} == {0, 1, 2, 3, 4}
    _check_worked_sums(analysis, result, quiz)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graphs(), st.integers(0, 1000), st.sampled_from([1, 2, 3]))
def test_generated_networks_answers_equal_an_independent_torch_model(graph, seed, level):
    arch = from_json(graph)
    analysis = analyze(arch)
    assume(analysis.valid)
    c, h, w = arch.input.as_tuple()
    x = torch.randn(1, c, h, w, generator=torch.Generator().manual_seed(seed))
    built = build(graph, x)
    assume(built.model is not None)
    result = forward(arch, seed)
    quiz = make_quiz(analysis, 15, seed=seed, level=level, result=result, kinds=KINDS)
    assert quiz
    with torch.no_grad():
        seen = hooked_outputs(built.model, x)
    for question in quiz:
        address = question.layer
        if question.kind in ("output_shape",):
            assert question.answer == list(seen[address].shape[1:]), question
        elif question.kind in ("params",):
            assert question.answer == param_count(built.model, address), question
        elif question.kind == "macs":
            macs = flop_macs(built.model, address, seen[address + ":in"])
            assert question.answer == macs, question
    _check_worked_sums(
        analysis, result, [x for x in quiz if x.kind in ("conv_value", "pool_value")]
    )
