"""What the catalogue and the presets tell a learner is true (issue 13).

Counts are checked against torch; historical claims against what the papers
describe (LeNet-5, AlexNet, VGG) as opposed to torchvision's layouts.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from cnnviz.core.catalogue import layer_type
from cnnviz.core.presets import load_preset


@pytest.mark.parametrize(("c_in", "c_out", "groups", "bias"), [(4, 6, 2, True), (8, 8, 8, False)])
def test_conv_tooltip_counts_weights_with_groups(c_in, c_out, groups, bias):
    tooltip = layer_type("Conv2d").tooltip
    assert "in_channels/groups × kh × kw weights" in tooltip
    assert "C_out · C_in/groups · kH · kW weights + C_out biases" in tooltip
    conv = nn.Conv2d(c_in, c_out, (3, 5), groups=groups, bias=bias)
    stated = c_out * c_in // groups * 3 * 5 + (c_out if bias else 0)
    assert stated == sum(p.numel() for p in conv.parameters())


def test_adaptive_pooling_is_torchvisions_not_the_papers():
    text = layer_type("AdaptiveAvgPool2d").explanation
    assert "torchvision's AlexNet and VGG" in text and "the papers have no adaptive pooling" in text
    for name in ("alexnet", "vgg11", "vgg16"):
        description = load_preset(name).metadata["description"]
        assert "torchvision's layout" in description, name
        assert "not in the paper" in description or "the paper does not have" in description


def test_adaptive_windows_described_as_torch_computes_them():
    # 5 → 3: windows [0, 2), [1, 4), [3, 5): different sizes, overlapping.
    text = layer_type("AdaptiveAvgPool2d").explanation
    assert "⌊i·in/out⌋" in text and "⌈(i+1)·in/out⌉" in text and "overlap" in text
    x = torch.ones(1, 1, 1, 5, requires_grad=True)
    nn.AdaptiveAvgPool2d((1, 3))(x)[0, 0, 0, 1].backward()
    assert x.grad[0, 0, 0].nonzero().flatten().tolist() == [1, 2, 3]


def test_lenet5_is_called_a_simplified_lenet():
    description = load_preset("lenet5").metadata["description"]
    assert description.startswith("A simplified LeNet-5")
    for difference in ("trainable weight and bias", "C5 was a 5x5 convolution", "RBF units"):
        assert difference in description
    assert "LeNet-5 used it" not in layer_type("AvgPool2d").explanation


def test_relu_is_not_said_to_make_deep_networks_trainable_alone():
    text = layer_type("ReLU").explanation
    assert "made deep networks trainable" not in text
    # A negative input is sparsity; dead means negative for every input.
    assert "switches the unit off for that input" in text
    assert "negative for every input it gets never activates" in text
