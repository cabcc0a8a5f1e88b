"""Small networks for the attribution tests: a plain conv net, and one with a
Residual and a Parallel block (ReLUs inside both, a ReLU6 branch, batch norm)
that ends in Softmax, so the score is taken before it."""

from __future__ import annotations

import numpy as np
import torch

from cnnviz.compute.model import build_model
from cnnviz.core.architecture import Architecture, InputShape, Layer


def _conv(out: int, k: int = 3, **params) -> Layer:
    return Layer.make("Conv2d", out_channels=out, kernel_size=k, padding=k // 2, **params)


SMALL = Architecture(
    "small",
    InputShape(3, 16, 16),
    (
        _conv(6),
        Layer.make("ReLU"),
        _conv(8),
        Layer.make("ReLU"),
        Layer.make("MaxPool2d", kernel_size=2),
        Layer.make("Flatten"),
        Layer.make("Linear", out_features=5),
    ),
)

BRANCHY = Architecture(
    "branchy",
    InputShape(3, 20, 20),
    (
        _conv(8),
        Layer.make("BatchNorm2d"),
        Layer.make("ReLU"),
        Layer.block(
            "Residual",
            [
                [_conv(8), Layer.make("BatchNorm2d"), Layer.make("ReLU"), _conv(8)],
                [],
            ],
        ),
        Layer.make("ReLU"),
        Layer.block(
            "Parallel",
            [
                [_conv(4, 1), Layer.make("ReLU")],
                [_conv(4), Layer.make("ReLU6")],
                [Layer.make("MaxPool2d", kernel_size=3, stride=1, padding=1)],
            ],
            merge="concat",
        ),
        _conv(6, stride=2),
        Layer.make("ReLU"),
        Layer.make("AdaptiveAvgPool2d", output_size=1),
        Layer.make("Flatten"),
        Layer.make("Linear", out_features=7),
        Layer.make("Softmax", dim=1),
    ),
)


def built(arch: Architecture, seed: int = 0) -> torch.nn.Sequential:
    """The model, with batch norm statistics that are not the trivial 0 and 1."""
    model = build_model(arch, seed)
    generator = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                n = module.num_features
                module.running_mean.copy_(torch.randn(n, generator=generator) * 0.2)
                module.running_var.copy_(torch.rand(n, generator=generator) + 0.5)
                module.weight.copy_(torch.rand(n, generator=generator) + 0.5)
    return model.eval()


def image(arch: Architecture, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.standard_normal(arch.input.as_tuple()).astype(np.float32)
