"""All channels of a layer as one mosaic image, and the way back from a pixel.

A layer's output (C, H, W) is shown as a grid of tiles, one per channel, with
a gap between tiles. Drawing it as ONE image (DESIGN.md, "Fast pictures") is
what makes the feature-map panel fast; this module holds the arithmetic
behind that picture so tests can check it without Qt:

* ``plan_layout``: how many tile rows and columns, and where each tile sits;
* ``MosaicLayout.locate``: mosaic pixel → (channel, row, col), or None in a gap;
* ``normalise``: per-channel or per-layer scaling and the levels to show;
* ``assemble``: the tiles written into one float32 image, with a gap value
  between them that is drawn transparent;
* ``channel_statistics``: min/max/mean/zero share per channel and all-zero channels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import as_strided

PER_CHANNEL = "channel"
PER_LAYER = "layer"
NORMALISATIONS = (PER_CHANNEL, PER_LAYER)


@dataclass(frozen=True)
class TilePosition:
    channel: int
    row: int
    col: int


@dataclass(frozen=True)
class MosaicLayout:
    channels: int
    tile_height: int
    tile_width: int
    rows: int
    cols: int
    gap: int

    @property
    def pitch(self) -> tuple[int, int]:
        """Distance between the top-left corners of neighbouring tiles."""
        return (self.tile_height + self.gap, self.tile_width + self.gap)

    @property
    def shape(self) -> tuple[int, int]:
        """(height, width) of the whole mosaic image, without a trailing gap."""
        return (
            self.rows * self.pitch[0] - self.gap,
            self.cols * self.pitch[1] - self.gap,
        )

    def origin(self, channel: int) -> tuple[int, int]:
        """Mosaic (y, x) of the top-left pixel of `channel`'s tile."""
        if not 0 <= channel < self.channels:
            raise IndexError(f"channel {channel} is outside 0..{self.channels - 1}")
        grid_row, grid_col = divmod(channel, self.cols)
        return (grid_row * self.pitch[0], grid_col * self.pitch[1])

    def locate(self, y: float, x: float) -> TilePosition | None:
        """The channel and position under mosaic pixel (y, x); None in a gap or outside."""
        if y < 0 or x < 0:
            return None
        grid_row, in_y = divmod(math.floor(y), self.pitch[0])
        grid_col, in_x = divmod(math.floor(x), self.pitch[1])
        if in_y >= self.tile_height or in_x >= self.tile_width or grid_col >= self.cols:
            return None
        channel = grid_row * self.cols + grid_col
        if channel >= self.channels:
            return None
        return TilePosition(channel, in_y, in_x)


def plan_layout(
    channels: int, tile_hw: tuple[int, int], aspect: float = 1.6, gap: int | None = None
) -> MosaicLayout:
    """A grid for `channels` tiles of `tile_hw` whose overall width/height is near `aspect`.

    The gap scales with the tile (about 6 %, at least one pixel) so tiles stay
    visibly apart whether they are 3 or 224 pixels wide.
    """
    if channels < 1:
        raise ValueError("a mosaic needs at least one channel")
    tile_h, tile_w = (max(1, int(v)) for v in tile_hw)
    if gap is None:
        gap = max(1, round(0.06 * max(tile_h, tile_w)))
    # cols·w / (rows·h) ≈ aspect with rows ≈ C/cols  →  cols ≈ sqrt(C·aspect·h/w)
    cols = round(math.sqrt(channels * aspect * tile_h / tile_w))
    cols = min(channels, max(1, cols))
    rows = -(-channels // cols)
    # Drop columns that a full last row does not need (e.g. 10 tiles in 4 cols → 3 rows
    # of 4; in 5 cols → 2 rows of 5, no empty cells).
    cols = -(-channels // rows)
    return MosaicLayout(channels, tile_h, tile_w, rows, cols, gap)


@dataclass(frozen=True)
class Normalised:
    values: np.ndarray  # (C, H, W) float32, what the colormap sees
    levels: tuple[float, float]  # the colormap's (low, high) for `values`


def layer_levels(maps: np.ndarray, symmetric: bool = False) -> tuple[float, float]:
    """(min, max) of the whole layer, or ±max|v| for a colormap centred on zero.

    A constant layer gets a range of 1 around its value so that the colormap
    never divides by zero.
    """
    finite = maps[np.isfinite(maps)] if not np.isfinite(maps).all() else maps
    if finite.size == 0:
        return (0.0, 1.0)
    return levels_of_range(float(finite.min()), float(finite.max()), symmetric)


def levels_of_range(low: float, high: float, symmetric: bool = False) -> tuple[float, float]:
    """The colormap's (low, high) for values from `low` to `high`: ±max|v| when
    centred on zero, and a range of 1 around a constant."""
    if symmetric:
        bound = max(abs(low), abs(high))
        low, high = -bound, bound
    if high <= low:
        return (low - 0.5, high + 0.5)
    return (low, high)


def normalise(maps: np.ndarray, mode: str = PER_CHANNEL, symmetric: bool = False) -> Normalised:
    """Scale a layer's maps for display.

    Per layer: the values as they are, levels = the layer's range, so tiles
    can be compared with each other. Per channel: each channel scaled to
    [0, 1] by its own min and max (or to [-1, 1] by its own max |v| when
    `symmetric`), so a weak channel's pattern is as visible as a strong one's.
    A constant channel becomes 0 (its pattern is "nothing").
    """
    maps = np.asarray(maps, dtype=np.float32)
    if maps.ndim != 3:
        raise ValueError(f"feature maps must be (C, H, W), got shape {maps.shape}")
    if mode == PER_LAYER:
        return Normalised(maps, layer_levels(maps, symmetric))
    if mode != PER_CHANNEL:
        raise ValueError(f"unknown normalisation {mode!r} (choose {' or '.join(NORMALISATIONS)})")
    flat = maps.reshape(maps.shape[0], -1)
    if symmetric:
        bound = np.abs(flat).max(axis=1)
        scale = np.divide(1.0, bound, out=np.zeros_like(bound), where=bound > 0)
        values = maps * scale[:, None, None]
        return Normalised(values.astype(np.float32, copy=False), (-1.0, 1.0))
    low = flat.min(axis=1)
    span = flat.max(axis=1) - low
    scale = np.divide(1.0, span, out=np.zeros_like(span), where=span > 0)
    values = (maps - low[:, None, None]) * scale[:, None, None]
    return Normalised(values.astype(np.float32, copy=False), (0.0, 1.0))


def assemble(
    tiles: np.ndarray,
    layout: MosaicLayout,
    out: np.ndarray | None = None,
    gap: float = np.nan,
) -> np.ndarray:
    """The tiles (C, H, W) written into one C-contiguous float32 image.

    Gaps hold `gap`: NaN by default (pyqtgraph draws it transparent, but has to
    find it on every paint), or a value below the colour levels that a lookup
    table maps to transparent (what the panels do; see qt/style/colormaps.py).
    Pass the previous result as `out` to reuse its memory when the layout is
    unchanged (the panel does on every update).
    """
    c, h, w = tiles.shape
    if (c, h, w) != (layout.channels, layout.tile_height, layout.tile_width):
        raise ValueError(f"tiles {tiles.shape} do not match the layout")
    shape = layout.shape
    if out is None or out.shape != shape or out.dtype != np.float32 or not out.flags.c_contiguous:
        out = np.empty(shape, dtype=np.float32)
    out.fill(gap)
    # A (grid row, grid col, y, x) view of the tiles inside the image: every
    # index it can address lies inside `out`, so one assignment copies all tiles.
    row_stride, col_stride = out.strides
    pitch_h, pitch_w = layout.pitch
    grid = as_strided(
        out,
        shape=(layout.rows, layout.cols, h, w),
        strides=(pitch_h * row_stride, pitch_w * col_stride, row_stride, col_stride),
    )
    whole_rows, rest = divmod(c, layout.cols)
    if whole_rows:
        grid[:whole_rows] = tiles[: whole_rows * layout.cols].reshape(whole_rows, layout.cols, h, w)
    if rest:
        grid[whole_rows, :rest] = tiles[whole_rows * layout.cols :]
    return out


@dataclass(frozen=True)
class ChannelStatistics:
    minimum: np.ndarray  # (C,)
    maximum: np.ndarray
    mean: np.ndarray
    zero_fraction: np.ndarray
    # (C,) bool: every value exactly zero for this image. Inactive here, not
    # necessarily a dead unit (zero for every input), which one image cannot show.
    dead: np.ndarray

    @property
    def dead_channels(self) -> list[int]:
        return [int(i) for i in np.flatnonzero(self.dead)]


def channel_statistics(maps: np.ndarray) -> ChannelStatistics:
    """Per-channel statistics of (C, H, W) maps. `dead` marks channels that are
    all zeros: after a ReLU, every input to that unit was ≤ 0 for this image."""
    flat = np.asarray(maps).reshape(maps.shape[0], -1)
    zero_fraction = (flat == 0).mean(axis=1)
    return ChannelStatistics(
        minimum=flat.min(axis=1),
        maximum=flat.max(axis=1),
        mean=flat.mean(axis=1),
        zero_fraction=zero_fraction,
        dead=zero_fraction == 1.0,
    )


def image_for_display(image: np.ndarray) -> np.ndarray:
    """A network input (C, H, W) as something a screen can show, values in [0, 1].

    3 channels → (H, W, 3) RGB; anything else → (H, W) grey of the channel mean.
    The input may be normalised (e.g. ImageNet mean/std), so it is rescaled by
    its own range rather than clipped.
    """
    image = np.asarray(image, dtype=np.float32)
    if image.ndim != 3:
        raise ValueError(f"an input image must be (C, H, W), got shape {image.shape}")
    picture = image.transpose(1, 2, 0) if image.shape[0] == 3 else image.mean(axis=0)
    low, high = float(picture.min()), float(picture.max())
    if low >= 0.0 and high <= 1.0:
        return np.ascontiguousarray(picture)
    span = high - low
    scaled = (picture - low) / span if span > 0 else np.zeros_like(picture)
    return np.ascontiguousarray(scaled, dtype=np.float32)
