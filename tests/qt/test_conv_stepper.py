"""The step-through panel: classroom maps, stepping and keys, live parameters, real layers."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from PySide6 import QtCore, QtWidgets

from cnnviz.qt.panels.conv_stepper import CLASSROOM, REAL, ConvStepperPanel

Key = QtCore.Qt.Key


@pytest.fixture
def panel(qtbot):
    widget = ConvStepperPanel()
    qtbot.addWidget(widget)
    widget.resize(1100, 700)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def shown_output(panel, channel: int = 0) -> np.ndarray:
    """What the output grid on screen holds (NaN: not computed yet)."""
    return panel.scene.output_grids[channel].values


def torch_conv(image, kernel, bias=None, **kwargs) -> np.ndarray:
    out = F.conv2d(
        torch.from_numpy(np.asarray(image, dtype=np.float64))[None],
        torch.from_numpy(np.asarray(kernel, dtype=np.float64)),
        None if bias is None else torch.from_numpy(np.asarray(bias, dtype=np.float64)),
        **kwargs,
    )
    return out[0].numpy()


def test_classroom_default_fills_the_expected_map(panel, qtbot):
    assert panel.player.count == 9
    assert np.isnan(shown_output(panel)).sum() == 8  # only the first cell at step 1
    qtbot.keyClick(panel, Key.Key_End)
    np.testing.assert_array_equal(shown_output(panel), [[4, 3, 4], [2, 4, 3], [2, 3, 4]])
    text = panel.formula.text()
    assert "⌊(5 + 2·0 − 1·(3−1) − 1) / 1⌋ + 1 = ⌊2 / 1⌋ + 1 = 3" in text
    assert "output 1×3×3" in text


def test_classroom_max_pooling_marks_the_chosen_values(panel, qtbot):
    panel.classroom_controls.mode.setCurrentIndex(1)
    assert panel.walk.kind == "max" and panel.player.count == 4
    qtbot.keyClick(panel, Key.Key_End)
    np.testing.assert_array_equal(shown_output(panel), [[5, 7], [8, 9]])
    # The last window's maximum is the 9 at row 3, column 2: the ring sits on that cell.
    ring = panel.scene.chosen
    assert ring.isVisible()
    cell = panel.scene.geo.cell_pos(0, 3, 2)
    assert ring.rect().contains(cell + QtCore.QPointF(panel.scene.geo.cell / 2, 20))
    assert panel.player_bar.label.text().endswith("= 9")


def test_average_pooling_divides_the_window_sum(panel, qtbot):
    panel.classroom_controls.mode.setCurrentIndex(2)
    qtbot.keyClick(panel, Key.Key_End)
    # (4+2+5+1)/4, (3+1+7+4)/4, (2+8+1+4)/4, (4+6+9+3)/4
    np.testing.assert_array_equal(shown_output(panel), [[3, 3.75], [3.75, 5.5]])
    assert panel.scene.result.text() == "Σ = 22\n÷ 4 = 5.50"


def test_the_window_glides_between_cells(panel):
    scene, geo = panel.scene, panel.scene.geo
    first, second = geo.cell_pos(0, 0, 0), geo.cell_pos(0, 0, 1)
    scene.glide(0, 0.5)
    assert scene.windows[0].pos() == (first + second) / 2
    scene.glide(0, 0.2)
    x = scene.windows[0].pos().x()
    assert first.x() < x < first.x() + 0.2 * geo.cell  # eases out of the cell
    scene.glide(0, 1.0)
    assert scene.windows[0].pos() == second


def test_keys_step_jump_and_play(panel, qtbot):
    qtbot.keyClick(panel, Key.Key_Right)
    qtbot.keyClick(panel, Key.Key_Right)
    assert panel.player.index == 2
    assert panel.player_bar.label.text() == "step 3 of 9 · output[0, 0, 2] = 4"
    qtbot.keyClick(panel, Key.Key_Left)
    assert panel.player.index == 1
    qtbot.keyClick(panel.view, Key.Key_End)  # keys typed in the picture work too
    assert panel.player.index == 8
    qtbot.keyClick(panel, Key.Key_Home)
    assert panel.player.index == 0
    qtbot.keyClick(panel, Key.Key_Space)
    assert panel.player.playing
    qtbot.keyClick(panel, Key.Key_Space)
    assert not panel.player.playing


def test_playing_runs_to_the_end_and_moves_the_window(panel, qtbot):
    panel.player_bar.speed.setValue(30)
    start = panel.scene.windows[0].pos()
    with qtbot.waitSignal(panel.player.playing_changed, timeout=5000) as stopped:
        panel.player_bar.play.click()
        qtbot.waitUntil(lambda: panel.player.index >= 1, timeout=3000)
    qtbot.waitUntil(lambda: not panel.player.playing, timeout=5000)
    assert stopped.args == [True]
    assert panel.player.index == 8
    # At rest on the last cell: output row 2, column 2 reads padded rows/cols 2..4.
    end = panel.scene.windows[0].pos()
    assert end == panel.scene.geo.cell_pos(0, 2, 2) and end != start
    np.testing.assert_array_equal(shown_output(panel), [[4, 3, 4], [2, 4, 3], [2, 3, 4]])


def test_scrub_slider_and_buttons(panel):
    panel.player_bar.slider.setValue(5)
    assert panel.player.index == 5
    assert np.isnan(shown_output(panel)).sum() == 3
    panel.player_bar.back.click()
    assert panel.player.index == 4
    panel.player_bar.end.click()
    assert panel.player.index == 8
    panel.player_bar.start.click()
    assert panel.player.index == 0


def test_parameters_update_formula_and_output_size_live(panel, qtbot):
    controls = panel.classroom_controls
    controls.padding.setValue(1)
    assert "⌊(5 + 2·1 − 1·(3−1) − 1) / 1⌋ + 1 = ⌊4 / 1⌋ + 1 = 5" in panel.formula.text()
    assert "output 1×5×5" in panel.formula.text() and panel.player.count == 25
    controls.stride.setValue(2)
    controls.dilation.setValue(2)
    assert "⌊(5 + 2·1 − 2·(3−1) − 1) / 2⌋ + 1 = ⌊2 / 2⌋ + 1 = 2" in panel.formula.text()
    assert "output 1×2×2" in panel.formula.text()
    qtbot.keyClick(panel, Key.Key_End)
    expected = torch_conv(panel.classroom.image, panel.classroom.kernel, stride=2, padding=1,
                          dilation=2)  # fmt: skip
    np.testing.assert_array_equal(shown_output(panel), expected[0])
    np.testing.assert_array_equal(expected[0], [[2, 1], [1, 2]])
    controls.width_.setValue(9)
    assert "W_out = ⌊(9 + 2·1 − 2·(3−1) − 1) / 2⌋ + 1 = ⌊6 / 2⌋ + 1 = 4" in panel.formula.text()
    assert "output 1×2×4" in panel.formula.text()


def test_impossible_parameters_say_why_and_keep_the_picture(panel):
    before = panel.walk
    panel.classroom_controls.dilation.setValue(4)  # spans 9 on a 5x5 input
    assert "the kernel spans 9 on the height" in panel.message.text()
    assert panel.walk is before
    panel.classroom_controls.dilation.setValue(1)
    assert panel.message.text() == "" and panel.walk is not before


def test_channels_make_a_stack_with_partial_sums(panel, qtbot):
    controls = panel.classroom_controls
    controls.channels.setValue(3)
    controls.out_channels.setValue(2)
    controls.bias.setValue(-1.0)
    controls.relu.setChecked(True)
    room = panel.classroom
    assert room.image.shape == (3, 5, 5) and room.kernel.shape == (2, 3, 3, 3)
    assert len(panel.scene.windows) == 3 and len(panel.scene.output_grids) == 2
    expected = np.maximum(torch_conv(room.image, room.kernel, [-1.0, -1.0]), 0)
    qtbot.keyClick(panel, Key.Key_End)
    for o in range(2):
        np.testing.assert_allclose(shown_output(panel, o), expected[o])
    # The last step: filter 1 on the bottom-right 3x3 window, one partial sum per channel.
    partial = (room.image[:, 2:5, 2:5] * room.kernel[1]).sum(axis=(1, 2))
    shown = [t.text().replace("−", "-") for _, _, t in panel.scene.sum_lines]
    assert shown == [f"Σ = {s:g}" for s in partial]
    assert "Σ channels" in panel.scene.result.text() and "ReLU" in panel.scene.result.text()


def test_typed_matrices_are_used_and_bad_text_is_reported(panel, qtbot):
    panel.editors.input.setPlainText("1 2 3\n4 5 6\n7 8 9\n")
    panel.editors.kernel.setPlainText("1 0\n0 -1\n")
    panel.editors.flush()
    assert panel.walk.output_shape == (1, 2, 2)
    qtbot.keyClick(panel, Key.Key_End)
    np.testing.assert_array_equal(shown_output(panel), [[-4, -4], [-4, -4]])
    assert panel.classroom_controls.height_.value() == 3
    panel.editors.input.setPlainText("1 2 3\n4 5\n")
    panel.editors.flush()
    assert "line 2 has 2 numbers but the rows above have 3" in panel.message.text()
    assert panel.walk.output_shape == (1, 2, 2)


def real_layer_case(seed=0, stride=1, padding=1, groups=1, mode="zeros"):
    rng = np.random.default_rng(seed)
    image = rng.normal(size=(4, 20, 18)).astype(np.float32)
    weight = (rng.normal(size=(6, 4 // groups, 3, 3)) * 0.3).astype(np.float32)
    bias = rng.normal(size=6).astype(np.float32)
    layer = torch.nn.Conv2d(4, 6, 3, stride, padding, groups=groups, padding_mode=mode)
    with torch.no_grad():
        layer.weight.copy_(torch.from_numpy(weight))
        layer.bias.copy_(torch.from_numpy(bias))
        feature_map = layer(torch.from_numpy(image)[None])[0].numpy()
    args = (weight, bias, image, stride, padding, 1, groups, mode, 3, feature_map)
    return args, feature_map


@pytest.mark.parametrize(
    "case",
    [{}, {"stride": 2, "padding": 0}, {"groups": 2, "mode": "reflect"}, {"padding": "same"}],
)
def test_real_layer_steps_equal_the_real_feature_map(panel, qtbot, case):
    args, feature_map = real_layer_case(**case)
    panel.set_real_layer(*args)
    assert panel.source == REAL and panel.real_controls.isVisible()
    assert not panel.editors.isVisible()
    row0, col0, rows, cols = panel.real.region
    panel.real_controls.channel.setValue(4)
    qtbot.keyClick(panel, Key.Key_End)
    np.testing.assert_allclose(
        shown_output(panel), feature_map[4, row0 : row0 + rows, col0 : col0 + cols], atol=1e-5
    )
    assert "equal to the layer's real feature map" in panel.real_controls.match.text()
    assert f"feature map rows {row0}–{row0 + rows - 1}" in panel.real_controls.mapping.text()
    box = panel.walk.window_box()
    assert max(box[1] - box[0], box[3] - box[2]) <= 12  # the patch stays readable


def test_real_layer_patch_moves_and_a_wrong_map_is_flagged(panel, qtbot):
    args, feature_map = real_layer_case()
    wrong = feature_map.copy()
    wrong[0, 0, 0] += 1.0
    panel.set_real_layer(*args[:-1], wrong)
    panel.real_controls.row0.setValue(0)
    panel.real_controls.col0.setValue(0)
    assert panel.real.region[:2] == (0, 0)
    assert "DIFFERENT" in panel.real_controls.match.text()
    # Image rows -1 and column -1 are the layer's zero padding.
    assert "image rows -1–" in panel.real_controls.mapping.text()
    picker = panel.real_controls.picker
    corner = picker.rect().bottomRight() - QtCore.QPoint(2, 2)
    qtbot.mouseClick(picker, QtCore.Qt.MouseButton.LeftButton, pos=corner)
    _, out_h, out_w = feature_map.shape
    row0, col0, rows, cols = panel.real.region
    assert (row0 + rows, col0 + cols) == (out_h, out_w)  # clamped to the bottom-right corner
    assert "equal to" in panel.real_controls.match.text()


def test_same_layer_again_keeps_the_patch_and_classroom_comes_back(panel):
    args, _ = real_layer_case()
    panel.set_real_layer(*args)
    panel.real_controls.row0.setValue(2)
    region = panel.real.region
    panel.set_real_layer(*args)
    assert panel.real.region == region
    panel.source_box.setCurrentIndex(0)
    assert panel.source == CLASSROOM and panel.walk.output_shape == (1, 3, 3)


def test_a_layer_that_does_not_fit_is_reported(panel):
    weight = np.ones((2, 3, 3, 3), np.float32)
    panel.set_real_layer(weight, None, np.ones((2, 8, 8), np.float32), 1, 0, 1, 1, "zeros", 5,
                         None)  # fmt: skip
    assert panel.source == CLASSROOM
    assert "Layer 5: each filter has 3 channel(s) but the input has 2" in panel.message.text()


def test_export_gif_has_one_frame_per_output_cell(panel, tmp_path, monkeypatch):
    path = tmp_path / "steps.gif"
    monkeypatch.setattr(QtWidgets.QFileDialog, "getSaveFileName", lambda *a, **k: (str(path), ""))
    panel.classroom_controls.padding.setValue(1)  # 5x5 output: 25 frames
    panel.export_button.click()
    with Image.open(path) as gif:
        assert gif.n_frames == 25
    assert "25 frames" in panel.message.text()
    assert panel.export_gif(str(tmp_path / "missing" / "x.gif")) == 0
    assert "Could not export the GIF" in panel.message.text()


def test_the_layout_keeps_the_sums_readable_in_any_view_shape(panel):
    """Narrow view: sums under the products; wide: beside them. Either way the terms
    reach the minimum size on screen, with text no larger than needed."""
    from cnnviz.qt.panels.conv_stepper_layout import readable_pixels
    from cnnviz.qt.panels.conv_stepper_scene import StepScene
    from cnnviz.qt.panels.conv_stepper_view import choose_layout

    walk, minimum = panel.walk, 11.0
    scene = StepScene()
    for (width, height), below in (((600, 500), True), ((2400, 420), False)):
        text, chosen_below = choose_layout(walk, width, height, minimum)
        assert chosen_below == below
        scene.build(walk, text, chosen_below)
        rect = scene.sceneRect()
        scale = min(width / rect.width(), height / rect.height())
        _, terms, total = scene.sum_lines[0]
        assert terms.font().pixelSize() * scale >= minimum - 0.5
        products = scene.products[0].sceneBoundingRect()
        if below:
            assert total.sceneBoundingRect().top() >= products.bottom() - 1
        else:
            assert total.sceneBoundingRect().left() >= products.right()
    # The panel itself: resized narrow, it lays the scene out again, readable.
    panel.resize(700, 640)
    QtWidgets.QApplication.processEvents()
    assert panel.view.text_pixels() >= readable_pixels() - 0.5
