"""The palette's templates: valid where they are meant to go, and with the
parameters of the torch modules they stand for (written here by hand)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from cnnviz.core.analysis import analyze
from cnnviz.core.architecture import Architecture, InputShape, Layer
from cnnviz.core.templates import BLOCKS, ENTRIES, TEMPLATES


def after_conv(layers, channels=64, side=56) -> Architecture:
    """`layers` after a conv giving channels×side×side (as ResNet's stem)."""
    stem = Layer.make("Conv2d", out_channels=channels, kernel_size=3, padding=1)
    return Architecture("t", InputShape(3, side, side), (stem, *layers))


def n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def bn_conv(cin, cout, k=1, groups=1):
    return [
        nn.Conv2d(cin, cout, k, padding=k // 2, groups=groups, bias=False),
        nn.BatchNorm2d(cout),
    ]


class Residual(nn.Module):
    def __init__(self, body, shortcut=None):
        super().__init__()
        self.body = nn.Sequential(*body)
        self.shortcut = nn.Sequential(*(shortcut or []))

    def forward(self, x):
        return self.body(x) + self.shortcut(x)


class Concat(nn.Module):
    def __init__(self, *branches):
        super().__init__()
        self.branches = nn.ModuleList(nn.Sequential(*b) for b in branches)

    def forward(self, x):
        return torch.cat([b(x) for b in self.branches], dim=1)


def torch_basic(c):
    body = [*bn_conv(c, c, 3), nn.ReLU(), *bn_conv(c, c, 3)]
    return nn.Sequential(Residual(body), nn.ReLU())


def torch_bottleneck(c):
    w = max(16, c // 4)
    body = [*bn_conv(c, w), nn.ReLU(), *bn_conv(w, w, 3), nn.ReLU(), *bn_conv(w, 4 * w)]
    shortcut = None if 4 * w == c else bn_conv(c, 4 * w)
    return nn.Sequential(Residual(body, shortcut), nn.ReLU())


def torch_inverted(c):
    h = 6 * c
    body = [*bn_conv(c, h), nn.ReLU6(), *bn_conv(h, h, 3, groups=h), nn.ReLU6(), *bn_conv(h, c)]
    return Residual(body)


def torch_inception(c):
    return Concat(
        [nn.Conv2d(c, 64, 1), nn.ReLU()],
        [nn.Conv2d(c, 96, 1), nn.ReLU(), nn.Conv2d(96, 128, 3, padding=1), nn.ReLU()],
        [nn.Conv2d(c, 16, 1), nn.ReLU(), nn.Conv2d(16, 32, 5, padding=2), nn.ReLU()],
        [nn.MaxPool2d(3, 1, 1), nn.Conv2d(c, 32, 1), nn.ReLU()],
    )


def torch_separable(c):
    return nn.Sequential(*bn_conv(c, c, 3, groups=c), nn.ReLU(), *bn_conv(c, 2 * c), nn.ReLU())


TORCH = {
    "ResNet basic block": torch_basic,
    "ResNet bottleneck": torch_bottleneck,
    "MobileNetV2 inverted residual": torch_inverted,
    "Inception module": torch_inception,
    "Depthwise-separable convolution": torch_separable,
}


def test_the_issue_names_every_template_and_block():
    assert set(TEMPLATES) == set(TORCH)
    assert set(BLOCKS) == {"Residual block", "Parallel (concat)", "Parallel (add)"}
    assert all(t.description for t in ENTRIES.values())


@pytest.mark.parametrize("name", sorted(TORCH))
@pytest.mark.parametrize("channels, side", [(64, 56), (3, 9), (96, 7)])
def test_a_template_is_valid_after_a_conv_and_counts_like_torch(name, channels, side):
    layers = TEMPLATES[name].make((channels, side, side))
    analysis = analyze(after_conv(layers, channels, side))
    assert analysis.valid, analysis.first_error and analysis.first_error.error
    module = TORCH[name](channels)
    x = torch.zeros(1, channels, side, side)
    expected = tuple(module.eval()(x).shape[1:])
    assert analysis.output_shape == expected
    assert analysis.total_params - analysis.layers[0].params == n_params(module)


def test_the_basic_block_keeps_its_input_and_the_bottleneck_projects_when_it_must():
    (block, _relu) = TEMPLATES["ResNet basic block"].make((64, 56, 56))
    assert block.type == "Residual" and block.paths[1] == ()
    (block, _relu) = TEMPLATES["ResNet bottleneck"].make((64, 56, 56))
    assert block.paths[1] == ()  # 4 × 16 = 64: identity
    (block, _relu) = TEMPLATES["ResNet bottleneck"].make((3, 9, 9))
    assert [layer.type for layer in block.paths[1]] == ["Conv2d", "BatchNorm2d"]


def test_the_inception_module_concatenates_256_channels():
    analysis = analyze(after_conv(TEMPLATES["Inception module"].make((192, 28, 28)), 192, 28))
    assert analysis.output_shape == (256, 28, 28)


@pytest.mark.parametrize(
    "name, merge", [("Parallel (concat)", "concat"), ("Parallel (add)", "add")]
)
def test_empty_blocks_are_valid_and_change_nothing_or_only_channels(name, merge):
    (block,) = BLOCKS[name].make((64, 56, 56))
    assert block.get("merge") == merge and block.paths == ((), ())
    analysis = analyze(after_conv((block,)))
    expected = (128, 56, 56) if merge == "concat" else (64, 56, 56)
    assert analysis.output_shape == expected


def test_an_empty_residual_block_is_the_identity_twice():
    (block,) = BLOCKS["Residual block"].make((64, 56, 56))
    assert block.paths == ((), ())
    analysis = analyze(after_conv((block,)))
    assert analysis.output_shape == (64, 56, 56) and analysis.layers[1].macs == 64 * 56 * 56


def test_a_template_dropped_after_a_flatten_still_makes_layers():
    layers = TEMPLATES["ResNet basic block"].make((4096,))
    assert layers and layers[0].paths[0][0].get("out_channels") == 64
