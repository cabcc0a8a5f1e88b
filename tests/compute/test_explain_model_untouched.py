"""run_explain never changes the user's model: after every method (finished,
failed or cancelled) no hook is left on any module or globally, no module is
swapped, parameters keep their requires_grad and .grad, every module its
training flag, the weights and buffers their values, the user's own hooks stay,
and a forward afterwards equals one before."""

from __future__ import annotations

import copy

import pytest
import torch
from torch.nn.modules import module as module_globals

from cnnviz.compute.explain import run_explain
from cnnviz.compute.forward import Cancelled
from cnnviz.compute.runner import ComputeError
from cnnviz.core.explain_jobs import METHODS
from tests.compute.explain_cases import small_case
from tests.compute.explain_nets import BRANCHY

HOOK_DICTS = ("_forward_hooks", "_forward_pre_hooks", "_backward_hooks", "_backward_pre_hooks")
GLOBAL_HOOKS = [
    # torch's OrderedDicts of hooks for every module (forward, backward, pre, ...)
    name
    for name in dir(module_globals)
    if name.startswith("_global_") and name.endswith("hooks")
]


def snapshot(model: torch.nn.Module) -> dict:
    return {
        "modules": [(name, id(m)) for name, m in model.named_modules()],
        "hooks": [
            (name, *(tuple(getattr(m, d)) for d in HOOK_DICTS)) for name, m in model.named_modules()
        ],
        "global": [tuple(getattr(module_globals, name)) for name in GLOBAL_HOOKS]
        + [module_globals._global_is_full_backward_hook],
        "training": [m.training for m in model.modules()],
        "requires_grad": [p.requires_grad for p in model.parameters()],
        "grads": [None if p.grad is None else p.grad.clone() for p in model.parameters()],
        "state": {k: v.clone() for k, v in model.state_dict().items()},
    }


def assert_same(before: dict, after: dict) -> None:
    for key in ("modules", "hooks", "global", "training", "requires_grad"):
        assert after[key] == before[key], key
    for a, b in zip(after["grads"], before["grads"], strict=True):
        assert (a is None and b is None) or torch.equal(a, b)
    assert after["state"].keys() == before["state"].keys()
    for key, value in before["state"].items():
        assert torch.equal(after["state"][key], value), key


@pytest.fixture
def users_model():
    """A model as a user may hold it: partly in train mode, a frozen layer, a
    gradient left over from training, and a forward hook of the user's own."""
    case = small_case(BRANCHY)
    model = case.model
    model.train()
    model[1].eval()
    model[0].weight.requires_grad_(False)
    model[6].weight.grad = torch.full_like(model[6].weight, 0.5)
    calls = []
    model[0].register_forward_hook(lambda *args: calls.append(1))
    return case, model, calls


@pytest.mark.parametrize("method", METHODS)
def test_every_method_leaves_the_model_as_it_was(users_model, method):
    case, model, calls = users_model
    pristine = copy.deepcopy(model).eval()
    before = snapshot(model)
    request = case.request(method, steps=8, window=8, stride=6)
    explanation = run_explain(model, case.analysis, request)
    assert explanation.map.shape == case.image.shape[1:]
    assert_same(before, snapshot(model))
    assert calls, "the user's own hook ran: the forward went through the modules"
    model.eval()
    with torch.no_grad():
        assert torch.equal(model(case.x), pristine(case.x))


def test_a_cancelled_or_failed_method_leaves_it_too(users_model):
    case, model, _ = users_model
    before = snapshot(model)
    answers = iter([False, False, True])
    with pytest.raises(Cancelled):
        run_explain(model, case.analysis, case.request("occlusion", window=4, stride=1),
                    should_cancel=lambda: next(answers))  # fmt: skip
    assert_same(before, snapshot(model))
    with pytest.raises(ComputeError, match="class 99 is not one of the network's 7 classes"):
        run_explain(model, case.analysis, case.request("integrated-gradients", target=99))
    assert_same(before, snapshot(model))
