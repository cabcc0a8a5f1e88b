"""The feature-map panel: tiles are channels, the receptive field is the core's, clicks, hints."""

from __future__ import annotations

import numpy as np
import pytest
from panel_inputs import click, move_mouse, panel_input, shown_panel, with_output
from PySide6 import QtCore

from cnnviz.core.analysis import analyze
from cnnviz.core.architecture import Architecture, InputShape, Layer
from cnnviz.qt.panels._field_view import describe_field
from cnnviz.qt.panels.base import format_value
from cnnviz.qt.panels.feature_maps import FeatureMapPanel
from cnnviz.qt.style import colormaps

# 1×32×32 → conv k3 → ReLU → maxpool 2 → conv k3 s2 p1 (8×8 output)
STACK = [
    {"type": "Conv2d", "out_channels": 5, "kernel_size": 3},
    {"type": "ReLU"},
    {"type": "MaxPool2d", "kernel_size": 2},
    {"type": "Conv2d", "out_channels": 6, "kernel_size": 3, "stride": 2, "padding": 1},
    {"type": "Flatten"},
    {"type": "Linear", "out_features": 3},
]


def _painted(panel, index) -> tuple[int, int, int, int]:
    """RGBA that the mosaic image paints for maps[channel, row, col]."""
    channel, row, col = (int(v) for v in index)
    y, x = panel.layout_.origin(channel)
    panel.mosaic_item.render()
    colour = panel.mosaic_item.qimage.pixelColor(x + col, y + row)
    return (colour.red(), colour.green(), colour.blue(), colour.alpha())


@pytest.fixture
def panel(qtbot):
    return shown_panel(qtbot, FeatureMapPanel, (1000, 700))


def test_every_tile_shows_its_channel(panel):
    data = panel_input(STACK, 0, size=32)
    panel.set_normalisation("layer")
    panel.show(data)
    maps = data.activation().output
    image = panel.mosaic_item.image
    for channel in range(maps.shape[0]):
        y, x = panel.layout_.origin(channel)
        np.testing.assert_array_equal(image[y : y + 30, x : x + 30], maps[channel])
    assert not panel.showing_hint
    # What is painted: the layer's minimum in the colormap's first colour, its
    # maximum in the last, the gaps between tiles transparent.
    table = colormaps.lookup_table(colormaps.DEFAULT)
    low = np.unravel_index(np.argmin(maps), maps.shape)
    high = np.unravel_index(np.argmax(maps), maps.shape)
    assert _painted(panel, low) == tuple(table[0])
    assert _painted(panel, high) == tuple(table[255])
    panel.mosaic_item.render()
    assert panel.mosaic_item.qimage.pixelColor(30, 0).alpha() == 0  # gap column at x = 30


def test_per_channel_scaling_gives_each_tile_the_full_range(panel):
    data = panel_input(STACK, 3, size=32)
    panel.set_normalisation("channel")
    panel.show(data)
    maps = data.activation().output
    for channel in range(maps.shape[0]):
        y, x = panel.layout_.origin(channel)
        tile = panel.mosaic_item.image[y : y + 8, x : x + 8]
        low, high = maps[channel].min(), maps[channel].max()
        np.testing.assert_allclose(tile, (maps[channel] - low) / (high - low), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    ("layer", "position", "box"),
    [
        # Worked by hand: conv k3 → field 3, start 1; pool 2 → field 4, jump 2, start 1.5;
        # conv k3 s2 p1 → field 8, jump 4, start 1.5: output (r, c) sees rows 4r−2 … 4r+5.
        (3, (3, 5), (10, 18, 18, 26)),
        (3, (0, 0), (0, 0, 6, 6)),  # hangs 2 rows/cols over the padding
        (2, (4, 6), (8, 12, 12, 16)),
        (0, (7, 9), (7, 9, 10, 12)),
    ],
)
def test_hovering_a_map_outlines_its_receptive_field(qtbot, panel, layer, position, box):
    data = panel_input(STACK, layer, size=32)
    panel.show(data)
    channel = 2
    y, x = panel.layout_.origin(channel)
    row, col = position
    move_mouse(qtbot, panel.mosaic_widget, panel.mosaic_item, x + col + 0.5, y + row + 0.5)
    qtbot.waitUntil(
        lambda: panel.hover_label.text().startswith(f"channel {channel}, row {row}, col {col}")
    )
    assert panel.side.spotlight.box == box
    assert box == data.analysis.receptive_field_at(layer).box(row, col, (32, 32))
    top, left, bottom, right = box
    text = panel.field_label.text()
    assert (
        f"layer {layer}, channel {channel}, ({row}, {col}) sees input rows {top}–{bottom - 1}"
        in text
    )
    assert f"cols {left}–{right - 1}" in text
    value = data.activation().output[channel, row, col]
    assert f"{value:.4g}" in panel.hover_label.text()


def test_field_hanging_over_the_border_says_so(panel):
    panel.show(panel_input(STACK, 3, size=32))
    assert panel.highlight(0, 0, 0) == (0, 0, 6, 6)
    assert "(8×8); 6×6 of it inside the image, the rest is padding" in panel.field_label.text()
    assert panel.highlight(0, 99, 0) is None  # outside the map: nothing changes
    assert panel.field_box == (0, 0, 6, 6)


def test_clicking_a_tile_shows_that_channel_large(qtbot, panel):
    data = panel_input(STACK, 3, size=32)
    panel.set_normalisation("layer")
    panel.show(data)
    y, x = panel.layout_.origin(4)
    with qtbot.waitSignal(panel.channel_selected) as signal:
        click(qtbot, panel.mosaic_widget, panel.mosaic_item, x + 2.5, y + 3.5)
    assert signal.args == [4]
    assert panel.selected_channel == 4 and panel.tile_labels.selected == 4
    np.testing.assert_array_equal(panel.side.channel_item.image, data.activation().output[4])
    assert panel.side.channel_caption.text == "channel 4"
    assert panel.stats_label.text().startswith("channel 4: min")


def test_all_zero_channels_are_marked_but_not_called_dead(panel):
    # All zero for one image is "inactive for this image"; a dead unit is zero for
    # every input, which one image cannot show.
    data = panel_input(STACK, 1, size=32)
    maps = data.activation().output.copy()
    maps[[1, 3]] = 0.0
    panel.show(with_output(data, 1, maps))
    assert panel.stats.dead_channels == [1, 3]
    assert panel.tile_labels._dead.tolist() == [False, True, False, True, False]
    text = panel.stats_label.text()
    assert "2 all zero</b> for this image" in text and ": 1, 3" in text
    assert "not necessarily dead" in text and "2 dead" not in text
    panel.select_channel(3)
    assert panel.side.channel_caption.text == "channel 3 · all zero for this image"
    assert "(all zero for this image)" in panel.stats_label.text()


def test_an_invalid_layer_gives_its_own_reason(panel):
    stack = [*STACK[:2], {"type": "MaxPool2d", "kernel_size": 64}, {"type": "ReLU"}]
    panel.show(panel_input(stack, 2, size=32))
    assert panel.showing_hint
    assert "this layer is invalid; kernel 64x64 is larger" in panel.hint.text()
    assert "above it" not in panel.hint.text()
    panel.show(panel_input(stack, 3, size=32))
    assert "layer 2 MaxPool2d above it is invalid" in panel.hint.text()


def test_layers_without_maps_get_a_hint(panel):
    panel.show(panel_input(STACK, 4, size=32))
    assert panel.showing_hint
    assert "outputs a vector of 384 values" in panel.hint.text()
    panel.show(panel_input(STACK, 3, size=32))
    assert not panel.showing_hint


def test_colormap_and_scale_choices(panel):
    data = panel_input(STACK, 3, size=32)
    panel.show(data)
    panel.set_colormap("blue–white–red")
    assert panel.colormap_box.currentText() == "blue–white–red"
    panel.set_normalisation("layer")  # a diverging map centres the layer's range on zero
    maps = data.activation().output
    bound = np.abs(maps).max()
    assert panel.bar.levels() == pytest.approx((-bound, bound))
    table = colormaps.lookup_table("blue–white–red")
    strongest = np.unravel_index(np.argmax(np.abs(maps)), maps.shape)
    end = 255 if maps[strongest] > 0 else 0
    assert _painted(panel, strongest) == tuple(table[end])


def test_arrows_ask_for_the_next_layer_with_maps(qtbot, panel):
    panel.show(panel_input(STACK, 3, size=32))
    with qtbot.assertNotEmitted(panel.layer_selected):
        panel.next_button.click()  # after layer 3 only vectors follow
    with qtbot.waitSignal(panel.layer_selected) as signal:
        panel.previous_button.click()
    assert signal.args == [2]


def test_field_sentence_of_an_uneven_adaptive_window_names_its_own_size():
    # AdaptiveAvgPool2d 7×5 → 4×3: output (0, 0) averages rows 0–1, cols 0–1 (torch's
    # [0, 2) windows), a 2×2 field inside the image, though the largest field is 3×3.
    arch = Architecture(
        "t", InputShape(1, 7, 5), (Layer.make("AdaptiveAvgPool2d", output_size=(4, 3)),)
    )
    field = analyze(arch).receptive_field_at(0)
    text = describe_field(0, 0, 0, 0, field, (7, 5))
    assert text == "layer 0, channel 0, (0, 0) sees input rows 0–1, cols 0–1 (2×2)"
    assert describe_field(0, 0, 1, 1, field, (7, 5)).endswith("rows 1–3, cols 1–3 (3×3)")


def test_large_maps_are_drawn_screen_sized_and_hover_reads_the_exact_values(qtbot):
    from cnnviz.core.display_maps import SCREEN_PIXELS

    panel = shown_panel(qtbot, FeatureMapPanel, (900, 600))
    big = np.random.default_rng(3).standard_normal((5, 700, 700)).astype(np.float32)
    panel.show(with_output(panel_input(STACK, 0, size=32), 0, big))
    stride = panel.pictures.stride
    assert stride == 2 and panel.mosaic_item.image.size <= SCREEN_PIXELS
    channel, row, col = 3, 301, 457  # a value the mosaic does not sample
    y, x = panel.layout_.origin(channel)
    point = QtCore.QPointF((x + col + 0.5) / stride, (y + row + 0.5) / stride)  # image pixel
    qtbot.wait(20)  # the view takes its new range on the next turn of the event loop
    scene = panel.mosaic_item.mapToScene(point)
    assert panel._mosaic_position(scene) == (channel, row, col)
    # A real hover (a screen pixel spans several values here): the value under it, exact.
    move_mouse(qtbot, panel.mosaic_widget, panel.mosaic_item, point.x(), point.y())
    qtbot.waitUntil(lambda: (panel._highlighted or (0,))[0] == channel)
    _, row, col = panel._highlighted
    assert abs(row - 301) < 10 and abs(col - 457) < 10
    assert f"<b>{format_value(float(big[channel, row, col]))}</b>" in panel.hover_label.text()


def test_a_large_channel_beside_the_mosaic_is_screen_sized_and_positions_are_exact(qtbot):
    from cnnviz.qt.panels.feature_maps import CHANNEL_PIXELS

    panel = shown_panel(qtbot, FeatureMapPanel, (900, 600))
    big = np.random.default_rng(4).standard_normal((5, 700, 700)).astype(np.float32)
    panel.show(with_output(panel_input(STACK, 0, size=32), 0, big))
    panel.select_channel(2)
    item = panel.side.channel_item
    assert item.image.size <= CHANNEL_PIXELS < big[2].size
    qtbot.wait(20)  # the view takes its new range on the next turn of the event loop
    scene = item.mapToScene(QtCore.QPointF(457.5 / 2, 301.5 / 2))  # image pixel
    assert panel.side.channel_cell(scene) == (301, 457)
    panel._hover_channel(scene)
    assert f"<b>{format_value(float(big[2, 301, 457]))}</b>" in panel.hover_label.text()
