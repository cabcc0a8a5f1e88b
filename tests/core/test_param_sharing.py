"""Parameter sharing: the conv's count and a same-output Linear's count, both from torch.

The Linear is built on the meta device, so a 50-million-weight layer costs no memory.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from cnnviz.core.architecture import Layer
from cnnviz.core.param_sharing import sharing_comparison, sharing_line


def count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


CASES = [
    (dict(out_channels=16, kernel_size=3, padding=1), (3, 32, 32)),
    (dict(out_channels=6, kernel_size=5), (1, 32, 32)),
    (dict(out_channels=8, kernel_size=(3, 1), stride=2, bias=False), (4, 9, 7)),
    (dict(out_channels=6, kernel_size=3, groups=3, dilation=2, padding=2), (3, 10, 12)),
]


@pytest.mark.parametrize(("params", "shape"), CASES)
def test_counts_equal_torch_conv_and_meta_linear(params, shape):
    layer = Layer.make("Conv2d", **params)
    found = sharing_comparison(layer, shape)
    with torch.device("meta"):
        conv = nn.Conv2d(shape[0], **params)
        out_shape = tuple(conv(torch.empty(1, *shape)).shape[1:])
        dense = nn.Linear(
            shape[0] * shape[1] * shape[2],
            out_shape[0] * out_shape[1] * out_shape[2],
            bias=params.get("bias", True),
        )
    assert found.output_shape == out_shape
    assert found.conv_params == count(conv)
    assert found.dense_params == count(dense)
    assert found.dense_biases == (0 if dense.bias is None else dense.bias.numel())
    assert found.ratio == pytest.approx(count(dense) / count(conv))
    assert found.ratio > 1


def test_line_shows_both_counts_and_the_ratio():
    layer = Layer.make("Conv2d", out_channels=16, kernel_size=3, padding=1)
    line = sharing_line(layer, (3, 32, 32))
    # 3·32·32 · 16·32·32 weights + 16,384 biases against 16·3·3·3 + 16 = 448.
    assert "(3·32·32)·(16·32·32) + 16,384 = 50,348,032 params" in line
    assert f"{50_348_032 / 448:,.0f}× the conv's 448" in line


def test_no_line_for_other_layers_or_bad_shapes():
    assert sharing_line(Layer.make("ReLU"), (3, 8, 8)) == ""
    conv = Layer.make("Conv2d", out_channels=4, kernel_size=5)
    assert sharing_line(conv, None) == ""
    assert sharing_line(conv, (3, 2, 2)) == ""  # kernel larger than the input
    assert sharing_line(conv, (12,)) == ""
