"""The direct per-layer calls give exactly what the modules give, and step aside when they must."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from cnnviz.compute.forward import record_forward
from cnnviz.compute.layer_calls import layer_calls

MODULES = {
    "conv": lambda: nn.Conv2d(3, 4, 3),
    "conv strided dilated padded": lambda: nn.Conv2d(3, 6, (3, 2), (2, 1), (1, 2), (2, 1)),
    "conv grouped without bias": lambda: nn.Conv2d(3, 6, 3, groups=3, bias=False),
    "conv same": lambda: nn.Conv2d(3, 2, 4, padding="same"),
    "conv reflect": lambda: nn.Conv2d(3, 2, 3, padding=1, padding_mode="reflect"),
    "conv circular": lambda: nn.Conv2d(3, 2, 3, padding=2, padding_mode="circular"),
    "batch norm": lambda: nn.BatchNorm2d(3),
    "batch norm without affine": lambda: nn.BatchNorm2d(3, affine=False, eps=1e-3),
    "batch norm untracked": lambda: nn.BatchNorm2d(3, track_running_stats=False),
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "leaky relu": lambda: nn.LeakyReLU(0.2),
    "max pool": lambda: nn.MaxPool2d(2),
    "max pool ceil dilated": lambda: nn.MaxPool2d(3, 2, 1, dilation=2, ceil_mode=True),
    "avg pool": lambda: nn.AvgPool2d(3, 2, 1, ceil_mode=True, count_include_pad=False),
    "avg pool divisor": lambda: nn.AvgPool2d(2, divisor_override=3),
    "dropout": lambda: nn.Dropout(0.5),
    "dropout2d": lambda: nn.Dropout2d(0.3),
    "flatten": nn.Flatten,
    "flatten part": lambda: nn.Flatten(2, 3),
    "lrn": lambda: nn.LocalResponseNorm(2),
}


def with_random_state(module: nn.Module, seed: int) -> nn.Module:
    """Every parameter and running statistic random, so no layer is an identity."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in module.state_dict().items():
            if tensor.is_floating_point():
                values = torch.randn(tensor.shape, generator=gen)
                tensor.copy_(values.abs() + 0.5 if name.endswith("running_var") else values)
    return module


def run_both(module: nn.Module, x: torch.Tensor, seed: int = 5):
    """The module's own output and the layer call's, from the same random state."""
    call = layer_calls(nn.Sequential(module))[0]
    with torch.no_grad():
        torch.manual_seed(seed)
        expected = module(x.clone())
        torch.manual_seed(seed)
        got = call(x.clone())
    return expected, got


@pytest.mark.parametrize("training", [False, True], ids=["eval", "train"])
@pytest.mark.parametrize("name", list(MODULES))
def test_each_call_gives_what_the_module_gives(name, training):
    module = with_random_state(MODULES[name](), seed=len(name)).train(training)
    x = torch.randn(2, 3, 9, 8, generator=torch.Generator().manual_seed(1))
    expected, got = run_both(module, x)
    torch.testing.assert_close(got, expected, rtol=0, atol=0)


def test_linear_call_gives_what_the_module_gives():
    module = with_random_state(nn.Linear(7, 3), seed=2).eval()
    expected, got = run_both(module, torch.randn(4, 7))
    torch.testing.assert_close(got, expected, rtol=0, atol=0)


def test_train_mode_batch_norm_updates_running_statistics_as_the_module_does():
    module = with_random_state(nn.BatchNorm2d(3), seed=3).train()
    twin = with_random_state(nn.BatchNorm2d(3), seed=3).train()
    x = torch.randn(4, 3, 5, 5)
    with torch.no_grad():
        layer_calls(nn.Sequential(module))[0](x)
        twin(x)
    for name, value in twin.state_dict().items():
        torch.testing.assert_close(module.state_dict()[name], value, rtol=0, atol=0)


def test_weights_are_looked_up_at_each_call():
    conv = nn.Conv2d(1, 1, 3, bias=True)
    model = nn.Sequential(conv).eval()
    call = layer_calls(model)[0]
    x = torch.ones(1, 1, 3, 3)
    with torch.no_grad():
        conv.weight.fill_(1.0)  # written in place (a kernel edit, a loaded file)
        conv.bias.fill_(0.5)
        assert call(x).item() == 9.5
        conv.weight = nn.Parameter(torch.full((1, 1, 3, 3), 2.0))  # replaced outright
        assert call(x).item() == 18.5


def test_a_model_moved_to_another_dtype_computes_with_the_moved_tensors():
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.Flatten(), nn.Linear(8, 2))
    model = with_random_state(model, 4).eval()
    layer_calls(model)  # made for float32 first
    model.to(torch.float64)
    x = torch.randn(1, 1, 4, 4, dtype=torch.float64)
    layers = record_forward(model, x, x[0].numpy())
    with torch.no_grad():
        expected = model(x)
    assert layers[-1].output.dtype == np.float32  # results are always float32
    np.testing.assert_allclose(layers[-1].output, expected[0].numpy(), rtol=1e-6)


def test_a_hook_makes_every_layer_go_through_its_module():
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU()).eval()
    assert layer_calls(model)[0] is not model[0]
    seen = []
    handle = model[1].register_forward_hook(lambda _m, _i, out: seen.append(out.clone()))
    try:
        assert layer_calls(model) == list(model)
        layers = record_forward(model, torch.randn(1, 1, 5, 5), np.zeros((1, 5, 5), np.float32))
    finally:
        handle.remove()
    assert len(seen) == 1
    np.testing.assert_array_equal(layers[1].output, seen[0][0].numpy())
    assert layer_calls(model)[0] is not model[0]  # hook gone: direct calls again


def test_a_layer_swapped_in_place_gets_its_own_call():
    model = nn.Sequential(nn.Conv2d(1, 1, 1, bias=False)).eval()
    first = layer_calls(model)
    replacement = nn.Conv2d(1, 1, 1, bias=False)
    with torch.no_grad():
        replacement.weight.fill_(3.0)
    model[0] = replacement
    assert layer_calls(model) is not first
    assert layer_calls(model)[0](torch.ones(1, 1, 1, 1)).item() == 3.0
