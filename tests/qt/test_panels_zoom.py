"""Zoomable pictures: a picture of a new size is fitted whole into its view (whatever
overlay the previous, larger one left behind), and a person's zoom survives what
keeps the size (an edit, another channel). Checked on the views' ranges."""

from __future__ import annotations

import numpy as np
from panel_inputs import move_mouse, panel_input, shown_panel

from cnnviz.qt.panels.feature_maps import FeatureMapPanel
from cnnviz.qt.panels.filters import FiltersPanel
from cnnviz.qt.panels.pooling import PoolingPanel


def fitted(view, image: np.ndarray) -> bool:
    """The whole picture is in view and fills it along one axis (square pixels
    leave room along the other)."""
    (x0, x1), (y0, y1) = view.viewRange()
    height, width = image.shape[:2]
    inside = x0 <= 0 and y0 <= 0 and x1 >= width and y1 >= height
    return inside and min((x1 - x0) / width, (y1 - y0) / height) < 1.1


def zoom_in(view) -> np.ndarray:
    view.scaleBy((0.5, 0.5))
    return np.array(view.viewRange())


def same_range(view, before: np.ndarray) -> bool:
    return np.allclose(view.viewRange(), before)


# 64×64 maps at layer 0, 16×16 at layer 1.
SHRINKING = [
    {"type": "Conv2d", "out_channels": 4, "kernel_size": 3, "padding": 1},
    {"type": "MaxPool2d", "kernel_size": 4},
]


def test_feature_maps_fit_a_smaller_layer_and_keep_a_zoom_on_the_same_size(qtbot):
    panel = shown_panel(qtbot, FeatureMapPanel, (1000, 700))
    panel.show(panel_input(SHRINKING, 0, size=64))
    panel.select_channel(3)
    panel.highlight(3, 63, 63)  # marks a cell far beyond where the next mosaic ends
    panel.show(panel_input(SHRINKING, 1, size=64))
    assert panel.maps.shape == (4, 16, 16)
    assert fitted(panel.mosaic_view, panel.mosaic_item.image)
    assert fitted(panel.side.channel_view, panel.side.channel_item.image)
    # A smaller input (another network) is fitted too.
    panel.show(panel_input(SHRINKING, 1, size=32))
    assert fitted(panel.side.input_view, panel.side.input_item.image)
    # Same sizes: the zoom stays, for another channel and for new values (an edit).
    mosaic, channel = zoom_in(panel.mosaic_view), zoom_in(panel.side.channel_view)
    panel.select_channel(1)
    panel.show(panel_input(SHRINKING, 1, size=32, seed=5))
    assert same_range(panel.mosaic_view, mosaic)
    assert same_range(panel.side.channel_view, channel)


# Layer 1 pools 32×32 into 16×16, layer 2 pools 16×16 into 4×4.
POOLS = [
    {"type": "Conv2d", "out_channels": 3, "kernel_size": 3, "padding": 1},
    {"type": "MaxPool2d", "kernel_size": 2},
    {"type": "MaxPool2d", "kernel_size": 4},
]


def test_pooling_fits_a_smaller_layer_and_keeps_a_zoom_on_the_same_size(qtbot):
    panel = shown_panel(qtbot, PoolingPanel, (1000, 600))
    panel.show(panel_input(POOLS, 1, size=32))
    panel.highlight(15, 15)  # the spotlight and the marker at the far corner
    panel.show(panel_input(POOLS, 2, size=32))
    assert panel.input_map.shape == (16, 16) and panel.output_map.shape == (4, 4)
    assert fitted(panel.input_view, panel.input_item.image)
    assert fitted(panel.output_view, panel.output_item.image)
    before = zoom_in(panel.input_view)
    panel.show(panel_input(POOLS, 2, size=32, seed=5))
    panel.set_channel(1)
    assert same_range(panel.input_view, before)


# Layer 0: 8 filters of 3×5×5 (a wide grid), layer 2: 2 filters of 8×3×3.
CONVS = [
    {"type": "Conv2d", "out_channels": 8, "kernel_size": 5},
    {"type": "ReLU"},
    {"type": "Conv2d", "out_channels": 2, "kernel_size": 3},
]


def test_filters_fit_a_smaller_grid_whatever_was_hovered(qtbot):
    panel = shown_panel(qtbot, FiltersPanel, (1000, 700))
    panel.show(panel_input(CONVS, 0, channels=3, size=16))
    y, x = panel.layout_.origin(8 * 3 - 1)  # the last tile: filter 7, input 2
    move_mouse(qtbot, panel.widget, panel.grid_item, x + 2.5, y + 2.5)
    assert "filter 7, input 2" in panel.hover_label.text()  # marked far down the grid
    panel.show(panel_input(CONVS, 2, channels=3, size=16))
    assert panel.weight.shape == (2, 8, 3, 3)
    assert fitted(panel.plot.getViewBox(), panel.grid)
