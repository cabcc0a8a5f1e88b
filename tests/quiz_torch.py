"""Torch's own answers to quiz questions, for the quiz tests: shapes from forward
hooks, parameters from the module, MACs from torch's flop counter, receptive
fields from autograd, values from the forward."""

from __future__ import annotations

import copy

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode


def hooked_outputs(model: nn.Module, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """Every named module's output (and input, under "<name>:in") for input x."""
    seen: dict[str, torch.Tensor] = {}
    handles = []
    for name, module in model.named_modules():
        if name and not isinstance(module, nn.Sequential | nn.ModuleList):

            def hook(mod, args, out, name=name):
                seen[name] = out
                seen[name + ":in"] = args[0]

            handles.append(module.register_forward_hook(hook))
    try:
        model(x)
    finally:
        for handle in handles:
            handle.remove()
    return seen


def param_count(model: nn.Module, address: str) -> int:
    return sum(p.numel() for p in model.get_submodule(address).parameters())


def flop_macs(model: nn.Module, address: str, layer_input: torch.Tensor) -> int:
    """Multiply-accumulates of one Conv2d/Linear: torch's flop count / 2."""
    module = model.get_submodule(address)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        module(layer_input)
    return counter.get_total_flops() // 2


def _positive(model: nn.Module) -> nn.Module:
    """A copy whose every path passes gradient to every tap: positive weights,
    activations as identities, a max pool as a sum over the same window."""
    model = copy.deepcopy(model).double().eval()
    for name, module in list(model.named_modules()):
        if not name:
            continue
        parent_name, _, last = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        if isinstance(module, nn.Conv2d | nn.Linear | nn.ConvTranspose2d):
            with torch.no_grad():
                module.weight.copy_(module.weight.abs() + 0.05)
        elif isinstance(module, nn.BatchNorm2d):
            with torch.no_grad():
                if module.weight is not None:
                    module.weight.copy_(module.weight.abs() + 0.05)
        elif isinstance(module, nn.MaxPool2d):
            setattr(parent, last, _window_sum(module))
        elif isinstance(module, nn.ReLU | nn.Tanh | nn.Sigmoid | nn.LeakyReLU | nn.ReLU6):
            setattr(parent, last, nn.Identity())
    return model


class _WindowSum(nn.Module):
    def __init__(self, pool: nn.MaxPool2d):
        super().__init__()
        self.pool = pool

    def forward(self, x):
        k = self.pool.kernel_size
        k = (k, k) if isinstance(k, int) else k
        weight = torch.ones(x.shape[1], 1, *k, dtype=x.dtype)
        return nn.functional.conv2d(
            x,
            weight,
            stride=self.pool.stride,
            padding=self.pool.padding,
            dilation=self.pool.dilation,
            groups=x.shape[1],
        )


def _window_sum(pool: nn.MaxPool2d) -> nn.Module:
    assert not pool.ceil_mode
    return _WindowSum(pool)


def gradient_box(model: nn.Module, address: str, input_shape, row: int, col: int):
    """(top, left, bottom, right), half-open: the input box output (row, col) of
    channel 0 of `address` depends on (autograd on a positive copy)."""
    positive = _positive(model)
    x = torch.ones(1, *input_shape, dtype=torch.float64, requires_grad=True)
    out = hooked_outputs(positive, x)[address]
    out[0, 0, row, col].backward()
    touched = x.grad[0].abs().sum(0).nonzero()
    (top, left), (bottom, right) = touched.min(0).values, touched.max(0).values
    return int(top), int(left), int(bottom) + 1, int(right) + 1
