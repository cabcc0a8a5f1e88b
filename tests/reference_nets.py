"""Independent torch references for the block presets, written as torchvision writes them.

torchvision does not import here (DESIGN.md), so its ResNet and MobileNetV2
are restated from its source (torchvision/models/resnet.py, mobilenetv2.py)
with its module names, so their state_dict keys are torchvision's. None of
it reads cnnviz's architecture files; `preset_state` lists what a preset's
model holds, from the core's analysis and plain torch modules, for comparing.
"""

from __future__ import annotations

import torch
from torch import nn

from cnnviz.core.analysis import analyze
from tests.torch_modules import torch_module


def conv3x3(cin: int, cout: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, kernel_size=3, stride=stride, padding=1, bias=False)


def conv1x1(cin: int, cout: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, kernel_size=1, stride=stride, bias=False)


class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int = 1):
        super().__init__()
        self.conv1 = conv3x3(cin, cout, stride)
        self.bn1 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU()
        self.conv2 = conv3x3(cout, cout)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(conv1x1(cin, cout, stride), nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(out + identity)


class ResNet(nn.Module):
    """torchvision's ResNet with BasicBlock; `widths`/`blocks` per stage."""

    def __init__(self, blocks=(2, 2, 2, 2), widths=(64, 128, 256, 512), classes=1000):
        super().__init__()
        self.conv1 = nn.Conv2d(3, widths[0], kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.relu = nn.ReLU()
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        cin = widths[0]
        for stage, (n, width) in enumerate(zip(blocks, widths, strict=True)):
            stride = 1 if stage == 0 else 2
            layers = [BasicBlock(cin, width, stride)]
            layers += [BasicBlock(width, width) for _ in range(n - 1)]
            setattr(self, f"layer{stage + 1}", nn.Sequential(*layers))
            cin = width
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(widths[-1], classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def conv_bn_act(cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1):
    """torchvision's Conv2dNormActivation with ReLU6, as MobileNetV2 uses it."""
    padding = (kernel - 1) // 2
    return nn.Sequential(
        nn.Conv2d(cin, cout, kernel, stride, padding, groups=groups, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU6(),
    )


class InvertedResidual(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int, expand: int):
        super().__init__()
        hidden = cin * expand
        self.use_res_connect = stride == 1 and cin == cout
        layers = [] if expand == 1 else [conv_bn_act(cin, hidden, 1)]
        layers += [
            conv_bn_act(hidden, hidden, 3, stride, groups=hidden),
            nn.Conv2d(hidden, cout, 1, bias=False),
            nn.BatchNorm2d(cout),
        ]
        self.conv = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x) if self.use_res_connect else self.conv(x)


# t (expansion), c (channels), n (repeats), s (stride of the first): the paper's Table 2.
MOBILENET_V2_SETTINGS = (
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)


class MobileNetV2(nn.Module):
    def __init__(self, classes: int = 1000):
        super().__init__()
        features = [conv_bn_act(3, 32, 3, stride=2)]
        cin = 32
        for t, c, n, s in MOBILENET_V2_SETTINGS:
            for i in range(n):
                features.append(InvertedResidual(cin, c, s if i == 0 else 1, t))
                cin = c
        features.append(conv_bn_act(cin, 1280, 1))
        self.features = nn.Sequential(*features)
        self.classifier = nn.Sequential(nn.Dropout(p=0.2), nn.Linear(1280, classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = nn.functional.adaptive_avg_pool2d(self.features(x), (1, 1))
        return self.classifier(torch.flatten(x, 1))


def conv_bn_relu(cin: int, cout: int, kernel: int, padding: int = 0) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, kernel, padding=padding, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(),
    )


class InceptionModule(nn.Module):
    """GoogLeNet's module, the 5×5 branch as two 3×3 (as Inception v2 has it)."""

    def __init__(self, cin, c1, c3r, c3, c5r, c5, cpool):
        super().__init__()
        self.branch1 = conv_bn_relu(cin, c1, 1)
        self.branch3 = nn.Sequential(conv_bn_relu(cin, c3r, 1), conv_bn_relu(c3r, c3, 3, 1))
        self.branch5 = nn.Sequential(
            conv_bn_relu(cin, c5r, 1), conv_bn_relu(c5r, c5, 3, 1), conv_bn_relu(c5, c5, 3, 1)
        )
        self.branch_pool = nn.Sequential(nn.MaxPool2d(3, 1, 1), conv_bn_relu(cin, cpool, 1))
        self.out_channels = c1 + c3 + c5 + cpool

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branches = (self.branch1, self.branch3, self.branch5, self.branch_pool)
        return torch.cat([b(x) for b in branches], dim=1)


class SmallInception(nn.Module):
    """The inception_small preset: a 3×3 stem, three modules with max pools between."""

    def __init__(self, classes: int = 10):
        super().__init__()
        self.stem = conv_bn_relu(3, 32, 3, 1)
        self.a = InceptionModule(32, 16, 16, 24, 8, 12, 12)
        self.b = InceptionModule(self.a.out_channels, 32, 24, 48, 12, 24, 24)
        self.c = InceptionModule(self.b.out_channels, 48, 32, 64, 16, 32, 32)
        self.pool = nn.MaxPool2d(2)
        self.fc = nn.Linear(self.c.out_channels, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(self.b(self.pool(self.a(self.stem(x)))))
        return self.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(self.c(x), 1), 1))


class DigitsResNet(nn.Module):
    """The resnet_digits preset: a 3×3 stem on 28×28 grey digits, three basic blocks,
    and the 7×7 maps flattened into the classifier."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(conv3x3(1, 16), nn.BatchNorm2d(16), nn.ReLU())
        self.blocks = nn.Sequential(
            BasicBlock(16, 16), BasicBlock(16, 32, stride=2), BasicBlock(32, 32, stride=2)
        )
        self.fc = nn.Linear(32 * 7 * 7, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.blocks(self.stem(x)), 1))


# The preset's name, its reference, and its parameter count (torchvision's
# published totals for ResNet-18 and MobileNetV2).
CASES = {
    "resnet18": (ResNet, 11_689_512),
    "mobilenet_v2": (MobileNetV2, 3_504_872),
    "inception_small": (SmallInception, 83_738),
    "resnet_digits": (DigitsResNet, 54_714),
}


def preset_state(arch) -> list[tuple[str, tuple[int, ...]]]:
    """(key, shape) of every state_dict entry the preset's model has, in order:
    each leaf layer's own torch module, sized from its input, under its address."""
    entries = []
    with torch.device("meta"):
        for info in analyze(arch).layers:
            if info.layer.is_block:
                continue
            module = torch_module(info.layer, torch.empty(1, *info.input_shape))
            for key, value in module.state_dict().items():
                entries.append((f"{info.address}.{key}", tuple(value.shape)))
    return entries
