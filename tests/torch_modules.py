"""Torch modules for cnnviz layers, sized from the tensor torch actually receives.

The tests' independent oracle: sizes come from running torch, never from
cnnviz's own shape arithmetic.
"""

from __future__ import annotations

import torch
from torch import nn

from cnnviz.core.architecture import Layer


def torch_module(layer: Layer, x: torch.Tensor) -> nn.Module:
    """A torch module for `layer` whose input is `x` (batched)."""
    args = dict(layer.all_params())
    if layer.type in ("Conv2d", "ConvTranspose2d"):
        args["in_channels"] = x.shape[1]
    elif layer.type == "Linear":
        args["in_features"] = x.shape[-1]
    elif layer.type == "BatchNorm2d":
        args["num_features"] = x.shape[1]
    elif layer.type == "GroupNorm":
        args["num_channels"] = x.shape[1]
    elif layer.type == "Softmax" and args["dim"] is None:
        args["dim"] = 1  # what torch's implicit choice is for a batch, without its warning
    return getattr(nn, layer.type)(**args)


class TorchResidual(nn.Module):
    """The test's own residual block: body(x) + shortcut(x), the names torch keys use."""

    def __init__(self, body: list[nn.Module], shortcut: list[nn.Module]):
        super().__init__()
        self.body = nn.Sequential(*body)
        self.shortcut = nn.Sequential(*shortcut)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x) + self.shortcut(x)


class TorchParallel(nn.Module):
    """The test's own parallel block: branches concatenated along channels, or added."""

    def __init__(self, branches: list[list[nn.Module]], merge: str):
        super().__init__()
        self.branches = nn.ModuleList(nn.Sequential(*b) for b in branches)
        self.merge = merge

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outs = [branch(x) for branch in self.branches]
        return torch.cat(outs, 1) if self.merge == "concat" else sum(outs[1:], outs[0])


def torch_stack(entries: list[dict], x: torch.Tensor) -> tuple[list[nn.Module], torch.Tensor]:
    """Modules for the architecture file's layer entries (raw JSON, blocks nested),
    sized by running torch on `x`; and the output after them."""
    modules = []
    for entry in entries:
        params = {k: v for k, v in entry.items() if k not in ("type", "body", "shortcut")}
        if entry["type"] == "Residual":
            body = torch_stack(entry["body"], x)[0]
            shortcut = torch_stack(entry.get("shortcut", []), x)[0]
            module = TorchResidual(body, shortcut)
        elif entry["type"] == "Parallel":
            paths = [torch_stack(branch, x)[0] for branch in entry["branches"]]
            module = TorchParallel(paths, entry.get("merge", "concat"))
        else:
            params.pop("branches", None)
            module = torch_module(Layer.make(entry["type"], **params), x)
        with torch.no_grad():
            x = module.eval()(x)
        modules.append(module)
    return modules, x


def torch_network(data: dict) -> nn.Sequential:
    """An architecture file (parsed JSON) as torch modules built by the test alone."""
    shape = data["input"]
    x = torch.zeros(1, shape["channels"], shape["height"], shape["width"])
    return nn.Sequential(*torch_stack(data["layers"], x)[0]).eval()
