"""A layer's pictures at screen resolution, prepared once, off the GUI thread.

A VGG-11 at 896 px gives 51 million values; normalising them, finding each
channel's range and the strongest channel, and assembling them into a mosaic
froze the window for seconds. A screen shows a few million pixels at most, so
the maps are shown as every `stride`-th value (exact values at those places,
no averaging) and everything that needs a pass over all values is done here,
once, by the compute thread right after the forward (``prepare_result``),
and kept with the layer's result (``LayerActivation.pictures``). Panels keep
the full output for what needs exact values (hover, the channel view).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from cnnviz.core.mosaic import (
    PER_CHANNEL,
    PER_LAYER,
    ChannelStatistics,
    MosaicLayout,
    Normalised,
    levels_of_range,
)

log = logging.getLogger(__name__)

# About half a full-HD screen (1920 × 1080 = 2 M pixels): the most a dock beside
# the stack shows; a mosaic bigger than this cannot be seen at one map value per
# screen pixel. Each mosaic pixel costs the GUI thread on every draw and paint.
SCREEN_PIXELS = 1_000_000


def display_stride(shape: tuple[int, ...], screen_pixels: int = SCREEN_PIXELS) -> int:
    """The smallest step s so that every s-th row and column of all channels fits
    in `screen_pixels` (1: the maps are shown whole)."""
    channels, height, width = shape
    stride = 1
    while channels * math.ceil(height / stride) * math.ceil(width / stride) > screen_pixels:
        stride += 1
    return stride


@dataclass(frozen=True)
class LayerPictures:
    """What the panels draw of one (C, H, W) output, prepared once."""

    statistics: ChannelStatistics  # of the full maps
    strongest: int  # the channel with the largest mean |value|
    stride: int
    tiles: np.ndarray  # (C, ceil(H/stride), ceil(W/stride)) float32: output[:, ::s, ::s]
    mean_picture: np.ndarray  # (H, W) mean of the channels, scaled to [0, 1]

    def strongest_picture(self, output: np.ndarray) -> np.ndarray:
        return unit_range(output[self.strongest])


def unit_range(picture: np.ndarray) -> np.ndarray:
    picture = np.asarray(picture, dtype=np.float32)
    low, high = float(picture.min()), float(picture.max())
    if high <= low:
        return np.zeros_like(picture)
    return (picture - low) / (high - low)


def prepare(output: np.ndarray, screen_pixels: int = SCREEN_PIXELS) -> LayerPictures | None:
    """The pictures of a (C, H, W) output; None for any other shape."""
    if output.ndim != 3 or output.size == 0:
        return None
    statistics, mean_abs = _channel_statistics(output)
    stride = display_stride(output.shape, screen_pixels)
    tiles = output if stride == 1 else np.ascontiguousarray(output[:, ::stride, ::stride])
    return LayerPictures(
        statistics, int(mean_abs.argmax()), stride, tiles, unit_range(output.mean(axis=0))
    )


def _channel_statistics(output: np.ndarray) -> tuple[ChannelStatistics, np.ndarray]:
    """``mosaic.channel_statistics`` and each channel's mean |value|, one channel at
    a time: whole-layer temporaries (|values|, values == 0) are hundreds of MB at
    896 px, allocated and page-faulted anew for every forward; one channel's stay
    small and in cache (0.8 s → 0.15 s for VGG-11's first layer at 896 px)."""
    flat = output.reshape(output.shape[0], -1)
    count = flat.shape[1]
    rows = np.empty((5, flat.shape[0]), dtype=np.float64)
    for channel, values in enumerate(flat):
        rows[:, channel] = (
            values.min(),
            values.max(),
            values.mean(dtype=np.float64),
            count - np.count_nonzero(values),
            np.abs(values).mean(dtype=np.float64),
        )
    zero_fraction = rows[3] / count
    statistics = ChannelStatistics(
        minimum=rows[0].astype(output.dtype),
        maximum=rows[1].astype(output.dtype),
        mean=rows[2].astype(output.dtype),
        zero_fraction=zero_fraction,
        dead=zero_fraction == 1.0,
    )
    return statistics, rows[4]


def prepare_result(result, should_stop: Callable[[], bool] = lambda: False) -> None:
    """Compute and keep every layer's statistics and pictures (the compute thread
    does, so that the GUI thread finds them ready); stops early when asked."""
    try:
        for layer in result.layers:
            if should_stop():
                return
            layer.stats  # noqa: B018 (a cached property: computed here, kept)
            layer.pictures  # noqa: B018
    except Exception:  # the GUI then computes what it needs itself
        log.exception("pictures of result %s could not be prepared", result.request_id)


def normalise_tiles(
    tiles: np.ndarray,
    statistics: ChannelStatistics,
    mode: str = PER_CHANNEL,
    symmetric: bool = False,
    channels: slice | None = None,
) -> Normalised:
    """``mosaic.normalise`` of maps (or a sample of them) with the ranges of the full
    maps, so a sample is coloured as the whole would be. `channels`: which channels
    of the statistics `tiles` holds (all by default)."""
    tiles = np.asarray(tiles, dtype=np.float32)
    picked = slice(None) if channels is None else channels
    low, high = statistics.minimum[picked], statistics.maximum[picked]
    if mode == PER_LAYER:
        return Normalised(tiles, _layer_levels(statistics, symmetric))
    if mode != PER_CHANNEL:
        raise ValueError(f"unknown normalisation {mode!r}")
    if symmetric:
        bound = np.maximum(np.abs(low), np.abs(high)).astype(np.float32)
        scale = np.divide(1.0, bound, out=np.zeros_like(bound), where=bound > 0)
        values = tiles * scale[:, None, None]
        return Normalised(values.astype(np.float32, copy=False), (-1.0, 1.0))
    span = (high - low).astype(np.float32)
    scale = np.divide(1.0, span, out=np.zeros_like(span), where=span > 0)
    values = (tiles - low[:, None, None]) * scale[:, None, None]
    return Normalised(values.astype(np.float32, copy=False), (0.0, 1.0))


def _layer_levels(statistics: ChannelStatistics, symmetric: bool) -> tuple[float, float]:
    """``mosaic.layer_levels`` from the channels' ranges."""
    ends = np.concatenate([statistics.minimum, statistics.maximum])
    ends = ends[np.isfinite(ends)]
    if ends.size == 0:
        return (0.0, 1.0)
    return levels_of_range(float(ends.min()), float(ends.max()), symmetric)


def scaled_layout(layout: MosaicLayout, stride: int) -> MosaicLayout:
    """The mosaic of sampled tiles in the units of the full maps: each mosaic pixel
    covers stride × stride map values, so positions read off it are the full maps'
    (a tile may reach up to stride - 1 values past the map's edge)."""
    if stride == 1:
        return layout
    return replace(
        layout,
        tile_height=layout.tile_height * stride,
        tile_width=layout.tile_width * stride,
        gap=layout.gap * stride,
    )
