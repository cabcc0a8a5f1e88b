"""The Training panel's grid of the first conv layer's filters as they learn."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg

from cnnviz.core.mosaic import MosaicLayout, assemble, plan_layout
from cnnviz.qt.panels.base import float_c, image_view_box
from cnnviz.qt.style import colormaps

pg.setConfigOptions(imageAxisOrder="row-major")


def filter_tiles(weight: np.ndarray) -> np.ndarray:
    """(O, I, kh, kw) → (O, kh, kw): each filter, averaged over its input channels,
    scaled to [-1, 1] by its own largest weight so faint filters still show."""
    tiles = np.asarray(weight, dtype=np.float32).mean(axis=1)
    scale = np.abs(tiles).reshape(len(tiles), -1).max(axis=1)
    return tiles / np.where(scale > 0, scale, 1.0)[:, None, None]


class FilterGrid:
    """The first conv layer's filters as one mosaic image (created once, then updated)."""

    def __init__(self, canvas: pg.GraphicsLayoutWidget) -> None:
        self.box = image_view_box()
        canvas.addItem(self.box, row=0, col=0)
        self.item = pg.ImageItem()
        self.item.setLookupTable(colormaps.gapped_lookup_table(colormaps.DEFAULT_DIVERGING))
        self.box.addItem(self.item)
        self.clear()

    def clear(self) -> None:
        self.layout: MosaicLayout | None = None
        self.image: np.ndarray | None = None
        self.layer: int | None = None
        self._fitted: tuple[int, ...] | None = None  # the mosaic shape the view fits
        self.item.clear()

    def show(self, filters: dict[int, tuple[np.ndarray, np.ndarray | None]]) -> bool:
        """Draw the first conv layer's filters; False when there are none."""
        if not filters:
            return False
        self.layer = min(filters)
        tiles = filter_tiles(filters[self.layer][0])
        o, kh, kw = tiles.shape
        if self.layout is None or (self.layout.channels, self.layout.tile_height) != (o, kh):
            self.layout = plan_layout(o, (kh, kw), aspect=8.0, gap=max(1, kh // 4))
            self.image = None
        # A hair wider than ±1: the largest weight (exactly ±1 after scaling) must not
        # round below the lowest level, which the gapped lookup table draws transparent.
        levels, gap = colormaps.gapped_levels((-1.001, 1.001))
        self.image = assemble(tiles, self.layout, out=self.image, gap=gap)
        self.item.setImage(float_c(self.image), autoLevels=False, levels=levels)
        if self.image.shape != self._fitted:  # the same mosaic keeps its fit
            self._fitted = self.image.shape
            self.box.autoRange(padding=0.02)
        return True
