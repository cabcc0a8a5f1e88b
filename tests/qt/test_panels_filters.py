"""The filters panel: the grid is the weights, RGB composites, bias bars, kernel edits emitted."""

from __future__ import annotations

import numpy as np
import pytest
from panel_inputs import click, move_mouse, panel_input, shown_panel
from PySide6 import QtCore, QtWidgets

from cnnviz.core import kernels
from cnnviz.core.jobs import KernelEdit
from cnnviz.qt.panels.filters import FiltersPanel

STACK = [
    {"type": "Conv2d", "out_channels": 4, "kernel_size": 3},
    {"type": "ReLU"},
    {"type": "Conv2d", "out_channels": 5, "kernel_size": 5, "bias": False},
]


@pytest.fixture
def panel(qtbot):
    return shown_panel(qtbot, FiltersPanel, (900, 800))


def test_grid_tiles_are_the_kernels(panel):
    data = panel_input(STACK, 2, channels=3)
    panel.show(data)
    weight, bias = data.result.filters[2]
    assert bias is None and weight.shape == (5, 4, 5, 5)
    grid = panel.grid_item.image
    for o in range(5):
        for i in range(4):
            y, x = panel.layout_.origin(o, i)
            np.testing.assert_array_equal(grid[y : y + 5, x : x + 5], weight[o, i])
    bound = np.abs(weight).max()
    assert panel.bar.levels() == pytest.approx((-bound, bound))  # centred on 0
    assert panel.bias_plot.titleLabel.text == "no bias"


def test_first_layer_of_a_colour_network_has_rgb_composites_and_biases(panel):
    data = panel_input(STACK, 0, channels=3)
    panel.show(data)
    QtWidgets.QApplication.processEvents()  # let the linked views settle
    weight, bias = data.result.filters[0]
    grid = panel.layout_
    assert panel.rgb_item.isVisible() and grid.extra == 1
    assert panel.rgb.shape == (*panel.grid.shape, 4)
    expected = np.clip(kernels.rgb_composite(weight) * 255 + 0.5, 0, 255).astype(np.uint8)
    for o in range(4):  # each filter's composite in the slot after its kernels
        y, x = grid.origin(o, 3)
        np.testing.assert_array_equal(panel.rgb[y : y + 3, x : x + 3, :3], expected[o])
        assert (panel.grid[y : y + 3, x : x + 3] < weight.min()).all()  # gap: transparent
    np.testing.assert_allclose(panel.bias_bars.opts["width"], bias)
    # One filter per row here: each bias bar sits level with its filter's row of kernels.
    assert grid.block_cols == 1 and panel.bias_beside
    for o in range(4):
        centre = QtCore.QPointF(0, grid.origin(o, 0)[0] + 1.5)
        grid_y = panel.plot.getViewBox().mapViewToScene(centre).y()
        bar_y = panel.bias_plot.getViewBox().mapViewToScene(centre).y()
        assert bar_y == pytest.approx(grid_y, abs=1.0)
    # Not for a grey network, nor for a later layer.
    panel.show(panel_input(STACK, 0, channels=1))
    assert not panel.rgb_item.isVisible()
    panel.show(panel_input(STACK, 2, channels=3))
    assert not panel.rgb_item.isVisible()


def test_a_preset_applied_to_a_channel_is_emitted_as_a_kernel_edit(qtbot, panel):
    panel.show(panel_input(STACK, 0, channels=3))
    editor = panel.editor
    editor.out_spin.setValue(3)
    editor.preset_box.setCurrentText(kernels.SOBEL_X)
    with qtbot.waitSignal(panel.kernel_edit_requested) as signal:
        editor.apply_button.click()
    edit = signal.args[0]
    assert isinstance(edit, KernelEdit)
    assert (edit.layer, edit.out_channel, edit.bias) == (0, 3, 0.0)
    sobel = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=np.float32)
    np.testing.assert_allclose(edit.kernel, np.stack([sobel / 3] * 3), rtol=1e-6)


def test_one_input_channel_and_keeping_the_bias(qtbot, panel):
    panel.show(panel_input(STACK, 0, channels=3))
    editor = panel.editor
    editor.preset_box.setCurrentText(kernels.IDENTITY)
    editor.input_box.setCurrentIndex(editor.input_box.findData(2))
    editor.zero_bias.setChecked(False)
    with qtbot.waitSignal(panel.kernel_edit_requested) as signal:
        editor.apply_button.click()
    edit = signal.args[0]
    assert edit.bias is None
    expected = np.zeros((3, 3, 3), dtype=np.float32)
    expected[2, 1, 1] = 1.0
    np.testing.assert_array_equal(edit.kernel, expected)


def test_typed_numbers_are_applied(qtbot, panel):
    panel.show(panel_input(STACK, 0, channels=1))
    editor = panel.editor
    editor.table.item(0, 0).setText("2.5")
    editor.table.item(2, 2).setText("−1")  # a typographic minus works too
    editor.table.item(1, 1).setText("abc")
    assert editor.preset_box.currentText() == "custom (typed)"
    assert "not a number" in editor.description.text()
    with qtbot.waitSignal(panel.kernel_edit_requested) as signal:
        editor.apply_button.click()
    expected = np.zeros((1, 3, 3), dtype=np.float32)
    expected[0, 0, 0], expected[0, 2, 2] = 2.5, -1.0
    np.testing.assert_array_equal(signal.args[0].kernel, expected)


def test_clicking_a_kernel_loads_it_into_the_editor(qtbot, panel):
    data = panel_input(STACK, 2, channels=1)
    panel.show(data)
    y, x = panel.layout_.origin(3, 1)  # filter 3, input 1
    click(qtbot, panel.widget, panel.grid_item, x + 1.5, y + 2.5)
    assert panel.editor.out_spin.value() == 3
    assert panel.editor.input_box.currentData() == 1
    # Exactly, although the grid shows 3 digits: applying it unchanged changes nothing.
    np.testing.assert_array_equal(panel.editor.values(), data.result.filters[2][0][3, 1])
    panel.editor.table.item(0, 0).setText("0.5")
    assert panel.editor.values()[0, 0] == 0.5


def test_presets_that_do_not_fit_the_kernel_are_refused_with_a_reason(panel):
    stack = [{"type": "Conv2d", "out_channels": 2, "kernel_size": 2}]
    panel.show(panel_input(stack, 0))
    panel.editor.preset_box.setCurrentText(kernels.LAPLACIAN)
    assert not panel.editor.apply_button.isEnabled()
    assert "at least 3×3" in panel.editor.description.text()
    panel.editor.preset_box.setCurrentText(kernels.BOX_BLUR)
    assert panel.editor.apply_button.isEnabled()


def test_non_conv_layers_get_a_hint(panel):
    panel.show(panel_input(STACK, 1))
    assert panel.showing_hint
    assert panel.hint.text() == "Select a Conv2d layer to see its filters."


def test_an_invalid_conv_gives_its_own_reason(panel):
    stack = [
        {"type": "Conv2d", "out_channels": 2, "kernel_size": 40},
        {"type": "Conv2d", "out_channels": 2, "kernel_size": 3},
    ]
    panel.show(panel_input(stack, 0))
    assert panel.showing_hint and "has no weights yet: this layer is invalid" in panel.hint.text()
    panel.show(panel_input(stack, 1))
    assert "layer 0 Conv2d above it is invalid; fix that one first" in panel.hint.text()


def test_a_wide_layer_wraps_its_filters_and_charts_the_biases_by_filter(qtbot):
    """64 filters × 3 channels in a wide panel: strips of kernels side by side."""
    panel = shown_panel(qtbot, FiltersPanel, (1300, 600))
    stack = [{"type": "Conv2d", "out_channels": 64, "kernel_size": 3}]
    data = panel_input(stack, 0, channels=3, size=8)
    panel.show(data)
    qtbot.waitUntil(lambda: not panel._replan.isActive())
    weight, bias = data.result.filters[0]
    grid = panel.layout_
    assert grid.block_cols > 1
    for o in (0, grid.block_cols, 63):
        for i in range(3):
            y, x = grid.origin(o, i)
            np.testing.assert_array_equal(panel.grid[y : y + 3, x : x + 3], weight[o, i])
    # No row of the grid is one filter's: the biases are a chart by filter number.
    assert not panel.bias_beside and panel.bias_widget.isVisible()
    assert panel.bias_plot not in panel.widget.ci.items
    np.testing.assert_allclose(panel.bias_chart_bars.opts["height"], bias)
    # Hovering and clicking find the filter in its column of strips.
    o = grid.block_cols + 1  # second row, second strip
    y, x = grid.origin(o, 2)
    move_mouse(qtbot, panel.widget, panel.grid_item, x + 1.5, y + 0.5)
    assert f"filter {o}, input 2, tap (0, 1)" in panel.hover_label.text()
    click(qtbot, panel.widget, panel.grid_item, x + 1.5, y + 0.5)
    assert panel.editor.out_spin.value() == o
    # Many input channels make a square table already: one filter per row, biases beside.
    square = [{"type": "Conv2d", "out_channels": 16, "kernel_size": 3}] * 2
    panel.show(panel_input(square, 1, size=8))
    assert panel.layout_.block_cols == 1 and panel.bias_beside
    assert panel.bias_plot in panel.widget.ci.items and not panel.bias_widget.isVisible()
