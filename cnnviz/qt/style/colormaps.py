"""The colormaps the panels offer, as pyqtgraph ColorMaps and 256-entry lookup tables.

All ship with pyqtgraph (matplotlib's perceptually uniform maps and
Kovesi's CET maps), so nothing is downloaded. Diverging maps are for values
with a meaningful zero (weights, pre-activation maps): the panels centre
their levels on zero when one is chosen.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pyqtgraph as pg

# Display name → pyqtgraph colormap name.
_SOURCES = {
    "viridis": "viridis",
    "magma": "magma",
    "inferno": "inferno",
    "grey": "CET-L1",
    "blue–white–red": "CET-D1",
    "turbo": "turbo",
}
DIVERGING = frozenset({"blue–white–red"})
NAMES = tuple(_SOURCES)
DEFAULT = "viridis"
DEFAULT_DIVERGING = "blue–white–red"


@cache
def colormap(name: str) -> pg.ColorMap:
    """The pyqtgraph ColorMap for a display name (KeyError names the choices)."""
    try:
        source = _SOURCES[name]
    except KeyError:
        raise KeyError(f"unknown colormap {name!r} (choose from {', '.join(NAMES)})") from None
    return pg.colormap.get(source)


@cache
def lookup_table(name: str) -> np.ndarray:
    """(256, 4) uint8 RGBA, for ImageItem.setLookupTable and for numpy colouring."""
    table = colormap(name).getLookupTable(0.0, 1.0, 256, alpha=True)
    table = np.asarray(table, dtype=np.uint8)
    table.setflags(write=False)
    return table


@cache
def gapped_lookup_table(name: str) -> np.ndarray:
    """(256, 4) uint8: entry 0 transparent, entries 1…255 the colormap.

    For mosaics: their gaps hold a value below the levels (``gapped_levels``)
    and come out transparent while the image stays an 8-bit indexed picture,
    which Qt draws without pyqtgraph searching the image for NaNs and
    colouring every pixel itself (measured: about 3× faster to paint).
    """
    samples = colormap(name).getLookupTable(0.0, 1.0, 255, alpha=True)
    table = np.zeros((256, 4), dtype=np.uint8)
    table[1:] = samples
    table.setflags(write=False)
    return table


def gapped_levels(levels: tuple[float, float]) -> tuple[tuple[float, float], float]:
    """Levels for an image drawn with ``gapped_lookup_table``, and the gap value.

    pyqtgraph picks entry ⌊(v − low′)·256 / (high′ − low′)⌋ clipped to 0…255;
    with these levels `low` lands on entry 1, `high` on 255, the 255 colours
    are spread evenly over (low, high), and the gap value on entry 0.
    """
    low, high = levels
    if high <= low:
        high = low + 1.0
    span = (high - low) * 256.0 / 255.0
    shifted_low = low - (high - low) / 255.0
    return (shifted_low, shifted_low + span), shifted_low - span


def is_diverging(name: str) -> bool:
    return name in DIVERGING


def colourise(values: np.ndarray, name: str, levels: tuple[float, float] = (0.0, 1.0)):
    """Scalar values → (…, 4) uint8 RGBA through the colormap; NaN → transparent.

    For small composite pictures (the overview strip) that mix colour-mapped
    maps with an RGB input in one image.
    """
    low, high = levels
    span = high - low if high > low else 1.0
    scaled = (np.asarray(values, dtype=np.float32) - low) / span
    nan = np.isnan(scaled)
    index = (np.clip(np.nan_to_num(scaled), 0.0, 1.0) * 255 + 0.5).astype(np.uint8)
    rgba = lookup_table(name)[index]
    rgba[nan] = 0
    return rgba
