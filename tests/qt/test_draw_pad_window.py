"""The draw pad in the window: what it draws becomes the input, and the pad shows
the tensor the network got from it (and only from it)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.qt.numpy_window import compute, numpy_window
from tests.qt.test_draw_pad import draw


@pytest.fixture
def window(qtbot):
    with numpy_window(qtbot) as win:
        yield win


def test_a_drawing_becomes_the_input_and_the_pad_shows_that_tensor(qtbot, window):
    pad = window.panels.widget("draw_pad")
    pad.show()
    pad.resize(320, 460)
    qtbot.waitExposed(pad.canvas)
    caption = pad.preview_caption.text()
    draw(qtbot, pad, [(30, 30), (40, 20), (40, 80)])  # a small "1" in a corner
    compute(qtbot, window)
    network_input = window.panels.latest.result.input
    assert network_input.shape == (1, 12, 12)
    # Framed: the ink is in the middle of the input, not in its top-left corner.
    rows, cols = np.nonzero(network_input[0] > 0.3)
    assert abs(rows.mean() - 5.5) < 1.5 and abs(cols.mean() - 5.5) < 1.5
    assert pad.preview_caption.text() != caption
    assert "1×12×12" in pad.preview_caption.text()


def test_an_image_that_is_not_the_drawing_leaves_the_pad_preview_alone(qtbot, window):
    pad = window.panels.widget("draw_pad")
    caption = pad.preview_caption.text()
    window.files.use_array(np.ones((20, 20), np.float32), "pasted image")
    compute(qtbot, window)
    assert pad.preview_caption.text() == caption
