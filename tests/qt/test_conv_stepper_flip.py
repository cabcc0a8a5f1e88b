"""The stepper's "flip the kernel" toggle: the shown kernel and the result become a true
convolution's (numpy reference in tests/core/test_conv_flip.py), and back again."""

from __future__ import annotations

import numpy as np
import pytest

from cnnviz.core.conv_flip import FLIP_NOTE
from cnnviz.qt.panels.conv_stepper import ConvStepperPanel
from tests.core.test_conv_flip import true_convolution
from tests.qt.test_conv_stepper import shown_output, torch_conv


@pytest.fixture
def panel(qtbot):
    widget = ConvStepperPanel()
    qtbot.addWidget(widget)
    widget.resize(1100, 700)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def shown_kernel(panel) -> np.ndarray:
    return panel.scene.kernels[0].values


def test_toggling_flip_changes_the_kernel_and_the_result(panel, qtbot):
    panel.editors.kernel.setPlainText("1 2 0\n0 0 -1\n3 0 0\n")  # asymmetric
    panel.editors.flush()
    room = panel.classroom
    kernel = room.kernel.copy()
    panel.player.seek(panel.player.count - 1)
    np.testing.assert_allclose(shown_output(panel), torch_conv(room.image, kernel)[0])
    np.testing.assert_allclose(shown_kernel(panel), kernel[0, 0])

    panel.classroom_controls.flip.setChecked(True)
    panel.player.seek(panel.player.count - 1)
    np.testing.assert_allclose(shown_kernel(panel), np.rot90(kernel[0, 0], 2))
    expected = true_convolution(room.image, kernel, [0.0])[0]
    np.testing.assert_allclose(shown_output(panel), expected)
    assert not np.allclose(expected, torch_conv(room.image, kernel)[0])
    assert panel.walk.description().startswith("true convolution")
    assert panel.classroom_controls.flip_note.isVisible()
    assert panel.classroom_controls.flip_note.text() == FLIP_NOTE
    assert "cross-correlation" in FLIP_NOTE and "flips the kernel" in FLIP_NOTE

    panel.classroom_controls.flip.setChecked(False)
    panel.player.seek(panel.player.count - 1)
    np.testing.assert_allclose(shown_kernel(panel), kernel[0, 0])
    assert not panel.classroom_controls.flip_note.isVisible()


def test_flip_is_for_convolution_only(panel):
    panel.classroom_controls.flip.setChecked(True)
    panel.classroom_controls.mode.setCurrentIndex(1)  # max pooling: no kernel
    assert not panel.classroom_controls.flip.isEnabled()
    assert panel.walk.kind == "max"
