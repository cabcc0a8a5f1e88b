"""`cnnviz quiz`: every answer of --json equals torch's, seeds repeat, the
terminal session scores and ends cleanly, bad input is one line with status 2."""

from __future__ import annotations

import io
import json

import pytest
import torch

from cnnviz.cli import main
from cnnviz.commands.quiz import ask, quiz_input, quiz_weights
from cnnviz.compute.model import build_model
from cnnviz.compute.weights import load_weights
from cnnviz.core.analysis import analyze
from cnnviz.core.presets import load_preset
from cnnviz.core.quiz import JSON_KINDS
from tests.quiz_torch import flop_macs, gradient_box, hooked_outputs, param_count


def quiz_json(capsys, *args) -> list[dict]:
    code = main(["quiz", *args, "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out)


def torch_model(preset: str, seed: int):
    arch = load_preset(preset)
    model = build_model(arch, seed).eval()
    weights = quiz_weights(preset, arch)
    if weights:
        load_weights(model, weights)
    image, _ = quiz_input(arch, seed)
    with torch.no_grad():
        seen = hooked_outputs(model, torch.from_numpy(image)[None])
    return arch, model, seen


def assert_equals_torch(preset: str, seed: int, questions: list[dict]) -> set[str]:
    arch, model, seen = torch_model(preset, seed)
    analysis = analyze(arch)
    input_hw = arch.input.as_tuple()[1:]
    for q in questions:
        address, answer = q["layer"], q["answer"]
        if q["kind"] == "output_shape":
            assert answer == list(seen[address].shape[1:]), q
        elif q["kind"] == "params":
            assert answer == param_count(model, address), q
        elif q["kind"] == "macs":
            assert answer == flop_macs(model, address, seen[address + ":in"]), q
        elif q["kind"] == "receptive_field":
            info = analysis.at(address)
            _, h, w = info.output_shape
            box = gradient_box(model, address, arch.input.as_tuple(), h // 2, w // 2)
            assert box == info.receptive_field.box(h // 2, w // 2, input_hw), q
            assert answer == list(info.receptive_field.size) or answer == list(input_hw), q
        else:  # conv_value, pool_value: the forward's own value at that cell
            assert q["input"].startswith("sample digit_"), q
            expected = float(seen[address][0][tuple(q["cell"])])
            assert answer == pytest.approx(expected, rel=1e-5, abs=1e-6), q
    return {q["kind"] for q in questions}


def test_lenet5_seed_1_twenty_answers_equal_torch(capsys):
    questions = quiz_json(capsys, "lenet5", "--seed", "1", "--count", "20")
    assert len(questions) == 20
    assert all(set(q) >= {"kind", "layer", "question", "answer"} for q in questions)
    assert {q["kind"] for q in questions} <= set(JSON_KINDS)
    kinds = assert_equals_torch("lenet5", 1, questions)
    assert len(kinds) >= 5  # a mix, not twenty of one kind


@pytest.mark.parametrize("level", [1, 2, 3])
def test_resnet_digits_answers_equal_torch_at_every_level(capsys, level):
    questions = quiz_json(
        capsys, "resnet_digits", "--seed", "4", "--count", "25", "--level", str(level)
    )
    assert len(questions) == 25
    assert_equals_torch("resnetdigits", 4, questions)
    inside = [q for q in questions if "." in q["layer"]]
    assert (not inside) if level == 1 else inside  # blocks from level 2 on


def test_same_seed_same_questions_another_seed_others(capsys):
    first = quiz_json(capsys, "interview", "--seed", "7", "--count", "12")
    again = quiz_json(capsys, "interview", "--seed", "7", "--count", "12")
    other = quiz_json(capsys, "interview", "--seed", "8", "--count", "12")
    assert first == again
    assert first != other


def test_terminal_session_checks_reveals_and_scores(capsys):
    code = main(["quiz", "lenet5", "--count", "1", "--level", "1", "--json"])
    assert code == 0
    answer = json.loads(capsys.readouterr().out)[0]["answer"]
    from cnnviz.core.analysis import analyze as _analyze
    from cnnviz.core.quiz import make_quiz

    quiz = make_quiz(_analyze(load_preset("lenet5")), 2, 0, 1)
    typed = iter([_typed(quiz[0].answer), "wrong"])
    out = io.StringIO()
    assert ask(quiz, "LeNet-5", read=lambda prompt: next(typed), out=out) == 0
    text = out.getvalue()
    assert "right: the answer is" in text and "wrong (" in text
    assert quiz[0].reveal.splitlines()[0] in text
    assert text.rstrip().endswith("score: 1/2")
    assert answer is not None


def _typed(answer) -> str:
    return "x".join(map(str, answer)) if isinstance(answer, list) else f"{answer}"


def test_end_of_input_stops_cleanly_with_the_score_so_far():
    from cnnviz.core.quiz import make_quiz

    quiz = make_quiz(analyze(load_preset("lenet5")), 3, 0, 1)

    def read(prompt):
        raise EOFError

    out = io.StringIO()
    assert ask(quiz, "LeNet-5", read=read, out=out) == 0
    assert out.getvalue().rstrip().endswith("score: 0/0")


@pytest.mark.parametrize(
    "args, words",
    [
        (["nosuchnet"], "unknown preset"),
        (["lenet5", "--count", "0"], "--count must be 1 to 500"),
        (["lenet5", "--level", "4"], "invalid choice"),
        (["lenet5", "--seed", "x"], "invalid int value"),
    ],
)
def test_bad_input_is_one_line_and_status_2(capsys, args, words):
    code = main(["quiz", *args])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and words in err and err.startswith("cnnviz quiz")
