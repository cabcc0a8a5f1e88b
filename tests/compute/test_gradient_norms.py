"""The gradient view's norms against autograd on independent torch models, the user's
model left alone, the initialisations, and one-line refusals."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from cnnviz.compute.gradient_norms import (
    GradientError,
    digits_batch,
    gradient_norms,
    model_copy,
    reinitialise,
    run_gradients,
)
from cnnviz.compute.model import build_model
from cnnviz.core.architecture import from_json
from cnnviz.core.explain_jobs import GradientRequest


def conv(out, k=3, **more):
    return {"type": "Conv2d", "out_channels": out, "kernel_size": k, **more}


BLOCK_NET = from_json(
    {
        "format": "cnnviz-architecture",
        "version": 2,
        "name": "blocks",
        "input": {"channels": 1, "height": 10, "width": 10},
        "layers": [
            conv(4, padding=1),
            {"type": "Tanh"},
            {
                "type": "Residual",
                "body": [conv(4, padding=1), {"type": "Sigmoid"}, conv(4, 1)],
                "shortcut": [],
            },
            {"type": "ReLU"},
            {"type": "MaxPool2d", "kernel_size": 2},
            {"type": "Flatten"},
            {"type": "Linear", "out_features": 10},
        ],
    }
)


class Reference(nn.Module):
    """BLOCK_NET written by hand in plain torch, keeping every output's gradient."""

    def __init__(self):
        super().__init__()
        self.c0 = nn.Conv2d(1, 4, 3, padding=1)
        self.body0 = nn.Conv2d(4, 4, 3, padding=1)
        self.body2 = nn.Conv2d(4, 4, 1)
        self.fc = nn.Linear(4 * 5 * 5, 10)

    def load_from(self, state):
        pairs = {"c0": "0", "body0": "2.body.0", "body2": "2.body.2", "fc": "6"}
        for mine, theirs in pairs.items():
            getattr(self, mine).weight.data.copy_(state[f"{theirs}.weight"])
            getattr(self, mine).bias.data.copy_(state[f"{theirs}.bias"])

    def forward(self, x):
        kept = []

        def keep(t):
            t.retain_grad()
            kept.append(t)
            return t

        a0 = keep(self.c0(x))
        a1 = keep(torch.tanh(a0))
        b0 = keep(self.body0(a1))
        b1 = keep(torch.sigmoid(b0))
        b2 = keep(self.body2(b1))
        a2 = keep(b2 + a1)  # the block's own entry comes before its body's
        kept.insert(2, kept.pop())
        a3 = keep(torch.relu(a2))
        a4 = keep(F.max_pool2d(a3, 2))
        a5 = keep(a4.flatten(1))
        return keep(self.fc(a5)), kept


def reference_norms(arch, state, x, target):
    ref = Reference()
    ref.load_from(state)
    logits, kept = ref(x)
    labels = logits.argmax(1) if target is None else torch.full((x.shape[0],), target)
    F.cross_entropy(logits, labels).backward()
    acts = [float(torch.linalg.vector_norm(t.grad.double())) for t in kept]
    layers = {"0": ref.c0, "2.body.0": ref.body0, "2.body.2": ref.body2, "6": ref.fc}
    return acts, {
        k: float(torch.linalg.vector_norm(m.weight.grad.double())) for k, m in layers.items()
    }


@pytest.mark.parametrize("target", [None, 3])
def test_norms_of_a_block_network_equal_autograd_on_an_independent_model(target):
    image = np.random.default_rng(1).random((1, 10, 10), dtype=np.float32)
    request = GradientRequest(1, BLOCK_NET, image, target=target, seed=5)
    norms = run_gradients(request)
    state = build_model(BLOCK_NET, 5).state_dict()
    acts, weights = reference_norms(BLOCK_NET, state, torch.from_numpy(image)[None], target)
    assert norms.addresses == (
        "0",
        "1",
        "2",
        "2.body.0",
        "2.body.1",
        "2.body.2",
        "3",
        "4",
        "5",
        "6",
    )
    assert norms.activation_grad == tuple(acts)  # exactly
    expected = {a: weights.get(a) for a in norms.addresses}
    assert dict(zip(norms.addresses, norms.weight_grad, strict=True)) == expected
    assert all(v > 0 for v in norms.activation_grad)


def test_digits_batch_norms_use_the_digits_labels():
    request = GradientRequest(2, BLOCK_NET, None, seed=5, batch=8)
    norms = run_gradients(request)
    x, labels = digits_batch(8, (1, 10, 10))
    ref = Reference()
    ref.load_from(build_model(BLOCK_NET, 5).state_dict())
    logits, kept = ref(x)
    loss = F.cross_entropy(logits, labels)
    loss.backward()
    assert norms.loss == pytest.approx(float(loss.detach()), rel=1e-6)
    assert norms.activation_grad == tuple(
        float(torch.linalg.vector_norm(t.grad.double())) for t in kept
    )
    assert norms.request_id == 2
    assert len(set(labels.tolist())) > 3  # a real mix of digits, not one class


def test_the_users_model_is_never_touched():
    model = build_model(BLOCK_NET, 0)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    model.train()
    request = GradientRequest(1, BLOCK_NET, None, init="he", batch=4)
    norms = run_gradients(request, current=model)
    assert model.training
    assert all(p.grad is None for p in model.parameters())
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert not any(m._forward_hooks for m in model.modules())
    # The copy of the current model with default init computes what the model itself gives.
    default = run_gradients(GradientRequest(1, BLOCK_NET, None, batch=4), current=model)
    fresh = run_gradients(GradientRequest(1, BLOCK_NET, None, batch=4, seed=0))
    assert default.activation_grad == fresh.activation_grad
    assert norms.activation_grad != default.activation_grad


@pytest.mark.parametrize("init", ["he", "xavier"])
def test_initialisations_draw_as_torch_does(init):
    model = build_model(BLOCK_NET, 0)
    reinitialise(model, init, seed=7)
    generator = torch.Generator().manual_seed(7)
    for key in ("0", "2.body.0", "2.body.2", "6"):
        weight = model.get_submodule(key).weight
        expected = torch.empty_like(weight)
        if init == "he":
            nn.init.kaiming_normal_(
                expected, mode="fan_in", nonlinearity="relu", generator=generator
            )
        else:
            nn.init.xavier_normal_(expected, generator=generator)
        assert torch.equal(weight, expected)
        assert not model.get_submodule(key).bias.any()


def test_an_image_of_another_size_is_fitted_to_the_network():
    norms = run_gradients(GradientRequest(1, BLOCK_NET, np.ones((3, 32, 32), np.float32)))
    assert len(norms.activation_grad) == 10


@pytest.mark.parametrize(
    ("request_changes", "words"),
    [
        ({"target": 12}, "there is no class 12"),
        ({"init": "orthogonal"}, "unknown initialisation"),
        ({"image": None, "batch": 0}, "the batch must hold"),
    ],
)
def test_bad_requests_get_one_line(request_changes, words):
    fields = {"image": np.zeros((1, 10, 10), np.float32), **request_changes}
    with pytest.raises(GradientError, match=words) as info:
        run_gradients(GradientRequest(1, BLOCK_NET, **fields))
    assert "\n" not in str(info.value)


def test_a_network_without_class_scores_is_refused_in_one_line():
    arch = from_json(
        {
            "format": "cnnviz-architecture",
            "version": 1,
            "name": "maps",
            "input": {"channels": 1, "height": 8, "width": 8},
            "layers": [conv(2)],
        }
    )
    model = model_copy(GradientRequest(1, arch, None))
    with pytest.raises(GradientError, match="not a vector of class scores"):
        gradient_norms(model, GradientRequest(1, arch, np.zeros((1, 8, 8), np.float32)))


def test_a_variant_starts_from_the_same_weights_as_the_original():
    # Per-layer seeding: the sigmoid and residual variants differ only in what they change.
    from cnnviz.core.gradient_configs import deep_stack

    relu = build_model(deep_stack("ReLU"), 3).state_dict()
    sigmoid = build_model(deep_stack("Sigmoid"), 3).state_dict()
    assert relu.keys() == sigmoid.keys()
    assert all(torch.equal(relu[k], sigmoid[k]) for k in relu)
    residual = list(build_model(deep_stack("ReLU", residual=True), 3).state_dict().values())
    assert all(torch.equal(a, b) for a, b in zip(relu.values(), residual, strict=True))
