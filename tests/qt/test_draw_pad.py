"""The drawing pad driven by simulated mouse and key events."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6 import QtCore, QtGui, QtWidgets

from cnnviz.core.digit_framing import FILL
from cnnviz.core.images import array_to_image, to_network_input
from cnnviz.qt.inputs.draw_pad import DrawPad

LEFT = QtCore.Qt.MouseButton.LeftButton
NO_MODIFIER = QtCore.Qt.KeyboardModifier.NoModifier


@pytest.fixture
def pad(qtbot):
    # A long throttle: during a stroke nothing is emitted until the stroke ends,
    # so the tests see exactly the press and release emissions. Unframed: the
    # strokes reach the network where they were drawn (framing is tested below).
    widget = DrawPad(brush=20, throttle_ms=60_000, frame=False)
    qtbot.addWidget(widget)
    widget.resize(320, 380)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def draw(qtbot, pad, points):
    """Press at the first canvas point, move through the rest, release at the last."""
    canvas = pad.canvas
    qtbot.mousePress(canvas, LEFT, NO_MODIFIER, canvas.to_widget(*points[0]))
    for point in points[1:]:
        qtbot.mouseMove(canvas, canvas.to_widget(*point))
    with qtbot.waitSignal(pad.image_changed, timeout=2000) as blocker:
        qtbot.mouseRelease(canvas, LEFT, NO_MODIFIER, canvas.to_widget(*points[-1]))
    return blocker.args[0]


def test_a_horizontal_stroke_lands_where_it_was_drawn(qtbot, pad):
    image = draw(qtbot, pad, [(60, 140), (100, 140), (160, 140), (220, 140)])
    assert image.shape == (280, 280) and image.dtype == np.float32
    # On the line, white; half a brush (10 px) plus a margin above and below, black.
    assert image[140, 60:221].min() > 0.95
    assert image[136:145, 140].min() > 0.95
    assert image[:125].max() == 0.0 and image[156:].max() == 0.0
    assert image[140, :45].max() == 0.0 and image[140, 236:].max() == 0.0
    assert pad.stroke_count() == 1


def test_the_stroke_reaches_the_network_input(qtbot, pad):
    image = draw(qtbot, pad, [(40, 140), (240, 140)])
    x = to_network_input(array_to_image(image), 1, 28, 28)  # the pad's 280 px → 28 px
    assert x.shape == (1, 28, 28)
    assert x[0, 14, 5:23].min() > 0.7  # the line, a tenth of its canvas position
    assert x[0, :11].max() == 0.0 and x[0, 17:].max() == 0.0


def test_a_click_without_moving_makes_a_dot_of_the_brush_size(qtbot, pad):
    pad.set_brush_size(30)
    image = draw(qtbot, pad, [(100, 100)])
    assert image[100, 100] > 0.95
    bright_row = np.flatnonzero(image[100] > 0.5)
    assert 27 <= len(bright_row) <= 33  # the diameter, ± antialiasing
    assert image[100, 130:].max() == 0.0


def test_brush_size_sets_the_stroke_width(qtbot, pad):
    pad.set_brush_size(8)
    thin = draw(qtbot, pad, [(40, 60), (240, 60)])
    pad.set_brush_size(40)
    thick = draw(qtbot, pad, [(40, 200), (240, 200)])
    thin_width = np.count_nonzero(thin[:, 140] > 0.5)
    assert 6 <= thin_width <= 10
    assert 38 <= np.count_nonzero(thick[130:280, 140] > 0.5) <= 42
    assert pad.brush_label.text() == "40 px"


def test_moves_between_press_and_release_are_throttled_then_flushed(qtbot, pad):
    emitted = []
    pad.image_changed.connect(emitted.append)
    canvas = pad.canvas
    qtbot.mousePress(canvas, LEFT, NO_MODIFIER, canvas.to_widget(30, 30))
    for x in range(35, 250, 5):
        qtbot.mouseMove(canvas, canvas.to_widget(x, 30))
    assert len(emitted) == 1  # the press; the moves wait for the throttle
    qtbot.mouseRelease(canvas, LEFT, NO_MODIFIER, canvas.to_widget(245, 30))
    assert len(emitted) == 2
    assert emitted[-1][30, 30:246].min() > 0.95  # the release emits the whole stroke


def test_the_throttle_emits_during_a_long_stroke(qtbot):
    pad = DrawPad(throttle_ms=10, frame=False)
    qtbot.addWidget(pad)
    pad.resize(300, 340)
    pad.show()
    canvas = pad.canvas
    qtbot.mousePress(canvas, LEFT, NO_MODIFIER, canvas.to_widget(50, 50))
    with qtbot.waitSignal(pad.image_changed, timeout=2000) as blocker:
        qtbot.mouseMove(canvas, canvas.to_widget(200, 50))
    assert blocker.args[0][50, 100] > 0.95  # live, before the release
    qtbot.mouseRelease(canvas, LEFT, NO_MODIFIER, canvas.to_widget(200, 50))


def test_undo_stroke_removes_only_the_last_stroke(qtbot, pad):
    draw(qtbot, pad, [(40, 60), (240, 60)])
    draw(qtbot, pad, [(40, 200), (240, 200)])
    with qtbot.waitSignal(pad.image_changed) as blocker:
        qtbot.mouseClick(pad.undo_button, LEFT)
    image = blocker.args[0]
    assert image[60, 140] > 0.95 and image[200, 140] == 0.0
    assert pad.stroke_count() == 1


def test_clear_erases_and_undo_brings_the_drawing_back(qtbot, pad):
    draw(qtbot, pad, [(40, 60), (240, 60)])
    with qtbot.waitSignal(pad.image_changed) as blocker:
        qtbot.mouseClick(pad.clear_button, LEFT)
    assert blocker.args[0].max() == 0.0
    assert not pad.clear_button.isEnabled()
    with qtbot.waitSignal(pad.image_changed) as blocker:
        pad.undo_stroke()
    assert blocker.args[0][60, 140] > 0.95


def test_undo_buttons_follow_the_history(qtbot, pad):
    assert not pad.undo_button.isEnabled() and not pad.clear_button.isEnabled()
    draw(qtbot, pad, [(50, 50), (90, 90)])
    assert pad.undo_button.isEnabled() and pad.clear_button.isEnabled()
    pad.undo_stroke()
    assert not pad.undo_button.isEnabled()
    assert pad.image().max() == 0.0


def test_ctrl_z_on_the_pad_undoes_a_stroke_not_the_windows_edit(qtbot):
    window = QtWidgets.QMainWindow()
    qtbot.addWidget(window)
    app_undo = QtGui.QAction("Undo", window)
    app_undo.setShortcut(QtGui.QKeySequence.StandardKey.Undo)
    window.addAction(app_undo)
    triggered = []
    app_undo.triggered.connect(lambda: triggered.append(True))
    pad = DrawPad(throttle_ms=60_000)
    window.setCentralWidget(pad)
    window.resize(320, 380)
    window.show()
    qtbot.waitExposed(window)
    draw(qtbot, pad, [(40, 60), (240, 60)])
    draw(qtbot, pad, [(40, 200), (240, 200)])
    pad.canvas.setFocus()
    qtbot.waitUntil(pad.canvas.hasFocus)
    qtbot.keyClick(pad.canvas, QtCore.Qt.Key.Key_Z, QtCore.Qt.KeyboardModifier.ControlModifier)
    assert pad.stroke_count() == 1 and triggered == []
    qtbot.keyClick(pad.canvas, QtCore.Qt.Key.Key_Backspace)
    assert pad.stroke_count() == 0
    draw(qtbot, pad, [(40, 60), (240, 60)])
    qtbot.keyClick(pad.canvas, QtCore.Qt.Key.Key_Delete)
    assert pad.image().max() == 0.0
    # Away from the pad, Ctrl+Z is the window's again.
    window.setFocus()
    pad.undo_button.setFocus()
    qtbot.keyClick(pad.undo_button, QtCore.Qt.Key.Key_Z, QtCore.Qt.KeyboardModifier.ControlModifier)
    assert triggered == [True]


def test_bracket_keys_change_the_brush(qtbot, pad):
    pad.set_brush_size(20)
    pad.canvas.setFocus()
    qtbot.keyClick(pad.canvas, QtCore.Qt.Key.Key_BracketRight)
    assert pad.brush_size() == 22
    qtbot.keyClick(pad.canvas, QtCore.Qt.Key.Key_BracketLeft)
    qtbot.keyClick(pad.canvas, QtCore.Qt.Key.Key_BracketLeft)
    assert pad.brush_size() == 18


def test_right_button_does_not_draw(qtbot, pad):
    canvas = pad.canvas
    right = QtCore.Qt.MouseButton.RightButton
    qtbot.mousePress(canvas, right, NO_MODIFIER, canvas.to_widget(50, 50))
    qtbot.mouseMove(canvas, canvas.to_widget(150, 50))
    qtbot.mouseRelease(canvas, right, NO_MODIFIER, canvas.to_widget(150, 50))
    assert pad.image().max() == 0.0 and pad.stroke_count() == 0


def test_drawing_maps_through_a_non_square_widget(qtbot, pad):
    pad.resize(600, 380)  # the canvas is centred in a wide widget
    qtbot.waitUntil(lambda: pad.canvas.width() > pad.canvas.height())
    image = draw(qtbot, pad, [(140, 20), (140, 260)])
    assert image[20:261, 140].min() > 0.95
    assert image[:, :120].max() == 0.0 and image[:, 161:].max() == 0.0


# ----- framing: the drawing as the training digits were framed --------------


def ink_box(image: np.ndarray, level: float = 0.5) -> tuple[int, int, int, int]:
    rows = np.flatnonzero((image > level).any(axis=1))
    cols = np.flatnonzero((image > level).any(axis=0))
    return rows[0], rows[-1], cols[0], cols[-1]


def test_a_small_digit_in_a_corner_reaches_the_network_filling_the_frame(qtbot):
    pad = DrawPad(brush=20, throttle_ms=60_000)  # framing on, as the app opens
    qtbot.addWidget(pad)
    pad.resize(320, 420)
    pad.show()
    qtbot.waitExposed(pad)
    # A small "1" in the top-left corner: 60 px tall on the 280 px canvas.
    image = draw(qtbot, pad, [(30, 35), (40, 25), (40, 85)])
    top, bottom, left, right = ink_box(image)
    assert abs((bottom - top + 1) - FILL * 280) <= 4  # as tall as the training digits
    assert abs((top + bottom) / 2 - 139.5) <= 3 and abs((left + right) / 2 - 139.5) <= 3
    # Redrawn with the same brush, not fattened by the ~4.5× enlargement.
    assert 17 <= np.count_nonzero(image[140] > 0.5) <= 23
    # The canvas itself still shows the stroke where it was drawn.
    assert ink_box(pad.canvas.array())[0] > 10 and ink_box(pad.canvas.array())[1] < 100


def test_framing_can_be_switched_off_and_the_drawing_is_sent_again(qtbot, pad):
    image = draw(qtbot, pad, [(30, 30), (90, 30)])
    assert ink_box(image)[1] < 50  # unframed: where it was drawn
    with qtbot.waitSignal(pad.image_changed) as blocker:
        pad.frame_box.setChecked(True)
    left, right = ink_box(blocker.args[0])[2:]
    assert abs((right - left + 1) - FILL * 280) <= 4  # a horizontal line: the width instead


def test_the_pad_shows_the_tensor_the_network_gets(qtbot, pad):
    tensor = np.zeros((1, 32, 32), np.float32)
    tensor[0, 4:28, 14:18] = 1.0
    pad.show_network_input(tensor)
    assert "1×32×32" in pad.preview_caption.text()
    picture = pad.preview.pixmap().toImage()
    # The bright column of the tensor is bright in the preview, the rest dark.
    middle = picture.pixelColor(picture.width() // 2, picture.height() // 2).value()
    side = picture.pixelColor(2, picture.height() // 2).value()
    assert middle > 200 and side < 50
