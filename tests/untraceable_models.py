"""Models torch.fx cannot trace, for the read-only hooked view (issue 18).

The tests load this file by its path, as a person's own file
(``tests/untraceable_models.py:Branching``); the line named in the view's
message is looked up by the code it quotes, never hard-coded.
"""

import torch
import torch.nn as nn
import torch.nn.functional as F


class Branching(nn.Module):
    """Data-dependent control flow, a module called twice, a parameter of its own."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1)
        self.a = nn.Conv2d(8, 8, 3, padding=1)
        self.b = nn.Sequential(nn.Conv2d(8, 8, 1), nn.ReLU())
        self.shared = nn.Conv2d(8, 8, 3, padding=1)
        self.scale = nn.Parameter(torch.full((1,), 0.5))
        self.head = nn.Linear(8, 5)

    def forward(self, x):
        bright = x.mean() > 0
        x = F.relu(self.stem(x))
        x = self.a(x) if bright else self.b(x)
        x = self.shared(self.shared(x)) * self.scale
        x = F.adaptive_avg_pool2d(x, 1).flatten(1)
        return self.head(x)


def make_branching():
    return Branching()


class EarlyExit(nn.Module):
    """Runs its blocks until the activations settle: how many run depends on the values
    (on pictures and test inputs alike, all of them do)."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1)
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.Conv2d(8, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU())
            for _ in range(3)
        )
        self.head = nn.Linear(8, 10)

    def forward(self, x):
        x = F.relu(self.stem(x))
        for block in self.blocks:
            if x.abs().mean() > 1e6:
                break
            x = block(x)
        return self.head(F.adaptive_avg_pool2d(x, 1).flatten(1))


class Pair(nn.Module):
    """A module of the person's own that gives a tuple."""

    def forward(self, x):
        return x.relu(), x.mean()


class Volume(nn.Module):
    """Four axes per sample: shown as one flat vector."""

    def forward(self, x):
        return x.unsqueeze(2).repeat(1, 1, 2, 1, 1)


class Score(nn.Module):
    """One number per sample."""

    def forward(self, x):
        return x.mean((1, 2, 3, 4))


class Odd(nn.Module):
    """Outputs of every shape a row may have to show."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.pair = Pair()
        self.volume = Volume()
        self.score = Score()

    def forward(self, x):
        if x.abs().sum() == 0:
            return x.new_zeros(x.shape[0], 1)
        y, _ = self.pair(self.conv(x))
        return self.score(self.volume(y))[:, None]
