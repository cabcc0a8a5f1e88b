"""PyTorch models with parts cnnviz has no layer for, for the Opaque tests (issue 18).

Loaded by path as a person's own file (``tests/opaque_models.py:Net``).
"""

import torch
import torch.nn as nn
import torch.nn.functional as F


class LayerNorm2d(nn.Module):
    """Layer norm over the channels at each position, written by hand: a learned
    scale and shift, and operations cnnviz has no layer for (mean over dim 1)."""

    def __init__(self, channels: int, eps: float = 1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.linspace(0.5, 1.5, channels))
        self.bias = nn.Parameter(torch.linspace(-0.2, 0.2, channels))
        self.eps = eps

    def forward(self, x):
        mean = x.mean(1, keepdim=True)
        var = (x - mean).pow(2).mean(1, keepdim=True)
        x = (x - mean) / torch.sqrt(var + self.eps)
        return x * self.weight[:, None, None] + self.bias[:, None, None]


class Stage(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)
        self.norm = LayerNorm2d(channels)

    def forward(self, x):
        return F.relu(self.norm(self.conv(x)))


class Net(nn.Module):
    """A stem, a stage whose norm is a custom module, a Swish written inline at the
    top level, and a classifier head."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1)
        self.stage = Stage(8)
        self.pool = nn.MaxPool2d(2)
        self.fc = nn.Linear(8 * 4 * 4, 10)

    def forward(self, x):
        x = self.stage(self.stem(x))
        x = torch.sigmoid(x) * x
        x = self.pool(self.pool(x))
        return self.fc(torch.flatten(x, 1))


class TorchLayerNorm(nn.Module):
    """A torch module cnnviz does not know (nn.LayerNorm over C×H×W) and x * 2."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.norm = nn.LayerNorm([4, 8, 8])

    def forward(self, x):
        return self.norm(self.conv(x)) * 2


class Crossing(nn.Module):
    """A product of two paths that cross another merge: still refused."""

    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(3, 4, 3, padding=1)
        self.b = nn.Conv2d(4, 4, 3, padding=1)

    def forward(self, x):
        a = self.a(x)
        b = self.b(a)
        return torch.cat([a * b, b], 1)


class Showcase(nn.Module):
    """For the README picture (docs/make_import_pictures.py): 3×64×64 images, a
    hand-written LayerNorm2d inside a stage and an inline Swish."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 16, 3, padding=1)
        self.stage = Stage(16)
        self.pool = nn.MaxPool2d(2)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 10))

    def forward(self, x):
        x = self.stage(self.stem(x))
        x = x * torch.sigmoid(x)  # Swish, written inline
        return self.head(self.pool(x))


class Gate(nn.Module):
    """Decides on its values (torch.fx cannot trace it; torch.jit.script can)."""

    def __init__(self, channels: int):
        super().__init__()
        self.scale = nn.Parameter(torch.full((channels,), 2.0))

    def forward(self, x):
        if x.mean() > 0:  # data-dependent: fx stops here
            return x * self.scale[:, None, None]
        return -x


class Gated(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.blocks = nn.Sequential(Gate(4), nn.ReLU())

    def forward(self, x):
        return self.blocks(self.conv(x))


class Pythonic(nn.Module):
    """Decides on its values in Python TorchScript does not take (numpy)."""

    def forward(self, x):
        if x.detach().numpy().mean() > 0:  # fx stops here; script refuses numpy
            return x.relu()
        return x


class UsesPythonic(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.odd = Pythonic()

    def forward(self, x):
        return self.odd(self.conv(x))


class SizeScaled(nn.Module):
    """An operation reading a value from before where its unit would start: refused."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)

    def forward(self, x):
        return self.conv(x) * x.size(1)
