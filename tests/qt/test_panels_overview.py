"""The overview strip: one thumbnail per layer, a click selects that layer."""

from __future__ import annotations

import numpy as np
import pytest
from panel_inputs import click, panel_input, shown_panel

from cnnviz.core.thumbnails import resize_nearest, thumbnail_size
from cnnviz.qt.panels._overlays import fit_caption
from cnnviz.qt.panels.overview import THUMB_HEIGHT, OverviewPanel
from cnnviz.qt.style import colormaps

STACK = [
    {"type": "Conv2d", "out_channels": 3, "kernel_size": 3},
    {"type": "ReLU"},
    {"type": "MaxPool2d", "kernel_size": 2},
    {"type": "Flatten"},
    {"type": "Linear", "out_features": 5},
]


@pytest.fixture
def panel(qtbot):
    return shown_panel(qtbot, OverviewPanel, (1000, 220))


def test_one_thumbnail_per_layer_after_the_input(panel):
    data = panel_input(STACK, 2, channels=3, size=20)
    panel.show(data)
    assert panel.layer_indices == [-1, 0, 1, 2, 3, 4]
    assert panel.captions.selected == 3  # layer 2's thumbnail
    # The thumbnail of layer 1 is its channel mean, colour-mapped.
    mean = data.activation(1).output.mean(axis=0)
    unit = (mean - mean.min()) / (mean.max() - mean.min())
    size = thumbnail_size(mean.shape, THUMB_HEIGHT)
    expected = colormaps.colourise(resize_nearest(unit, size), colormaps.DEFAULT)
    top, left = panel.strip.top(2), panel.strip.lefts[2]
    shown = panel.picture[top : top + size[0], left : left + size[1]].astype(int)
    assert np.abs(shown - expected.astype(int)).max() <= 1


def test_clicking_a_thumbnail_selects_its_layer(qtbot, panel):
    panel.show(panel_input(STACK, 0, channels=3, size=20))
    strip = panel.strip
    x = strip.lefts[3] + strip.widths[3] / 2
    y = strip.top(3) + strip.heights[3] / 2
    with qtbot.waitSignal(panel.layer_selected) as signal:
        click(qtbot, panel.widget, panel.item, x, y)
    assert signal.args == [2]
    with qtbot.assertNotEmitted(panel.layer_selected):
        assert panel.click_at(strip.lefts[0] + 2, strip.top(0) + 2) is None  # the input


def test_strongest_channel_mode(panel):
    data = panel_input(STACK, 0, channels=3, size=20)
    panel.set_mode("strongest")
    panel.show(data)
    assert "strongest channel" in panel.note.text()


def test_hovering_a_thumbnail_gives_that_layers_statistics(panel):
    data = panel_input(STACK, 0, channels=3, size=20)
    panel.show(data)
    strip = panel.strip
    relu = data.activation(1).output
    text = panel.hover_at(strip.lefts[2] + 2, strip.top(2) + 2)  # layer 1's thumbnail
    assert text.startswith("layer 1 ReLU 3×18×18: ")
    assert f"max {relu.max():.4g}" in text
    assert f"{np.mean(relu == 0):.0%} zeros" in text
    assert panel.note.text() == text
    assert "hover one" in panel.hover_at(strip.lefts[0] + 2, strip.top(0) + 2)  # the input
    assert "hover one" in panel.hover_at(-50, -50)  # off the strip


def test_captions_keep_only_what_fits_whole():
    def width(text):  # 6 px a character
        return 6.0 * len(text)

    caption = "0 Conv2d\n8×28×28"
    assert fit_caption(caption, 60, width) == ["0 Conv2d", "8×28×28"]
    assert fit_caption(caption, 45, width) == ["0", "8×28×28"]
    assert fit_caption(caption, 30, width) == ["0"]  # not "0 C…" and "8×2…"
    assert fit_caption("10 Linear\n10", 20, width) == ["10", "10"]


def test_the_note_counts_layers_and_blocks_as_the_stack_does(panel):
    conv = {"type": "Conv2d", "out_channels": 3, "kernel_size": 3, "padding": 1}
    stack = [conv, {"type": "Residual", "body": [conv, {"type": "ReLU"}], "shortcut": []}]
    panel.show(panel_input(stack, 0, channels=3, size=12))
    assert panel.note.text().startswith("3 layers · 1 block · ")
    panel.show(panel_input(STACK, 0, channels=3, size=20))
    assert panel.note.text().startswith("5 layers · thumbnails")
