"""Ready-made blocks for the palette: empty blocks and the famous ones.

Each entry makes its layers for the input shape where it is dropped, so the
channels fit there (a ResNet basic block keeps its input's channels; a
bottleneck adds a 1×1 projection to its shortcut when it changes them).
Dropped where the input is not an image (C, H, W), an entry gives the same
layers for a nominal 64-channel input and the analysis says what does not fit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from cnnviz.core.architecture import Layer
from cnnviz.core.blocks import PARALLEL, RESIDUAL
from cnnviz.core.catalogue import CATALOGUE

Shape = tuple[int, ...]


@dataclass(frozen=True)
class Template:
    name: str
    description: str
    make: Callable[[Shape], tuple[Layer, ...]]


def _channels(shape: Shape | None) -> int:
    return shape[0] if shape and len(shape) == 3 else 64


def _conv(out: int, kernel: int = 1, groups: int = 1, bias: bool = False) -> Layer:
    """A conv keeping the size; without bias where a batch norm follows."""
    params = {"out_channels": out, "kernel_size": kernel}
    if not bias:
        params["bias"] = False
    if kernel > 1:
        params["padding"] = kernel // 2
    if groups > 1:
        params["groups"] = groups
    return Layer.make("Conv2d", **params)


def _bn() -> Layer:
    return Layer.make("BatchNorm2d")


def _relu6() -> Layer:
    # MobileNetV2 clips at 6; plain ReLU until the catalogue has ReLU6.
    return Layer.make("ReLU6" if "ReLU6" in CATALOGUE else "ReLU")


RELU = Layer.make("ReLU")


def residual_block(shape: Shape) -> tuple[Layer, ...]:
    return (Layer.block(RESIDUAL, ((), ())),)


def parallel_block(merge: str) -> Callable[[Shape], tuple[Layer, ...]]:
    def make(shape: Shape) -> tuple[Layer, ...]:
        return (Layer.block(PARALLEL, ((), ()), merge=merge),)

    return make


def basic_block(shape: Shape) -> tuple[Layer, ...]:
    """torchvision's BasicBlock at stride 1: two 3×3 convs, identity shortcut,
    the ReLU after the add."""
    c = _channels(shape)
    body = (_conv(c, 3), _bn(), RELU, _conv(c, 3), _bn())
    return (Layer.block(RESIDUAL, (body, ())), RELU)


def bottleneck(shape: Shape) -> tuple[Layer, ...]:
    """torchvision's Bottleneck at stride 1: 1×1 down to `width`, 3×3, 1×1 up
    to 4·width; a 1×1 projection in the shortcut when that changes channels."""
    c = _channels(shape)
    width = max(16, c // 4)
    out = 4 * width
    body = (_conv(width), _bn(), RELU, _conv(width, 3), _bn(), RELU, _conv(out), _bn())
    shortcut = () if out == c else (_conv(out), _bn())
    return (Layer.block(RESIDUAL, (body, shortcut)), RELU)


def inverted_residual(shape: Shape) -> tuple[Layer, ...]:
    """MobileNetV2's block at stride 1, expansion 6: 1×1 expand, 3×3 depthwise,
    1×1 linear projection back (no activation after it), identity shortcut."""
    c = _channels(shape)
    hidden = 6 * c
    body = (
        _conv(hidden),
        _bn(),
        _relu6(),
        _conv(hidden, 3, groups=hidden),
        _bn(),
        _relu6(),
        _conv(c),
        _bn(),
    )
    return (Layer.block(RESIDUAL, (body, ())),)


def inception(shape: Shape) -> tuple[Layer, ...]:
    """GoogLeNet's inception (3a): 64 + 128 + 32 + 32 = 256 channels (as the
    paper, convs with bias and no batch norm)."""
    pool = Layer.make("MaxPool2d", kernel_size=3, stride=1, padding=1)
    branches = (
        (_conv(64, bias=True), RELU),
        (_conv(96, bias=True), RELU, _conv(128, 3, bias=True), RELU),
        (_conv(16, bias=True), RELU, _conv(32, 5, bias=True), RELU),
        (pool, _conv(32, bias=True), RELU),
    )
    return (Layer.block(PARALLEL, branches, merge="concat"),)


def depthwise_separable(shape: Shape) -> tuple[Layer, ...]:
    """MobileNet's depthwise-separable convolution: a 3×3 per channel, then a
    1×1 mixing channels (here doubling them, as MobileNet's 32 → 64)."""
    c = _channels(shape)
    return (_conv(c, 3, groups=c), _bn(), RELU, _conv(2 * c), _bn(), RELU)


BLOCKS: dict[str, Template] = {
    t.name: t
    for t in (
        Template(
            "Residual block",
            "An empty residual block: drop layers into its body; an empty shortcut "
            "is the identity, so the output is body(x) + x.",
            residual_block,
        ),
        Template(
            "Parallel (concat)",
            "Two empty branches fed the same input; their outputs are stacked along channels.",
            parallel_block("concat"),
        ),
        Template(
            "Parallel (add)",
            "Two empty branches fed the same input; their outputs are added "
            "(every branch must give the same shape).",
            parallel_block("add"),
        ),
    )
}

TEMPLATES: dict[str, Template] = {
    t.name: t
    for t in (
        Template(
            "ResNet basic block",
            "Two 3×3 convolutions with batch norm, added to the unchanged input, "
            "then ReLU (ResNet-18/34).",
            basic_block,
        ),
        Template(
            "ResNet bottleneck",
            "1×1 conv to fewer channels, 3×3 conv, 1×1 conv to 4× as many, added "
            "to the input (ResNet-50 and deeper): cheaper than two 3×3 at this width.",
            bottleneck,
        ),
        Template(
            "MobileNetV2 inverted residual",
            "1×1 conv expanding channels 6×, 3×3 depthwise conv, 1×1 conv back "
            "without activation, added to the input.",
            inverted_residual,
        ),
        Template(
            "Inception module",
            "1×1, 3×3 and 5×5 convolutions and a pooling branch side by side, "
            "concatenated: 64 + 128 + 32 + 32 = 256 channels (GoogLeNet 3a).",
            inception,
        ),
        Template(
            "Depthwise-separable convolution",
            "A 3×3 conv per channel (groups = channels), then a 1×1 conv mixing "
            "them: about 8-9× fewer weights than one full 3×3 conv.",
            depthwise_separable,
        ),
    )
}

ENTRIES: dict[str, Template] = {**BLOCKS, **TEMPLATES}
