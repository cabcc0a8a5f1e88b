"""compute.translation: both forwards and every layer's errors, against torch.

The oracle is an independent torch model (tests/torch_graph.py) holding the
same weights, fed an input shifted with torch ops; the interiors are derived by
hand from each layer's kernel and stride, not from cnnviz's receptive fields.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from cnnviz.compute.model import build_model
from cnnviz.compute.translation import shifted_forwards
from cnnviz.core.analysis import analyze
from cnnviz.core.architecture import from_json
from cnnviz.core.images import load_image, to_network_input
from cnnviz.core.preprocess import Preprocessing, declared
from cnnviz.core.presets import load_preset
from cnnviz.core.resources import resource_path
from tests import torch_graph


def torch_shift(x: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """Zero-pad on the side the picture moves away from, then crop: a shift with zeros."""
    h, w = x.shape[-2:]
    padded = torch.nn.functional.pad(x, (max(dx, 0), max(-dx, 0), max(dy, 0), max(-dy, 0)))
    top, left = max(-dy, 0), max(-dx, 0)
    return padded[..., top : top + h, left : left + w]


def _graph(layers, size=16):
    shape = {"channels": 1, "height": size, "width": size}
    return {"format": "cnnviz-architecture", "version": 1, "name": "t", "input": shape,
            "layers": layers}  # fmt: skip


def _oracle(graph, model):
    """The independent torch model with cnnviz's weights, and its per-layer outputs."""
    built = torch_graph.build(graph)
    built.model.load_state_dict(model.state_dict())

    def outputs(x):
        with torch.no_grad():
            result = []
            for module in built.model:
                x = module(x)
                result.append(x)
            return result

    return outputs


def _norm_error(moved: torch.Tensor, reference: torch.Tensor) -> float:
    return float(torch.linalg.norm(moved.double() - reference.double()) / torch.linalg.norm(
        reference.double()
    ))  # fmt: skip


# Conv k3 -> ReLU -> MaxPool 2 -> Conv k3, no padding: field of cell i is
# [J*i, J*i + R) with (R, J) per layer below.
VALID = [
    {"type": "Conv2d", "out_channels": 4, "kernel_size": 3},
    {"type": "ReLU"},
    {"type": "MaxPool2d", "kernel_size": 2},
    {"type": "Conv2d", "out_channels": 3, "kernel_size": 3},
]
FIELDS = [(3, 1), (3, 1), (4, 2), (8, 2)]


def _interior(size, n, field, jump, d):
    """Cells i of an n-cell axis whose field stays in the image before and after d
    pixels, with i + d/jump a cell: the hand-derived interior."""
    c = d // jump
    return [i for i in range(n) if jump * i + field + max(d, 0) <= size
            and jump * i + min(d, 0) >= 0 and 0 <= i + c < n]  # fmt: skip


@pytest.mark.parametrize("dy, dx", [(0, 2), (-2, 0), (4, -2)])
def test_equivariance_is_exact_on_the_hand_derived_interior(dy, dx):
    graph = _graph(VALID)
    arch = from_json(graph)
    model = build_model(arch, seed=1).eval()
    image = np.random.default_rng(2).normal(size=(1, 16, 16)).astype(np.float32)
    found = shifted_forwards(model, analyze(arch), image, (dy, dx))
    outputs = _oracle(graph, model)
    x = torch.from_numpy(image)[None]
    before, after = outputs(x), outputs(torch_shift(x, dy, dx))
    for row, a, b, (field, jump) in zip(
        found.report.layers[1:], before, after, FIELDS, strict=True
    ):
        n = a.shape[-1]
        rows = _interior(16, n, field, jump, dy)
        cols = _interior(16, n, field, jump, dx)
        assert row.stride == (jump, jump) and row.compared == len(rows) * len(cols)
        r, c = torch.tensor(rows), torch.tensor(cols)
        reference = a[0][:, r[:, None], c[None, :]]
        moved = b[0][:, (r + dy // jump)[:, None], (c + dx // jump)[None, :]]
        assert row.equivariance == pytest.approx(_norm_error(moved, reference), abs=1e-6)
        assert row.equivariance < 1e-6
        assert row.invariance == pytest.approx(_norm_error(b, a), rel=1e-5)


PADDED = [
    {"type": "Conv2d", "out_channels": 4, "kernel_size": 3, "padding": 1},
    {"type": "Tanh"},
    {"type": "AvgPool2d", "kernel_size": 2},
    {"type": "Conv2d", "out_channels": 3, "kernel_size": 3, "padding": 1},
]


def test_with_padding_only_the_interior_is_exact_not_the_whole_overlap():
    # Padding (with biases) makes the cells near a border differ once the picture
    # moves: the whole overlap of the two maps is not equivariant, the interior is.
    graph = _graph(PADDED)
    arch = from_json(graph)
    model = build_model(arch, seed=1).eval()
    image = np.random.default_rng(2).normal(size=(1, 16, 16)).astype(np.float32)
    found = shifted_forwards(model, analyze(arch), image, (0, 2))
    outputs = _oracle(graph, model)
    x = torch.from_numpy(image)[None]
    a, b = outputs(x)[-1], outputs(torch_shift(x, 0, 2))[-1]
    assert _norm_error(b[..., 1:], a[..., :-1]) > 1e-2  # torch alone: the whole overlap
    last = found.report.layers[-1]
    # Cell i sees pixels [2i - 3, 2i + 5) (k3 p1, pool 2, k3 p1): rows 2..5 lie in
    # the 16 px image, columns 2..4 also once moved 2 px right.
    assert last.compared == 4 * 3 and last.equivariance < 1e-6
    rows, cols = torch.arange(2, 6), torch.arange(2, 5)
    reference = a[0][:, rows[:, None], cols[None, :]]
    moved = b[0][:, rows[:, None], (cols + 1)[None, :]]
    assert _norm_error(moved, reference) < 1e-6


def test_a_padded_stack_on_an_image_zero_near_its_borders_is_exactly_equivariant():
    layers = [
        {"type": "Conv2d", "out_channels": 4, "kernel_size": 3, "padding": 1, "bias": False},
        {"type": "ReLU"},
        {"type": "MaxPool2d", "kernel_size": 2},
        {"type": "Conv2d", "out_channels": 5, "kernel_size": 3, "padding": 1, "stride": 2,
         "bias": False},
        {"type": "ReLU"},
    ]  # fmt: skip
    graph = _graph(layers, size=24)
    arch = from_json(graph)
    model = build_model(arch, seed=3).eval()
    image = np.zeros((1, 24, 24), np.float32)
    image[0, 8:16, 8:16] = np.random.default_rng(4).uniform(0.2, 1, size=(8, 8))
    found = shifted_forwards(model, analyze(arch), image, (0, 4))
    outputs = _oracle(graph, model)
    x = torch.from_numpy(image)[None]
    last_a, last_b = outputs(x)[-1], outputs(torch_shift(x, 0, 4))[-1]
    # Stride 4 at the end: the whole map moves one cell, exactly (torch alone).
    assert torch.equal(last_b[..., 1:], last_a[..., :-1]) and last_a.abs().sum() > 0
    for row in found.report.layers:
        assert row.equivariance is not None and row.equivariance < 1e-6
    assert found.report.layers[-1].cells == (0.0, 1.0)


def _digit(arch, name="digit_3.png"):
    prep = declared(arch.metadata) or Preprocessing()
    c, h, w = arch.input.as_tuple()
    return to_network_input(load_image(resource_path("samples", name)), c, h, w, prep)


def test_lenet5_invariance_and_prediction_match_an_independent_torch_model():
    arch = load_preset("lenet5")
    model = build_model(arch, seed=0)
    model.load_state_dict(load_file(resource_path("presets", "lenet5.safetensors")))
    model.eval()
    image = _digit(arch)
    found = shifted_forwards(model, analyze(arch), image, (0, 4))
    graph = arch.to_json()
    outputs = _oracle(graph, model)
    x = torch.from_numpy(image)[None]
    before, after = outputs(x), outputs(torch_shift(x, 0, 4))
    rows = found.report.layers[1:]
    assert [r.address for r in rows] == [str(i) for i in range(len(before))]
    for row, a, b in zip(rows, before, after, strict=True):
        assert row.invariance == pytest.approx(_norm_error(b, a), rel=1e-4)
    pa, pb = (torch.softmax(t[-1][0], 0) for t in (before, after))
    p = found.report.prediction
    assert p.before == int(pa.argmax()) == 3 and p.after == int(pb.argmax())
    assert p.before_probability == pytest.approx(float(pa.max()), abs=1e-5)
    assert p.change == pytest.approx(float(pb[p.before] - pa[p.before]), abs=1e-5)
    # After the second pooling (stride 4) a 4 px shift is one whole cell.
    assert rows[5].pooling and rows[5].cells == (0.0, 1.0) and rows[5].equivariance < 1e-6


def test_the_model_keeps_its_training_mode():
    model = build_model(from_json(_graph(VALID)), seed=0).train()
    shifted_forwards(
        model, analyze(from_json(_graph(VALID))), np.zeros((1, 16, 16), np.float32), (0, 1)
    )
    assert model.training
