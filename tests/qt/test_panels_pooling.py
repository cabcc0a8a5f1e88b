"""The pooling panel: winner marks equal numpy's argmax, hovered windows, means explained."""

from __future__ import annotations

import numpy as np
import pytest
from panel_inputs import move_mouse, panel_input, shown_panel

from cnnviz.qt.panels.pooling import PoolingPanel


@pytest.fixture
def panel(qtbot):
    return shown_panel(qtbot, PoolingPanel, (900, 600))


def _numpy_argmax_marks(channel: np.ndarray, k: int, s: int):
    """(row, col) of each window's maximum, found with plain numpy, window by window."""
    out_h, out_w = (channel.shape[0] - k) // s + 1, (channel.shape[1] - k) // s + 1
    marks = []
    for i in range(out_h):
        for j in range(out_w):
            window = channel[i * s : i * s + k, j * s : j * s + k]
            r, c = np.unravel_index(np.argmax(window), window.shape)
            marks.append((i * s + r, j * s + c))
    return marks


@pytest.mark.parametrize(("kernel", "stride"), [(2, 2), (3, 2), (3, 1)])
def test_max_pooling_marks_are_numpys_argmax(panel, kernel, stride):
    stack = [
        {"type": "Conv2d", "out_channels": 3, "kernel_size": 3},
        {"type": "MaxPool2d", "kernel_size": kernel, "stride": stride},
    ]
    data = panel_input(stack, 1, size=15)
    panel.show(data)
    for channel in range(3):
        panel.channel_spin.setValue(channel)
        source = data.result.layers[0].output[channel]
        xs, ys = panel.winner_dots.getData()
        shown = sorted(zip((ys - 0.5).astype(int), (xs - 0.5).astype(int), strict=True))
        assert shown == sorted(_numpy_argmax_marks(source, kernel, stride))
        np.testing.assert_array_equal(panel.input_item.image, source)
        np.testing.assert_array_equal(panel.output_item.image, data.activation().output[channel])


def test_hovering_an_output_cell_lights_its_window(qtbot, panel):
    stack = [{"type": "MaxPool2d", "kernel_size": 2}]
    data = panel_input(stack, 0, size=8)
    panel.show(data)
    move_mouse(qtbot, panel.widget, panel.output_item, 2.5, 1.5)  # output row 1, col 2
    qtbot.waitUntil(lambda: panel.explain.text().startswith("output (1, 2)"))
    assert panel.spotlight.box == (2, 4, 4, 6)
    channel = data.result.input[panel.channel]
    r, c = np.unravel_index(np.argmax(channel[2:4, 4:6]), (2, 2))
    assert f"rows 2–3, cols 4–5, found at ({2 + r}, {4 + c})" in panel.explain.text()
    move_mouse(qtbot, panel.widget, panel.input_item, 7.5, 6.5)  # input (6, 7) → output (3, 3)
    qtbot.waitUntil(lambda: panel.explain.text().startswith("output (3, 3)"))
    assert panel.spotlight.box == (6, 6, 8, 8)


def test_average_pooling_spells_out_the_mean(panel):
    stack = [{"type": "AvgPool2d", "kernel_size": 2}]
    data = panel_input(stack, 0, size=6)
    panel.show(data)
    assert panel.winner_dots.getData()[0].size == 0  # nothing is "kept" by a mean
    panel.highlight(1, 2)
    window = data.result.input[panel.channel, 2:4, 4:6].ravel()
    text = panel.explain.text()
    assert "the mean of input rows 2–3, cols 4–5" in text
    assert text.endswith(" / 4")
    assert f"{window.mean():.4g}" in text  # the output value equals the mean shown


def test_adaptive_pooling_windows(panel):
    stack = [{"type": "AdaptiveAvgPool2d", "output_size": 3}]
    panel.show(panel_input(stack, 0, size=7))
    assert panel.highlight(0, 0) == (0, 0, 3, 3)
    assert panel.highlight(1, 1) == (2, 2, 5, 5)
    assert panel.highlight(2, 2) == (4, 4, 7, 7)


def test_tied_windows_are_marked_as_ties(panel):
    stack = [{"type": "ReLU"}, {"type": "MaxPool2d", "kernel_size": 2}]
    data = panel_input(stack, 1, size=4)
    layers = data.result.layers
    from dataclasses import replace

    zeros = np.zeros_like(layers[0].output)
    zeros[:, 0, 0] = 1.0  # only the top-left window has a real winner
    data = replace(
        data,
        result=replace(
            data.result, layers=(replace(layers[0], output=zeros), replace(layers[1], input=zeros))
        ),
    )
    panel.show(data)
    assert panel.tied.tolist() == [False, True, True, True]


def test_other_layers_get_a_hint(panel):
    panel.show(panel_input([{"type": "ReLU"}], 0))
    assert panel.showing_hint and "Select a pooling layer" in panel.hint.text()


def test_an_invalid_pooling_layer_gives_its_own_reason(panel):
    stack = [
        {"type": "Conv2d", "out_channels": 3, "kernel_size": 3},
        {"type": "MaxPool2d", "kernel_size": 40},
        {"type": "AvgPool2d", "kernel_size": 2},
    ]
    panel.show(panel_input(stack, 1, size=15))
    assert panel.showing_hint and "this layer is invalid; kernel 40x40" in panel.hint.text()
    panel.show(panel_input(stack, 2, size=15))
    assert "layer 1 MaxPool2d above it is invalid; fix that one first" in panel.hint.text()
