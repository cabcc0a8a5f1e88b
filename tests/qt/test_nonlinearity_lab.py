"""The non-linearity lab in the window, with the real compute thread: the two buttons
are one undo step each, and the map that arrives is the network's own, checked
against an independent torch model of the trained interview network."""

from __future__ import annotations

import json
import re

import numpy as np
import torch
from PySide6.QtWidgets import QMessageBox
from safetensors.torch import load_file
from torch import nn

from cnnviz.core.linear_collapse import AffineMap
from cnnviz.core.resources import resource_path
from cnnviz.qt.panels.nonlinearity_lab import NonlinearityLab, template_tiles
from cnnviz.qt.window.main_window import MainWindow
from tests.torch_graph import build


def labs_entry(window, name: str):
    menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Labs")
    return next(a for a in menu.actions() if a.objectName() == f"lab_{name}")


def interview_without_relu_and_max_pool() -> nn.Module:
    """The trained interview net by torch alone, ReLU → Identity, MaxPool → AvgPool."""
    folder = resource_path("presets")
    model = build(json.loads((folder / "interview.json").read_text())).model
    model.load_state_dict(load_file(folder / "interview.safetensors"))
    layers = []
    for m in model:
        if isinstance(m, nn.MaxPool2d):
            m = nn.AvgPool2d(m.kernel_size, m.stride, m.padding, m.ceil_mode)
        layers.append(nn.Identity() if isinstance(m, nn.ReLU) else m)
    return nn.Sequential(*layers).double().eval()


def test_remove_replace_undo_and_the_map_against_torch(qtbot):
    win = MainWindow(saved_layout=False)  # the real compute thread
    qtbot.addWidget(win)
    win.files.ask_to_save = lambda: QMessageBox.StandardButton.Discard
    try:
        win.show()
        assert win.load_preset("interview")
        qtbot.waitUntil(lambda: win.controller.latest is not None, timeout=60_000)
        original = win.doc.architecture
        labs_entry(win, "nonlinearity").trigger()
        panel = win.lab_docks["nonlinearity"].widget()
        qtbot.waitUntil(lambda: "Not one linear map" in panel.status.text(), timeout=10_000)
        assert "ReLU at layer 2 is not linear" in panel.status.text()
        assert panel.remove_button.text().endswith("(2)") and panel.replace_button.isEnabled()

        steps = win.doc.undo_stack.count()
        panel.remove_button.click()
        assert win.doc.undo_stack.count() == steps + 1  # one step for every activation
        assert not panel.remove_button.isEnabled()
        panel.replace_button.click()
        assert win.doc.undo_stack.count() == steps + 2
        types = [layer.type for layer in win.doc.architecture.layers]
        assert "ReLU" not in types and "MaxPool2d" not in types and types.count("AvgPool2d") == 2

        qtbot.waitUntil(lambda: panel.found is not None, timeout=60_000)
        found = panel.found
        assert found.weight.shape == (10, 784)
        assert panel.status.text() == "This network is now one linear map x ↦ Wx + b: W is 10×784"
        x = torch.from_numpy(np.asarray(win.controller.latest.result.input, np.float64))
        with torch.no_grad():
            expected = interview_without_relu_and_max_pool()(x[None])[0].numpy()
        np.testing.assert_allclose(found.network, expected, atol=1e-9)  # the trained weights
        np.testing.assert_allclose(found.mapped, expected, atol=1e-9)
        shown = float(re.search(r"= (\S+) ", panel.difference.text()).group(1))
        assert shown == float(f"{np.abs(expected - found.mapped).max():.3g}") and shown < 1e-9
        assert panel.table.rowCount() == 10
        assert panel.table.item(3, 1).text() == f"{found.mapped[3]:.4g}"
        win.grab().save("/tmp/shots/nonlinearity/test_interview.png")

        win.doc.undo_stack.undo()
        win.doc.undo_stack.undo()
        assert win.doc.architecture == original  # one undo each brought everything back
        win.doc.undo_stack.redo()
        qtbot.waitUntil(lambda: "MaxPool2d at layer 2" in panel.status.text(), timeout=60_000)
    finally:
        win.shutdown()


def test_templates_are_the_rows_of_w_in_the_input_shape(qtbot):
    panel = NonlinearityLab()
    qtbot.addWidget(panel)
    weight = np.zeros((3, 2 * 4 * 4))
    weight[1, 5] = -2.0  # channel 0, row 1, col 1 of output 1
    weight[1, 16 + 5] = -2.0  # the same pixel of channel 1
    weight[2, 0] = 0.5
    found = AffineMap(1, weight, np.zeros(3), (2, 4, 4), np.ones(3), np.ones(3) + 1e-12)
    mosaic, cols = template_tiles(found)
    assert cols == 3 and mosaic.shape == (4, 3 * 4 + 2)
    assert mosaic[1, 5 + 1] == -1.0 and mosaic[0, 10] == 1.0 and np.isnan(mosaic[0, 4])
    panel.show_map(found)
    assert "W is 3×32" in panel.status.text() and "1e-12" in panel.difference.text()
    panel.show_failure("ReLU at layer 1 is not linear")
    assert panel.found is None and panel.table.rowCount() == 0


def test_the_edit_menu_removes_every_activation_in_one_step(qtbot):
    from cnnviz.core.architecture import Architecture, InputShape, Layer
    from cnnviz.core.project import Project
    from tests.qt.test_main_window import make_window

    win = make_window(qtbot)
    try:
        relu = Layer.make("ReLU")
        conv = Layer.make("Conv2d", out_channels=2, kernel_size=1)
        block = Layer.block("Residual", [[conv, relu, conv], []])
        pool = Layer.make("MaxPool2d", kernel_size=2)
        arch = Architecture("t", InputShape(1, 4, 4), (conv, relu, block, pool, relu))
        win.doc.reset(Project(arch), None)
        menu = next(a.menu() for a in win.menuBar().actions() if a.text() == "&Edit")
        entries = {a.objectName(): a for a in menu.actions()}
        entries["remove_activations"].trigger()
        assert win.doc.undo_stack.count() == 1
        types = [layer.type for _, layer in win.doc.architecture.walk()]
        assert types == ["Conv2d", "Residual", "Conv2d", "Conv2d", "MaxPool2d"]
        entries["replace_max_pools"].trigger()
        assert win.doc.architecture.layers[2] == Layer.make("AvgPool2d", kernel_size=2)
        entries["remove_activations"].trigger()  # nothing left: no empty step
        assert win.doc.undo_stack.count() == 2
        win.doc.undo_stack.undo()
        win.doc.undo_stack.undo()
        assert win.doc.architecture == arch
    finally:
        win.shutdown()


def test_the_panel_opens_alone(tmp_path):
    import os
    import subprocess
    import sys

    from PySide6 import QtGui

    picture = tmp_path / "lab.png"
    done = subprocess.run(
        [sys.executable, "-m", "cnnviz.qt.panels.nonlinearity_lab", "--screenshot", str(picture)],
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert QtGui.QImage(str(picture)).width() > 300
