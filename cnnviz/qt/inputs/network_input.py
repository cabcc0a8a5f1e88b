"""The array the network sees: the loaded image (or a default) made to fit the input.

Decoding and preprocessing live in `cnnviz.core.images`; this module only
picks the source (the person's image, else a bundled sample that suits the
network, else a generated pattern with edges) and calls the converter. No Qt
here, so the logic is testable on its own.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

try:  # written concurrently by another engineer; the window works without it
    from cnnviz.core import images as _images
except ImportError:  # pragma: no cover - only before the module lands
    _images = None


def pattern(height: int, width: int) -> np.ndarray:
    """A colourful test card with edges in every direction, (H, W, 3) in [0, 1]."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    y /= max(height - 1, 1)
    x /= max(width - 1, 1)
    image = np.stack([x, y, 1.0 - 0.5 * (x + y)], axis=-1) * 0.55 + 0.2
    disc = (x - 0.32) ** 2 + (y - 0.38) ** 2 < 0.045
    image[disc] = (0.95, 0.85, 0.2)
    square = (np.abs(x - 0.7) < 0.16) & (np.abs(y - 0.62) < 0.16)
    image[square] = (0.1, 0.15, 0.45)
    stripes = (y > 0.8) & (np.sin((x + y) * 40) > 0)
    image[stripes] = 0.95
    return np.ascontiguousarray(image, dtype=np.float32)


def default_sample(channels: int):
    """A bundled sample that suits the network: a digit for 1 channel, else a photo."""
    try:
        from cnnviz.core import samples
    except ImportError:
        return None
    try:
        chosen = samples.default_sample(channels)
    except (KeyError, ValueError):
        return None
    return chosen if chosen.path.is_file() else None


def make_preprocessing(settings: dict[str, Any]):
    """The images module's Preprocessing from saved settings (None without the module)."""
    if _images is None:
        return None
    try:
        return _images.Preprocessing.from_json(settings or {})
    except (TypeError, ValueError) as exc:
        log.warning("ignored unusable preprocessing settings: %s", exc)
        return _images.Preprocessing()


def _fallback_convert(image: np.ndarray, channels: int, height: int, width: int) -> np.ndarray:
    """Nearest-neighbour resize and channel fit, used only without cnnviz.core.images."""
    if image.ndim == 2:
        image = image[..., None]
    rows = (np.arange(height) * image.shape[0] / height).astype(int)
    cols = (np.arange(width) * image.shape[1] / width).astype(int)
    resized = image[rows][:, cols].transpose(2, 0, 1)
    if channels == resized.shape[0]:
        out = resized
    elif channels == 1:
        out = resized.mean(axis=0, keepdims=True)
    else:
        out = np.repeat(resized.mean(axis=0, keepdims=True), channels, axis=0)
    return np.ascontiguousarray(out, dtype=np.float32)


def to_network_input(
    image: np.ndarray, shape: tuple[int, int, int], settings: dict[str, Any]
) -> np.ndarray:
    """`image` (H, W[, 3]) in [0, 1] as the (C, H, W) float32 input of the network."""
    channels, height, width = shape
    if _images is not None:
        prep = make_preprocessing(settings)
        out = _images.to_network_input(image, channels, height, width, prep)
        return np.ascontiguousarray(out, dtype=np.float32)
    return _fallback_convert(image, channels, height, width)


def load_image_file(path: str) -> np.ndarray:
    """Decode an image file; ValueError (ImageError) with a one-line reason."""
    if _images is None:
        raise ValueError("images cannot be opened yet: cnnviz.core.images is missing")
    return _images.load_image(path)
