"""`cnnviz shift`: the per-layer comparison as JSON and as a table, checked against torch."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from cnnviz.cli import main
from cnnviz.core.images import load_image, to_network_input
from cnnviz.core.preprocess import Preprocessing, declared
from cnnviz.core.presets import load_preset
from cnnviz.core.resources import resource_path
from tests import torch_graph

DIGIT = str(resource_path("samples", "digit_7.png"))


def _torch_lenet_outputs(dx: int):
    """LeNet-5's trained layers in plain torch on the digit and on it moved with torch.roll."""
    arch = load_preset("lenet5")
    model = torch_graph.build(arch.to_json()).model
    model.load_state_dict(load_file(resource_path("presets", "lenet5.safetensors")))
    prep = declared(arch.metadata) or Preprocessing()
    x = torch.from_numpy(to_network_input(load_image(DIGIT), 1, 32, 32, prep))[None]
    moved = torch.roll(x, dx, 3)
    moved[..., :dx] = 0  # what wrapped round (dx > 0)
    outs, a, b = [], x, moved
    with torch.no_grad():
        for module in model:
            a, b = module(a), module(b)
            outs.append((a, b))
    return outs


def test_json_rows_match_torch_for_lenet5_on_a_digit(capsys):
    assert main(["shift", "lenet5", DIGIT, "--pixels", "4", "--json"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert found["shift"] == {"dy": 0, "dx": 4, "fill": "zeros"}
    rows = found["layers"]
    assert [r["layer"] for r in rows] == ["input", *map(str, range(12))]
    outs = _torch_lenet_outputs(4)
    for row, (a, b) in zip(rows[1:], outs, strict=True):
        expected = float(torch.linalg.norm(b - a) / torch.linalg.norm(a))
        assert row["invariance_error"] == pytest.approx(expected, rel=1e-4)
    pools = [r for r in rows if r["pooling"]]
    assert [(r["layer"], r["stride"], r["cells"]) for r in pools] == [
        ("2", [2, 2], [0.0, 2.0]),
        ("5", [4, 4], [0.0, 1.0]),
    ]
    assert all(r["equivariance_error"] < 1e-6 for r in rows if r["stride"])
    pa, pb = (torch.softmax(t[0], 0) for t in outs[-1])
    assert found["prediction"]["before"]["class"] == int(pa.argmax()) == 7
    assert found["prediction"]["after"]["probability"] == pytest.approx(float(pb.max()), abs=1e-5)


def test_a_shift_that_is_not_whole_cells_says_so_in_the_table(capsys):
    assert main(["shift", "lenet5", DIGIT, "--pixels", "5", "--axis", "y"]) == 0
    out = capsys.readouterr().out
    assert "dy=5 dx=0" in out and "not a whole number of cells at this layer" in out
    assert "prediction: class 7" in out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--pixels", "40"], "--pixels 40: the input is only 32×32 pixels"),
        (["--pixels", "100"], "--pixels 100: at most 64 either way"),
        (["--pixels", "2", "--axis", "z"], "invalid choice: 'z'"),
    ],
)
def test_bad_input_is_one_line(capsys, argv, message):
    assert main(["shift", "lenet5", DIGIT, *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_numpy_and_the_table_agree_on_the_shift_direction(capsys):
    # Negative pixels move left: the JSON says dx = -3, and the input row's
    # invariance is the torch norm of the difference with the left-moved picture.
    assert main(["shift", "lenet5", DIGIT, "--pixels", "-3", "--json"]) == 0
    found = json.loads(capsys.readouterr().out)
    arch = load_preset("lenet5")
    prep = declared(arch.metadata) or Preprocessing()
    x = to_network_input(load_image(DIGIT), 1, 32, 32, prep)
    moved = np.zeros_like(x)
    moved[..., :-3] = x[..., 3:]
    expected = np.linalg.norm(moved - x) / np.linalg.norm(x)
    assert found["shift"]["dx"] == -3
    assert found["layers"][0]["invariance_error"] == pytest.approx(expected, rel=1e-5)
