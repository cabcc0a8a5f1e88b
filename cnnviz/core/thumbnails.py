"""Small pictures of every layer's output, side by side: the overview strip.

Each layer becomes one thumbnail of a common height: the mean of its channels
(or its strongest channel), scaled to [0, 1]; a vector output becomes a band
of its values. Nearest-neighbour resizing keeps pixels square, so the strip
shows resolution falling layer after layer (64×64 → 30×30 → 13×13).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MEAN = "mean"
STRONGEST = "strongest"
REPRESENTATIVES = (MEAN, STRONGEST)


def _unit_range(picture: np.ndarray) -> np.ndarray:
    picture = np.asarray(picture, dtype=np.float32)
    low, high = float(picture.min()), float(picture.max())
    if high <= low:
        return np.zeros_like(picture)
    return (picture - low) / (high - low)


def strongest_channel(maps: np.ndarray) -> int:
    """The channel with the largest mean absolute activation."""
    return int(np.abs(maps.reshape(maps.shape[0], -1)).mean(axis=1).argmax())


def representative(output: np.ndarray, mode: str = MEAN) -> np.ndarray:
    """One 2-D picture in [0, 1] for a layer's output: (C, H, W) → (H, W);
    a vector (N,) → (1, N); other ranks are flattened to a vector."""
    output = np.asarray(output)
    if output.ndim == 3:
        if mode == STRONGEST:
            picture = output[strongest_channel(output)]
        elif mode == MEAN:
            picture = output.mean(axis=0)
        else:
            choices = " or ".join(REPRESENTATIVES)
            raise ValueError(f"unknown representative {mode!r} (choose {choices})")
        return _unit_range(picture)
    return _unit_range(output.reshape(1, -1))


def reduce_vector(values: np.ndarray, length: int) -> np.ndarray:
    """A (1, N) band shortened to at most `length` columns by block means,
    so no value is skipped."""
    values = np.asarray(values).reshape(-1)
    if values.size <= length:
        return values.reshape(1, -1)
    block = -(-values.size // length)
    blocks = -(-values.size // block)  # ≤ length, and every block holds a value
    padded = np.full(block * blocks, np.nan, dtype=np.float32)
    padded[: values.size] = values
    return np.nanmean(padded.reshape(blocks, block), axis=1).reshape(1, -1)


def resize_nearest(picture: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Nearest-neighbour resize of (H, W) or (H, W, C) to `size` (h, w)."""
    height, width = picture.shape[:2]
    rows = np.minimum((np.arange(size[0]) * height) // size[0], height - 1)
    cols = np.minimum((np.arange(size[1]) * width) // size[1], width - 1)
    return picture[rows[:, None], cols[None, :]]


def thumbnail_size(hw: tuple[int, int], height: int, is_vector: bool = False) -> tuple[int, int]:
    """Size of a thumbnail `height` high: the map's aspect kept (limited to 1:3..3:1);
    a vector becomes a band a third as high and twice as wide."""
    if is_vector:
        return (max(1, height // 3), 2 * height)
    h, w = hw
    width = round(w * height / h)
    return (height, int(min(max(width, height // 3), 3 * height)))


@dataclass(frozen=True)
class StripLayout:
    """Where each thumbnail sits in the strip: left x, width and height."""

    lefts: tuple[int, ...]
    widths: tuple[int, ...]
    heights: tuple[int, ...]
    height: int
    gap: int

    @property
    def width(self) -> int:
        return self.lefts[-1] + self.widths[-1] if self.lefts else 0

    def top(self, index: int) -> int:
        """Thumbnails are centred vertically in the strip."""
        return (self.height - self.heights[index]) // 2

    def locate(self, x: float, y: float) -> int | None:
        """The thumbnail under strip pixel (x, y), or None."""
        for index, (left, width) in enumerate(zip(self.lefts, self.widths, strict=True)):
            top = self.top(index)
            if left <= x < left + width and top <= y < top + self.heights[index]:
                return index
        return None


def plan_strip(sizes: list[tuple[int, int]], gap: int) -> StripLayout:
    lefts, x = [], 0
    for _, width in sizes:
        lefts.append(x)
        x += width + gap
    heights = tuple(h for h, _ in sizes)
    return StripLayout(
        tuple(lefts), tuple(w for _, w in sizes), heights, max(heights, default=0), gap
    )
