"""A panel hidden behind another tab (or closed) shows the current result when it is
seen again, whatever changed meanwhile: the network, the selected layer, the image,
the weights. Driven as a person does it: by clicking the dock tabs."""

from __future__ import annotations

import numpy as np
import pytest

from cnnviz.core.jobs import KernelEdit
from cnnviz.qt.editor import commands
from tests.qt.numpy_window import click_tab, compute, numpy_window


@pytest.fixture
def window(qtbot):
    with numpy_window(qtbot) as win:
        yield win


def panel(win, key: str):
    return win.panels.docks[key].widget


def shows_latest(win, key: str) -> bool:
    """The panel last drew the window's newest data (this result, this layer)."""
    return panel(win, key).current is win.panels._data is not None


# For each tabbed panel: the layer to select, and the channel count it displays.
TABBED = {
    "feature_maps": (0, lambda p: p.maps.shape[0]),
    "filters": (0, lambda p: p.weight.shape[0]),
    "pooling": (2, lambda p: p.channel_spin.maximum() + 1),
    "activation": (1, lambda p: p.inputs.shape[0]),
}


@pytest.mark.parametrize("key", TABBED)
def test_a_tab_raised_after_the_network_changed_shows_the_new_network(qtbot, window, key):
    layer, channels_drawn = TABBED[key]
    title = window.panels.docks[key].spec.title
    window.select_layer(layer)
    click_tab(qtbot, window, title)
    compute(qtbot, window)
    assert channels_drawn(panel(window, key)) == 2
    click_tab(qtbot, window, "Training")  # the panel is now behind another tab
    window.doc.undo_stack.push(commands.SetParamCommand(window.doc, 0, "out_channels", 4))
    window.select_layer(layer)  # the edit selected the conv layer
    compute(qtbot, window)
    assert channels_drawn(panel(window, key)) == 2  # hidden: not drawn (costs nothing)
    click_tab(qtbot, window, title)
    qtbot.waitUntil(lambda: shows_latest(window, key), timeout=20_000)
    shown = panel(window, key)
    assert channels_drawn(shown) == 4
    assert not shown.showing_hint
    assert "Conv2d 4" in shown.current.layer_title(0)


def test_feature_maps_catch_up_with_layer_image_and_weights(qtbot, window):
    maps = panel(window, "feature_maps")
    click_tab(qtbot, window, "Feature maps")
    compute(qtbot, window)
    click_tab(qtbot, window, "Training")
    kernel = np.ones((1, 3, 3), np.float32)
    window.panels.kernel_edit(KernelEdit(0, 1, kernel, bias=0.5))  # new weights ...
    ramp = np.linspace(0, 1, 144, dtype=np.float32).reshape(12, 12)
    window.files.use_array(ramp, "ramp")  # ... a new image ...
    window.select_layer(2)  # ... and another layer (the edit had selected layer 0)
    compute(qtbot, window)
    click_tab(qtbot, window, "Feature maps")
    qtbot.waitUntil(lambda: shows_latest(window, "feature_maps"), timeout=20_000)
    assert maps.title.text().startswith("layer 2 · MaxPool2d")
    assert maps.maps.shape == (2, 5, 5)
    np.testing.assert_allclose(maps.side.input_item.image, ramp, atol=1e-6)
    # Channel 1 is now a 3×3 sum of the ramp plus 0.5: its pooled maps, as drawn.
    conv = sum(ramp[r : r + 10, c : c + 10] for r in range(3) for c in range(3)) + 0.5
    pooled = conv.reshape(5, 2, 5, 2).max(axis=(1, 3))
    np.testing.assert_allclose(maps.maps[1], pooled, rtol=1e-5)


@pytest.mark.parametrize("key", ["overview", "prediction"])
def test_a_closed_panel_reopened_shows_the_current_network(qtbot, window, key):
    compute(qtbot, window)
    dock = window.panels.docks[key].dock
    dock.close()  # View menu: unticked
    window.doc.undo_stack.push(commands.SetParamCommand(window.doc, 0, "out_channels", 4))
    compute(qtbot, window)
    assert not shows_latest(window, key)
    dock.show()
    qtbot.waitUntil(lambda: shows_latest(window, key), timeout=20_000)
    assert panel(window, key).current.result.layers[0].output.shape == (4, 10, 10)


def test_the_conv_stepper_raised_after_an_edit_steps_the_new_layer(qtbot, window):
    """Not a common panel (it is fed the selected conv layer), but shown the same way."""
    stepper = panel(window, "conv_stepper")
    click_tab(qtbot, window, "Convolution step by step")
    compute(qtbot, window)
    assert stepper.real.config.output_shape == (2, 10, 10)
    click_tab(qtbot, window, "Training")
    window.doc.undo_stack.push(commands.SetParamCommand(window.doc, 0, "out_channels", 4))
    compute(qtbot, window)
    click_tab(qtbot, window, "Convolution step by step")
    qtbot.waitUntil(lambda: stepper.real.config.output_shape == (4, 10, 10))
    np.testing.assert_array_equal(
        stepper.real.feature_map, window.panels.latest.result.layers[0].output
    )
