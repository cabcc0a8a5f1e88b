"""A digit reader small enough to train in a second (8×8 digits), for the training tests."""

from __future__ import annotations

from cnnviz.core.architecture import Architecture, InputShape, Layer

TINY = Architecture(
    "tiny",
    InputShape(1, 8, 8),
    (
        Layer.make("Conv2d", out_channels=4, kernel_size=3, padding=1),
        Layer.make("ReLU"),
        Layer.make("MaxPool2d", kernel_size=2),
        Layer.make("Flatten"),
        Layer.make("Linear", out_features=10),
    ),
    {"description": "a tiny digit reader"},
)
