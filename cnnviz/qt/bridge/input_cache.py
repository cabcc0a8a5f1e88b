"""The network's input, prepared once per image, shape and preprocessing.

Every edit of the stack submits a forward, and each forward needs the input
image resized and normalised to the network's input shape. An edit seldom
changes that shape, yet the controller resized the image at every edit (on
VGG-16's 224×224 input a sizeable part of the GUI thread's time per edit).
The cache hands back the array it made last time while the same image object,
the same shape and equal preprocessing settings are asked for.

The image is recognised by identity: the document replaces its image with a
new array on every change (a loaded file, a drawing) and never writes into
one. The cache holds that image, so its id cannot be reused by another array
while it is the key. Requests and results only read the prepared array.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from cnnviz.qt.inputs.network_input import to_network_input

Convert = Callable[[np.ndarray, tuple[int, int, int], dict[str, Any]], np.ndarray]


class InputCache:
    """The last prepared input and what it was made from."""

    def __init__(self, convert: Convert = to_network_input) -> None:
        self._convert = convert
        self._image: np.ndarray | None = None
        self._shape: tuple[int, int, int] | None = None
        self._settings: dict[str, Any] = {}
        self._prepared: np.ndarray | None = None
        self.conversions = 0  # how many times an input was really prepared

    def network_input(
        self, image: np.ndarray, shape: tuple[int, int, int], settings: dict[str, Any]
    ) -> np.ndarray:
        """`image` as the (C, H, W) float32 input for `shape`; ValueError as convert's."""
        same = (
            self._prepared is not None
            and image is self._image
            and shape == self._shape
            and settings == self._settings
        )
        if not same:
            prepared = self._convert(image, shape, settings)
            self.conversions += 1
            self._image, self._shape = image, tuple(shape)
            self._settings, self._prepared = dict(settings), prepared
        return self._prepared

    def clear(self) -> None:
        """Let go of the image and the prepared array."""
        self._image = self._prepared = self._shape = None
        self._settings = {}
