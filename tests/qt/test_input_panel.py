"""The input panel shows exactly the tensor given, and emits the preprocessing chosen."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6 import QtCore

from cnnviz.core.analysis import analyze
from cnnviz.core.jobs import ForwardResult
from cnnviz.core.preprocess import Preprocessing
from cnnviz.core.presets import load_preset
from cnnviz.qt.panels.base import PanelInput
from cnnviz.qt.panels.input_image import InputImagePanel, main


@pytest.fixture
def panel(qtbot):
    widget = InputImagePanel()
    qtbot.addWidget(widget)
    widget.resize(480, 560)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def _tensor(channels: int, height: int = 6, width: int = 8, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((channels, height, width), dtype=np.float32)


def test_one_channel_is_drawn_grey_exactly(panel):
    x = _tensor(1)
    panel.set_input(x, source="digit_3.png")
    np.testing.assert_array_equal(panel.displayed(), x[0])
    assert tuple(panel.image_item.levels) == (0.0, 1.0)
    assert panel.shape_label.text() == "C×H×W = 1×6×8 · float32"
    assert "digit_3.png" in panel.source_label.text()


def test_three_channels_are_drawn_rgb_exactly(panel):
    x = _tensor(3)
    panel.set_input(x)
    np.testing.assert_array_equal(panel.displayed(), x.transpose(1, 2, 0))
    assert "0 black, 1 white" in panel.range_label.text()


def test_other_channel_counts_are_a_mosaic_whose_tiles_are_the_channels(panel):
    x = _tensor(5, 4, 7)
    panel.set_input(x)
    picture, layout = panel.displayed(), panel._layout
    assert layout is not None and layout.channels == 5
    for channel in range(5):
        top, left = layout.origin(channel)
        np.testing.assert_array_equal(picture[top : top + 4, left : left + 7], x[channel])


def test_split_channels_shows_rgb_as_three_tiles(panel):
    x = _tensor(3, 5, 5)
    panel.set_input(x)
    panel.split_check.setChecked(True)
    layout = panel._layout
    assert layout is not None and layout.channels == 3
    top, left = layout.origin(2)
    np.testing.assert_array_equal(panel.displayed()[top : top + 5, left : left + 5], x[2])
    panel.split_check.setChecked(False)
    assert panel.displayed().shape == (5, 5, 3)


def test_a_normalised_input_is_drawn_over_its_own_range(panel):
    x = _tensor(3) * 4 - 2  # values in [-2, 2]
    panel.set_input(x)
    low, high = panel.image_item.levels
    assert (low, high) == (float(x.min()), float(x.max()))
    assert "(black)" in panel.range_label.text()
    np.testing.assert_array_equal(panel.displayed(), x.transpose(1, 2, 0))  # values untouched


def test_value_under_the_mouse(panel):
    x = _tensor(3)
    panel.set_input(x)
    scene_pos = panel.view.mapViewToScene(QtCore.QPointF(2.5, 1.5))
    panel.graphics.scene().sigMouseMoved.emit(scene_pos)
    r, g, b = x[:, 1, 2]
    assert panel.hover_label.text() == f"row 1, col 2: R {r:.4f}  G {g:.4f}  B {b:.4f}"
    assert panel.value_text_at(QtCore.QPointF(-1, 0)) is None
    assert panel.value_text_at(QtCore.QPointF(8.5, 0)) is None


def test_value_under_the_mouse_in_a_mosaic(panel):
    x = _tensor(4, 3, 3)
    panel.set_input(x)
    top, left = panel._layout.origin(3)
    text = panel.value_text_at(QtCore.QPointF(left + 1.5, top + 2.5))
    assert text == f"channel 3, row 2, col 1: {x[3, 2, 1]:.4f}"
    assert panel.value_text_at(QtCore.QPointF(3.5, 0.5)) is None  # in the gap


def test_a_bad_tensor_is_refused_and_the_previous_one_stays(panel):
    x = _tensor(1)
    panel.set_input(x)
    with pytest.raises(ValueError, match=r"must be \(C, H, W\)"):
        panel.set_input(np.zeros((4, 4), np.float32))
    np.testing.assert_array_equal(panel.tensor(), x)
    np.testing.assert_array_equal(panel.displayed(), x[0])


def test_show_draws_the_input_of_a_forward_result(panel):
    arch = load_preset("lenet5")
    x = _tensor(1, 32, 32)
    result = ForwardResult(request_id=3, input=x, layers=())
    panel.show(PanelInput(result=result, analysis=analyze(arch), layer_index=0))
    np.testing.assert_array_equal(panel.displayed(), x[0])


@pytest.mark.parametrize(
    ("action", "expected"),
    [
        (lambda p: p.resize_combo.setCurrentIndex(1), Preprocessing(resize="crop")),
        (lambda p: p.resize_combo.setCurrentIndex(2), Preprocessing(resize="letterbox")),
        (lambda p: p.normalise_combo.setCurrentIndex(1), Preprocessing(normalize="imagenet")),
        (
            lambda p: p.normalise_combo.setCurrentIndex(2),
            Preprocessing(normalize="mean_std", mean=(0.5,), std=(0.5,)),
        ),
        (
            lambda p: p.normalise_combo.setCurrentIndex(3),
            Preprocessing(normalize="mean_std", mean=(0.1307,), std=(0.3081,)),
        ),
        (lambda p: p.invert_check.setChecked(True), Preprocessing(invert=True)),
        (
            lambda p: p.interpolation_combo.setCurrentIndex(2),
            Preprocessing(interpolation="nearest"),
        ),
    ],
)
def test_each_choice_emits_the_preprocessing(qtbot, panel, action, expected):
    with qtbot.waitSignal(panel.preprocessing_changed) as blocker:
        action(panel)
    assert blocker.args[0] == expected
    assert panel.preprocessing() == expected


def test_set_preprocessing_shows_it_without_emitting(qtbot, panel):
    prep = Preprocessing(resize="letterbox", normalize="imagenet", invert=True)
    with qtbot.assertNotEmitted(panel.preprocessing_changed):
        panel.set_preprocessing(prep)
    assert panel.preprocessing() == prep
    assert panel.resize_combo.currentText() == "Letterbox"
    assert panel.invert_check.isChecked()


def test_a_custom_mean_std_gets_its_own_entry(qtbot, panel):
    prep = Preprocessing(normalize="mean_std", mean=(0.2, 0.3, 0.4), std=(0.5, 0.6, 0.7))
    count = panel.normalise_combo.count()
    panel.set_preprocessing(prep)
    assert panel.normalise_combo.count() == count + 1
    assert panel.preprocessing() == prep
    assert "0.2/0.3/0.4" in panel.normalise_combo.currentText()
    panel.set_preprocessing(prep)  # the same again: no second entry
    assert panel.normalise_combo.count() == count + 1


def test_standalone_main_refuses_a_bad_image_with_one_line(tmp_path, capsys):
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"")
    with pytest.raises(SystemExit) as exit_info:
        main([str(bad)])
    assert exit_info.value.code == 2
    assert "broken.png: the file is empty (0 bytes)" in capsys.readouterr().err
