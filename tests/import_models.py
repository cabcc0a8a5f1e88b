"""PyTorch models written the usual way, for the import tests (issue 18).

The import tests load this file by its path, as a person's own file
(``tests/import_models.py:Net``); the line numbers named in refusals are
looked up in it by the code they quote, never hard-coded.
"""

import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    """A basic residual block: the add sits inside this submodule."""

    def __init__(self, channels):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.conv2(out)
        out += x
        return F.relu(out)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1)
        self.block = Block(8)
        self.left = nn.Conv2d(8, 4, 1)
        self.right = nn.Sequential(nn.Conv2d(8, 6, 3, padding=1), nn.ReLU())
        self.fc = nn.Linear(10 * 8 * 8, 10)

    def forward(self, x):
        x = F.relu(self.stem(x))
        x = self.block(x)
        x = torch.cat([self.left(x), self.right(x)], dim=1)
        x = F.max_pool2d(x, 2)
        x = torch.flatten(x, 1)
        return self.fc(x)


def make_net():
    """A factory: cnnviz calls it without arguments."""
    return Net()


class Functional(nn.Module):
    """Functional calls and reshapes of every kind cnnviz reads."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 6, 3, stride=2, padding=1)
        self.a = nn.Conv2d(6, 6, 1)
        self.b = nn.Conv2d(6, 6, 3, padding=1)
        self.fc = nn.Linear(6, 4)

    def forward(self, x):
        x = F.leaky_relu(self.conv(x), 0.2)
        x = x + self.a(x) + self.b(x)
        x = F.avg_pool2d(x, kernel_size=2)
        x = x.sigmoid()
        x = F.adaptive_avg_pool2d(x, 2)
        x = x.mean((2, 3), keepdim=True)
        x = x.view(x.size(0), -1)
        return F.softmax(self.fc(x), dim=1)


class Swish(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)

    def forward(self, x):
        x = self.conv(x)
        return torch.sigmoid(x) * x


class Branchy(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)

    def forward(self, x):
        if x.sum() > 0:
            return self.conv(x)
        return x


class OneD(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.seq = nn.Conv1d(4, 4, 3)

    def forward(self, x):
        x = self.conv(x)
        return self.seq(x.flatten(2))


class Dense(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(3, 4, 3, padding=1)
        self.b = nn.Conv2d(4, 4, 3, padding=1)

    def forward(self, x):
        a = self.a(x)
        b = self.b(a)
        return torch.cat([x, a, b], 1)


class Fixed(nn.Module):
    """Takes 3×8×8 only: its Linear expects 4·6·6 values."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.fc = nn.Linear(4 * 6 * 6, 2)

    def forward(self, x):
        x = torch.flatten(self.conv(x), 1)
        return self.fc(x)  # the wrong input size stops here


class NeedsWidth(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.conv = nn.Conv2d(3, width, 3)
