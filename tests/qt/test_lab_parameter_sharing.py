"""The parameter-sharing lab: counts of the selected conv against torch, the
matrix's entries against torch's conv2d, following the selection and the results."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from cnnviz.core.architecture import Architecture, InputShape, Layer
from cnnviz.core.conv_as_dense import crop_weight
from cnnviz.core.project import Project
from cnnviz.qt.panels.sharing_lab import NO_CONV
from tests.qt.numpy_window import compute, numpy_window


@pytest.fixture
def window(qtbot):
    with numpy_window(qtbot) as win:
        win.load_preset("lenet5")
        yield win


def open_lab(window):
    menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Labs")
    next(a for a in menu.actions() if a.objectName() == "lab_parameter_sharing").trigger()
    return window.lab_docks["parameter_sharing"].widget()


def torch_counts(in_shape, **params):
    with torch.device("meta"):
        conv = nn.Conv2d(in_shape[0], **params)
        out = conv(torch.empty(1, *in_shape))
        dense = nn.Linear(int(np.prod(in_shape)), out.numel())
    return sum(p.numel() for p in conv.parameters()), sum(p.numel() for p in dense.parameters())


def shown_numbers(panel) -> tuple[int, int]:
    conv = re.search(r"<b>([\d,]+)</b> params", panel.conv_count.text()).group(1)
    dense = re.search(r"<b>([\d,]+)</b> params", panel.dense_count.text()).group(1)
    return int(conv.replace(",", "")), int(dense.replace(",", ""))


def test_the_lab_shows_the_selected_convs_counts_and_follows_the_selection(window):
    window.select_layer(0)
    panel = open_lab(window)
    assert panel.current_index() == 0
    conv, dense = torch_counts((1, 32, 32), out_channels=6, kernel_size=5)
    assert shown_numbers(panel) == (conv, dense) == (156, 4_821_600)
    assert "(4.8 million, 19.3 MB as float32)" in panel.dense_count.text()
    assert panel.ratio.text() == f"{dense / conv:,.0f}×"
    window.select_layer(3)  # LeNet-5's second conv: 6×14×14 → 16×10×10
    assert panel.current_index() == 3
    conv, dense = torch_counts((6, 14, 14), out_channels=16, kernel_size=5)
    assert shown_numbers(panel) == (conv, dense)
    assert panel.ratio.text() == f"{dense / conv:,.0f}×"
    window.select_layer(1)  # a ReLU: the lab keeps its conv
    assert panel.current_index() == 3
    panel.chooser.setCurrentIndex(0)
    assert shown_numbers(panel)[0] == 156


def test_each_matrix_entry_is_what_torch_conv2d_gives_for_that_input(qtbot, window):
    window.select_layer(3)
    panel = open_lab(window)
    compute(qtbot, window)
    weight = window.panels.latest.result.filters[3][0]
    kernel = crop_weight(weight)
    np.testing.assert_array_equal(panel.kernel, kernel[0, 0])
    decimals = 2 if np.abs(kernel).max() >= 0.1 else 3
    shown = [float(t.toPlainText()) for t in panel.kernel_texts]
    np.testing.assert_allclose(shown, kernel.ravel(), atol=0.5 * 10**-decimals)
    rows, cols = panel.index.shape
    assert (rows, cols) == (36, 100)  # a 10×10 crop: 6×6 outputs
    rng = np.random.default_rng(0)
    nonzero = np.argwhere(panel.index >= 0)
    picks = [*nonzero[rng.choice(len(nonzero), 12)], *rng.integers(0, (rows, cols), (12, 2))]
    for row, col in picks:
        one_hot = torch.zeros(cols, dtype=torch.float64)
        one_hot[col] = 1
        out = F.conv2d(one_hot.reshape(1, 1, 10, 10), torch.from_numpy(kernel).double())
        expected = float(out.reshape(-1)[row])
        text = panel.describe_entry(int(row), int(col))
        if expected == 0:
            assert "→ 0:" in text
        else:
            assert float(text.rsplit("= ", 1)[1]) == pytest.approx(expected, rel=1e-3)


def test_equal_weights_have_equal_colours_and_zeros_are_blank(window):
    panel = open_lab(window)
    picture = panel.matrix_item.image
    kernel_picture = panel.kernel_item.image
    kh, kw = kernel_picture.shape[:2]
    for flat in range(kh * kw):
        cells = picture[panel.index == flat]
        assert len(cells) == 36  # every output position holds this weight once
        assert (cells == kernel_picture[flat // kw, flat % kw]).all()
    assert (picture[panel.index < 0][:, 3] < 40).all()  # zeros: nearly transparent
    panel._hovered((0, 0))
    assert panel.kernel_mark.isVisible() and panel.kernel_mark.rect().topLeft().toTuple() == (0, 0)
    assert "kernel weight (c, i, j) = (0, 0, 0)" in panel.hover.text()
    assert "the same weight sits in 36 rows" in panel.hover.text()
    assert len(panel.shared_marks.data) == 36
    panel._hovered(None)
    assert not panel.kernel_mark.isVisible() and len(panel.shared_marks.data) == 0


def test_an_edit_recounts_and_a_stack_without_conv_says_so(window):
    from cnnviz.qt.editor import commands

    panel = open_lab(window)
    window.doc.undo_stack.push(commands.SetParamCommand(window.doc, 0, "out_channels", 4))
    conv, dense = torch_counts((1, 32, 32), out_channels=4, kernel_size=5)
    assert panel.current_index() == 0 and shown_numbers(panel) == (conv, dense)
    arch = Architecture("dense", InputShape(1, 8, 8), (Layer.make("Flatten"),))
    window.doc.reset(Project(arch), None)
    assert panel.current_index() is None and panel.title.text() == NO_CONV
    assert panel.index is None and panel.conv_count.text() == ""
