"""Why non-linearity: the activation-free stack is one linear map (checked against torch)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from cnnviz.cli import main
from cnnviz.commands.collapse import compare
from cnnviz.core.linear_collapse import CollapseError, collapse, collapse_maps
from cnnviz.core.presets import load_any

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


def test_collapsed_map_equals_an_independent_activation_free_torch_stack(tmp_path):
    _, arch = _arch(tmp_path)
    rng = np.random.default_rng(3)
    shapes = {"1": (7, 6), "3": (5, 7), "6": (3, 5)}
    state = {f"{k}.weight": rng.normal(size=s) for k, s in shapes.items()}
    state |= {"1.bias": rng.normal(size=7), "6.bias": rng.normal(size=3)}  # layer 3: bias=False
    collapsed = collapse(arch, state)
    assert collapsed.weight.shape == (3, 6) and collapsed.bias.shape == (3,)
    assert collapsed.removed == ("ReLU", "Tanh")

    linear = torch.nn.Sequential(
        torch.nn.Flatten(), torch.nn.Linear(6, 7), torch.nn.Linear(7, 5, bias=False),
        torch.nn.Linear(5, 3),
    ).double()  # fmt: skip
    with torch.no_grad():
        for module, key in zip(linear[1:], shapes, strict=True):
            module.weight.copy_(torch.from_numpy(state[f"{key}.weight"]))
            if module.bias is not None:
                module.bias.copy_(torch.from_numpy(state[f"{key}.bias"]))
        x = torch.from_numpy(rng.normal(size=(20, 1, 2, 3)))
        expected = linear(x).numpy()
        with_relu = torch.nn.Sequential(linear[0], linear[1], torch.nn.ReLU(), *linear[2:])(x)
    np.testing.assert_allclose(collapsed.apply(x.flatten(1).numpy()), expected, atol=1e-12)
    assert np.abs(collapsed.apply(x.flatten(1).numpy()) - with_relu.numpy()).max() > 1e-3


def test_collapse_maps_is_the_matrix_product():
    rng = np.random.default_rng(0)
    w1, b1, w2, b2 = (
        rng.normal(size=(4, 3)),
        rng.normal(size=4),
        rng.normal(size=(2, 4)),
        rng.normal(size=2),
    )
    w, b = collapse_maps([(w1, b1), (w2, b2)])
    np.testing.assert_allclose(w, w2 @ w1)
    np.testing.assert_allclose(b, w2 @ b1 + b2)


def test_compare_on_the_built_model(tmp_path):
    _, arch = _arch(tmp_path)
    found = compare(arch, seed=1, samples=8)
    assert found["weight_shape"] == [3, 6] and found["linear_layers"] == ["1", "3", "6"]
    assert found["max_diff_without_activations"] < 1e-10
    assert found["max_diff_with_activations"] > 1e-4


def test_conv_nets_are_refused_in_one_line(tmp_path, capsys):
    conv = [
        {"type": "Conv2d", "out_channels": 2, "kernel_size": 1},
        {"type": "Flatten"},
        {"type": "Linear", "out_features": 2},
    ]
    path, arch = _arch(tmp_path, conv)
    with pytest.raises(CollapseError, match="layer 0 is Conv2d"):
        collapse(arch, {})
    assert main(["collapse", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "layer 0 is Conv2d" in err and "Traceback" not in err


def test_command_prints_shape_and_differences(tmp_path, capsys):
    path, _ = _arch(tmp_path)
    assert main(["collapse", str(path)]) == 0
    out = capsys.readouterr().out
    assert "3 Linear layers collapse into one map: W (3, 6), b (3,)" in out
    assert "activations removed: ReLU, Tanh" in out
