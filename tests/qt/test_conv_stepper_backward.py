"""The step-through panel's backward mode: the switch, stepping, numbers equal autograd."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PySide6 import QtCore

from cnnviz.core.conv_backward import grad_output
from cnnviz.core.conv_steps import CLASSROOM_IMAGE, CLASSROOM_KERNEL, CLASSROOM_POOL_INPUT
from cnnviz.qt.panels.conv_stepper import ConvStepperPanel

Key = QtCore.Qt.Key


@pytest.fixture
def panel(qtbot):
    widget = ConvStepperPanel()
    qtbot.addWidget(widget)
    widget.resize(1100, 700)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def choose(panel, direction: int, grad: int = 0) -> None:
    """Pick in the switch as a person would: direction 0 forward, 1 ∂L/∂X, 2 ∂L/∂W."""
    panel.direction_controls.grad.setCurrentIndex(grad)
    panel.direction_controls.direction.setCurrentIndex(direction)


def autograd(stride=1, padding=0, grad=None):
    x = torch.tensor(CLASSROOM_IMAGE[None, None], requires_grad=True)
    w = torch.tensor(CLASSROOM_KERNEL[None, None], requires_grad=True)
    y = F.conv2d(x, w, stride=stride, padding=padding)
    y.backward(torch.ones_like(y) if grad is None else torch.from_numpy(grad)[None])
    return x.grad[0, 0].numpy(), w.grad[0, 0].numpy()


def test_backward_input_steps_fill_the_gradient_of_autograd(panel, qtbot):
    panel.classroom_controls.stride.setValue(2)
    panel.classroom_controls.padding.setValue(1)
    choose(panel, 1, grad=1)
    walk = panel.walk
    assert walk.names.backward and panel.player.count == 25  # one step per input pixel
    dy = grad_output((1, 3, 3), "random", 0)
    expected, _ = autograd(2, 1, dy)
    # The scene's input side is ∂L/∂Y spread by the stride; the kernel is flipped.
    assert panel.scene.kernels[0].values.tolist() == CLASSROOM_KERNEL[::-1, ::-1].tolist()
    np.testing.assert_array_equal(np.asarray(walk.padded)[0][walk.cell_kind == 0], dy.ravel())
    qtbot.keyClick(panel, Key.Key_Right)
    grid = panel.scene.output_grids[0].values
    assert np.isfinite(grid).sum() == 2  # stepping fills ∂L/∂X one position at a time
    np.testing.assert_allclose(grid.ravel()[:2], expected.ravel()[:2])
    qtbot.keyClick(panel, Key.Key_End)
    np.testing.assert_allclose(panel.scene.output_grids[0].values, expected)
    assert panel.player_bar.label.text().startswith("step 25 of 25 · ∂L/∂X[0, 4, 4] = ")
    assert "full conv" in panel.formula.text() and "discarded" in panel.scene.notes.text()
    qtbot.keyClick(panel, Key.Key_Left)  # and backwards, as in forward mode
    assert panel.player.index == 23 and np.isnan(panel.scene.output_grids[0].values[4, 4])


def test_backward_weight_steps_equal_autograd(panel, qtbot):
    choose(panel, 2)
    assert panel.player.count == 9  # one step per weight
    qtbot.keyClick(panel, Key.Key_End)
    _, expected = autograd()
    np.testing.assert_allclose(panel.scene.output_grids[0].values, expected)
    assert panel.scene.result.text() == f"∂L/∂W[0, 0, 2, 2] = {int(expected[2, 2])}"
    # The "kernel" of the correlation is ∂L/∂Y (ones), the window X's cells.
    np.testing.assert_array_equal(panel.scene.kernels[0].values, np.ones((3, 3)))


def test_switching_back_to_forward_and_pooling(panel, qtbot):
    choose(panel, 2)
    panel.classroom_controls.mode.setCurrentIndex(1)  # max pooling: no weights
    assert panel.direction_controls.direction.currentIndex() == 1
    assert not panel.direction_controls.direction.model().item(2).isEnabled()
    qtbot.keyClick(panel, Key.Key_End)
    x = torch.tensor(CLASSROOM_POOL_INPUT[None, None], requires_grad=True)
    F.max_pool2d(x, 2).sum().backward()
    np.testing.assert_array_equal(panel.scene.grad_grid.values, x.grad[0, 0].numpy())
    assert panel.scene.result.text().splitlines()[1] == "→ ∂L/∂X[0, 3, 2]"
    choose(panel, 0)
    assert not panel.walk.names.backward and panel.scene.grad_grid is None
    qtbot.keyClick(panel, Key.Key_End)
    np.testing.assert_array_equal(panel.scene.output_grids[0].values, [[5, 7], [8, 9]])


def test_average_pooling_backward_splits_by_the_divisor(panel, qtbot):
    panel.classroom_controls.mode.setCurrentIndex(2)
    choose(panel, 1)
    qtbot.keyClick(panel, Key.Key_Right)
    # Two windows done: each gave 1/4 to its four cells.
    values = panel.scene.grad_grid.values
    assert values[:2, :4].tolist() == [[0.25] * 4] * 2 and not values[2:].any()


def test_copy_padding_is_refused_in_one_line(panel):
    panel.classroom_controls.padding.setValue(1)
    panel.classroom_controls.padding_mode.setCurrentText("reflect")
    choose(panel, 1)
    assert "zero padding only" in panel.message.text()


@pytest.mark.parametrize(("groups", "stride", "padding"), [(1, 1, 1), (2, 2, 2), (4, 1, "same")])
def test_real_layer_backward_on_its_patch_equals_autograd(panel, qtbot, groups, stride, padding):
    rng = np.random.default_rng(groups)
    weight = rng.normal(size=(4, 8 // groups, 3, 3)).astype(np.float32)
    image = rng.normal(size=(8, 16, 16)).astype(np.float32)
    panel.set_real_layer(weight, None, image, stride=stride, padding=padding, groups=groups)
    panel.real_controls.channel.setValue(3)
    row0, col0, rows, cols = panel.real.region
    # L = Σ Y over the patch's cells of filter 3: ∂L/∂Y = ones there, zero elsewhere.
    x = torch.tensor(image[None].astype(np.float64), requires_grad=True)
    w = torch.tensor(weight.astype(np.float64), requires_grad=True)
    pad = (1, 1) if padding == "same" else padding
    y = F.conv2d(x, w, stride=stride, padding=pad, groups=groups)
    y[0, 3, row0 : row0 + rows, col0 : col0 + cols].sum().backward()
    choose(panel, 1)
    walk = panel.walk
    first = 3 // (4 // groups) * (8 // groups)  # the filter's group's first input channel
    assert walk.names.output(0) == f"∂L/∂X channel {first}"
    assert f"padding {1 if padding == 'same' else padding}" in walk.description()
    assert panel.real_controls.match.text().startswith("Backward on this patch: L = Σ")
    qtbot.keyClick(panel, Key.Key_End)
    for k, o in enumerate(walk.out_channels):
        r0, c0, n_r, n_c = walk.region
        expected = x.grad[0, first + o, r0 : r0 + n_r, c0 : c0 + n_c].numpy()
        np.testing.assert_allclose(panel.scene.output_grids[k].values, expected, atol=1e-9)
    choose(panel, 2)
    qtbot.keyClick(panel, Key.Key_End)
    for k in range(len(panel.walk.out_channels)):
        expected = w.grad[3, k].numpy()
        np.testing.assert_allclose(panel.scene.output_grids[k].values, expected, atol=1e-9)
    choose(panel, 0)  # forward again: the note is the forward's comparison again
    assert not panel.walk.names.backward
    assert panel.real_controls.match.text() == "No feature map to compare with yet."


def test_export_gif_of_the_backward_steps(panel, tmp_path):
    from PIL import Image

    choose(panel, 1)
    path = tmp_path / "back.gif"
    assert panel.export_gif(str(path)) == 25
    assert "25 frames, one per step" in panel.message.text()
    with Image.open(path) as gif:
        assert gif.n_frames == 25


@pytest.mark.parametrize("direction", [1, 2])
def test_a_real_64_channel_224_layer_backward_keeps_only_its_patch(panel, direction):
    rng = np.random.default_rng(0)
    image = rng.standard_normal((64, 224, 224), dtype=np.float32)
    weight = rng.standard_normal((64, 64, 3, 3), dtype=np.float32)
    panel.set_real_layer(weight, None, image, 1, 1)
    choose(panel, direction)
    walk = panel.walk
    held = [np.asarray(walk.padded), walk.cell_kind, walk.config.kernel, walk.config.input]
    for step in walk.steps:
        held += [step.window, step.products, step.rows, step.cols, step.partial_sums]
    # The patch's first 3 channels, never a float64 copy of the 64x224x224 input (25 MB).
    assert sum(a.nbytes for a in held if not np.shares_memory(a, image)) < (1 << 20)
    assert len(walk.out_channels) == 3
