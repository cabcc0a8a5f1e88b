"""The feature-map panel's mosaic: every channel of a layer in one image of numbered tiles.

``MosaicPanel`` (the base of FeatureMapPanel) owns the mosaic view: the
screen-sized tiles, normalised per channel or per layer, assembled into one
image with all-zero channels marked and a colour bar with the value range
beside it. The grid keeps its layout while the shape stays the same (the view
does not jump on every edit) and is planned again when the view's shape suits
another column count. Large maps are drawn from every stride-th value and
stretched over the full maps' extent, so positions on the mosaic
(``layout_``) are the full maps' and hover reads exact values from ``maps``.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from cnnviz.core.display_maps import LayerPictures, normalise_tiles, scaled_layout
from cnnviz.core.mosaic import (
    PER_CHANNEL,
    ChannelStatistics,
    MosaicLayout,
    Normalised,
    assemble,
    plan_layout,
)
from cnnviz.qt.panels._overlays import TileLabels, cell_marker
from cnnviz.qt.panels.base import Panel, colour_bar, graphics_widget, image_view_box, set_picture
from cnnviz.qt.style import colormaps


class MosaicPanel(Panel):
    """A panel with one layer's channels in a mosaic; the subclass draws the rest."""

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.colormap_name = colormaps.DEFAULT
        self.normalisation = PER_CHANNEL
        # Where the full maps' values lie in the mosaic (hover, labels, markers) ...
        self.layout_: MosaicLayout | None = None
        # ... and the grid of the sampled tiles the mosaic image is made of.
        self._grid: MosaicLayout | None = None
        self.pictures: LayerPictures | None = None
        self.normalised: Normalised | None = None
        self.stats: ChannelStatistics | None = None
        self.maps: np.ndarray | None = None
        self.selected_channel = 0
        self._mosaic_buffer: np.ndarray | None = None

    def _build_mosaic(self) -> None:
        """The mosaic's view, image, tile labels, marker and colour bar (the subclass
        calls this where it builds its views, and lays ``mosaic_widget`` out)."""
        self.mosaic_widget = graphics_widget()
        self.mosaic_view = image_view_box()
        self.mosaic_widget.addItem(self.mosaic_view, row=0, col=0)
        self.mosaic_item = pg.ImageItem()
        self.mosaic_view.addItem(self.mosaic_item)
        self.tile_labels = TileLabels()
        self.tile_labels.setZValue(5)
        self.mosaic_view.addItem(self.tile_labels)
        self.mosaic_marker = cell_marker(self.mosaic_view)
        self.bar = colour_bar(colormaps.colormap(self.colormap_name), "value")
        self.mosaic_widget.addItem(self.bar, row=0, col=1)
        self.mosaic_view.sigResized.connect(self._view_resized)

    def _draw_mosaic(self) -> None:
        """Normalise the screen-sized tiles, assemble them into the one mosaic image
        and set it (no item is created). Large maps are drawn from every stride-th
        value, the image stretched over the full maps' extent so that positions
        on it are the full maps' (hover reads exact values from `maps`)."""
        assert self.pictures is not None and self.stats is not None
        tiles, stride = self.pictures.tiles, self.pictures.stride
        diverging = colormaps.is_diverging(self.colormap_name)
        self.normalised = normalise_tiles(tiles, self.stats, self.normalisation, diverging)
        grid = self._plan(tiles.shape[0], tiles.shape[1:])
        self._grid, self.layout_ = grid, scaled_layout(grid, stride)
        levels, gap = colormaps.gapped_levels(self.normalised.levels)
        self._mosaic_buffer = assemble(self.normalised.values, grid, self._mosaic_buffer, gap=gap)
        height, width = grid.shape
        # A new size (another layer, a re-planned grid) is fitted; else the zoom stays.
        set_picture(
            self.mosaic_view,
            self.mosaic_item,
            self._mosaic_buffer,
            padding=0.01,
            autoLevels=False,
            levels=levels,
            rect=QtCore.QRectF(0, 0, width * stride, height * stride),
        )
        self.mosaic_item.setLookupTable(colormaps.gapped_lookup_table(self.colormap_name))
        channels, shape = grid.channels, self.layout_.shape
        self.tile_labels.set_tiles(self._tile_rect, channels, shape, dead=self.stats.dead)
        self.tile_labels.set_selected(self.selected_channel)
        self._update_colour_bar()

    def _plan(self, channels: int, tile_hw: tuple[int, int]) -> MosaicLayout:
        """Keep the current layout for the same shape (so the view does not jump
        on every edit); otherwise fit the grid to the view's shape."""
        grid = self._grid
        if (
            grid is not None
            and grid.channels == channels
            and (grid.tile_height, grid.tile_width) == tuple(tile_hw)
        ):
            return grid
        width, height = self.mosaic_view.width(), self.mosaic_view.height()
        aspect = width / height if width > 50 and height > 50 else 1.6
        return plan_layout(channels, tile_hw, aspect=aspect)

    def _view_resized(self) -> None:
        """Re-plan the grid when the view's shape now suits another column count
        (e.g. the dock was made wide): the same tiles, better use of the space."""
        if self._grid is None or self.maps is None or self.showing_hint:
            return
        width, height = self.mosaic_view.width(), self.mosaic_view.height()
        if width <= 50 or height <= 50:
            return
        grid = self._grid
        ideal = plan_layout(grid.channels, (grid.tile_height, grid.tile_width), width / height)
        if ideal.cols != grid.cols:
            self._grid = None
            self._draw_mosaic()

    def _tile_rect(self, channel: int) -> tuple[int, int, int, int]:
        y, x = self.layout_.origin(channel)
        return (y, x, self.layout_.tile_height, self.layout_.tile_width)

    def _update_colour_bar(self) -> None:
        assert self.normalised is not None
        self.bar.setColorMap(colormaps.colormap(self.colormap_name))
        self.bar.setLevels(self.normalised.levels, update_items=False)
        axis = self.bar.axis
        if self.normalisation == PER_CHANNEL:
            low, high = self.normalised.levels
            ticks = (
                [(low, "min"), (high, "max")] if low >= 0 else [(low, "−max|v|"), (high, "+max|v|")]
            )
            axis.setTicks([ticks])
            axis.setLabel("each tile scaled to its own range")
        else:
            axis.setTicks(None)
            axis.setLabel("value")

    def _mosaic_position(self, scene_pos) -> tuple[int, int, int] | None:
        if self.layout_ is None or not self.mosaic_view.sceneBoundingRect().contains(scene_pos):
            return None
        point = self.mosaic_view.mapSceneToView(scene_pos)  # the full maps' units
        tile = self.layout_.locate(point.y(), point.x())
        return None if tile is None else (tile.channel, tile.row, tile.col)
