"""Why non-linearity: the activation-free stack is one linear map (checked against torch)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from cnnviz.cli import main
from cnnviz.commands.collapse import compare
from cnnviz.core.presets import load_any, weights_path

LAYERS = [
    {"type": "Flatten"},
    {"type": "Linear", "out_features": 7},
    {"type": "ReLU"},
    {"type": "Linear", "out_features": 5, "bias": False},
    {"type": "Tanh"},
    {"type": "Dropout", "p": 0.5},
    {"type": "Linear", "out_features": 3},
]


def _arch(tmp_path, layers=LAYERS):
    path = tmp_path / "mlp.json"
    doc = {"format": "cnnviz-architecture", "version": 1, "name": "MLP",
           "input": {"channels": 1, "height": 2, "width": 3}, "layers": layers}  # fmt: skip
    path.write_text(json.dumps(doc))
    return path, load_any(path)


def test_a_linear_stack_through_the_command_is_one_map(tmp_path):
    _, arch = _arch(tmp_path)
    found = compare(arch, seed=1, samples=8)
    assert found["weight_shape"] == [3, 6] and found["removed"] == ["ReLU", "Tanh"]
    assert found["random_without_activations"] < 1e-10
    assert found["random_with_activations"] > 1e-4


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err
    return err


def test_a_linear_stack_prints_the_shape_and_differences(tmp_path, capsys):
    path, _ = _arch(tmp_path)
    assert main(["collapse", str(path)]) == 0
    out = capsys.readouterr().out
    assert "one linear map x ↦ Wx + b: W is 3×6, b 3" in out
    assert "activations removed: ReLU, Tanh" in out


def _lenet_reference():
    """LeNet-5 with its trained weights, built by torch alone, with and without Tanh."""
    from safetensors.torch import load_file

    from cnnviz.core.resources import resource_path
    from tests.torch_graph import build

    folder = resource_path("presets")
    model = build(json.loads((folder / "lenet5.json").read_text())).model
    model.load_state_dict(load_file(folder / "lenet5.safetensors"))
    model = model.double().eval()
    linear = torch.nn.Sequential(*(torch.nn.Identity() if isinstance(m, torch.nn.Tanh) else m
                                   for m in model))  # fmt: skip
    return model, linear


def test_lenet5_with_its_weights_against_torch():
    arch = load_any("lenet5")
    image = np.random.default_rng(9).random((1, 32, 32)).astype(np.float32)
    weights = str(weights_path(arch))
    found = compare(arch, seed=4, samples=5, weights=weights, image=image)
    assert found["weight_shape"] == [10, 1024] and found["removed"] == ["Tanh"] * 4

    model, linear = _lenet_reference()
    zero = torch.zeros(1, 1, 32, 32, dtype=torch.float64)
    w = torch.autograd.functional.jacobian(lambda x: linear(x).flatten(), zero).reshape(10, -1)
    x = torch.from_numpy(np.random.default_rng(4).normal(size=(5, 1, 32, 32)))
    with torch.no_grad():
        mapped = x.flatten(1) @ w.T + linear(zero)
        expected = (mapped - model(x)).abs().max().item()
        assert (mapped - linear(x)).abs().max().item() < 1e-9  # the map torch's way
    assert found["random_with_activations"] == pytest.approx(expected, rel=1e-4)
    assert found["random_without_activations"] < 1e-9
    assert found["image_without_activations"] < 1e-9 and found["image_with_activations"] > 1


def test_a_conv_net_from_the_command_line(capsys):
    assert main(["collapse", "lenet5", "--samples", "3",
                 "--image", "resources/samples/digit_3.png"]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert "activations removed: Tanh ×4" in out
    assert "lenet5.safetensors" in out
    assert "W is 10×1024, b 10" in out
    assert "on 3 random inputs: max |Wx + b − network without activations| = " in out
    assert "on digit_3.png:" in out


def test_max_pooling_is_refused_until_replaced(capsys):
    assert main(["collapse", "interview", "--samples", "2"]) == 2
    err = _one_line_error(capsys)
    assert "MaxPool2d at layer 3 is not linear (it keeps the largest of each window)" in err
    assert "--avg-pool" in err
    assert main(["collapse", "interview", "--samples", "2", "--avg-pool"]) == 0
    out = capsys.readouterr().out
    assert "max pools replaced by average pools: 2" in out and "W is 10×784" in out


def test_a_map_too_big_is_refused_with_its_size(capsys):
    assert main(["collapse", "resnet18", "--avg-pool"]) == 2
    assert "W would be 1000×150528" in _one_line_error(capsys)


def test_a_bad_image_is_one_line(tmp_path, capsys):
    bad = tmp_path / "x.png"
    bad.write_text("not an image")
    assert main(["collapse", "lenet5", "--image", str(bad)]) == 2
    line = _one_line_error(capsys)
    assert line.count("x.png") == 1  # named once, as run names it ("x.png: x.png: ..." before)
