"""File > Export as PyTorch…: the network in the window as a Python file whose
build_model() is the model cnnviz runs; a network that cannot be written is one
line in the status bar and no file."""

from __future__ import annotations

import torch
from PySide6.QtWidgets import QFileDialog

from cnnviz.compute.model import build_model
from cnnviz.core.architecture import Architecture, InputShape, Layer
from cnnviz.core.presets import load_preset
from cnnviz.core.project import Project
from tests.qt.test_main_window import make_window


def menu_action(window, text: str):
    file_menu = window.menuBar().actions()[0].menu()
    return next(a for a in file_menu.actions() if a.text() == text)


def test_the_file_menu_writes_the_network_as_pytorch(qtbot, tmp_path, monkeypatch):
    window = make_window(qtbot)
    arch = load_preset("inceptionsmall")
    window.doc.reset(Project(arch), None)
    chosen = tmp_path / "inception"  # no suffix: .py is added
    monkeypatch.setattr(
        QFileDialog, "getSaveFileName", lambda *_a, **_k: (str(chosen), "Python files (*.py)")
    )
    menu_action(window, "&Export as PyTorch…").trigger()
    written = tmp_path / "inception.py"
    namespace: dict = {"__name__": "exported"}
    exec(compile(written.read_text(encoding="utf-8"), str(written), "exec"), namespace)
    exported, ours = namespace["build_model"](), build_model(arch, seed=0)
    exported.load_state_dict(ours.state_dict())
    x = torch.randn(1, *arch.input.as_tuple())
    with torch.no_grad():
        torch.testing.assert_close(exported.eval()(x), ours.eval()(x))
    assert "Exported inception.py" in window.statusbar.problem.text()
    window.shutdown()


def test_an_invalid_network_is_one_line_in_the_status_bar(qtbot, tmp_path):
    window = make_window(qtbot)
    bad = Architecture(
        "bad", InputShape(1, 4, 4), (Layer.make("Conv2d", out_channels=1, kernel_size=9),)
    )
    window.doc.reset(Project(bad), None)
    assert not window.files.export_pytorch(tmp_path / "bad.py")
    assert not (tmp_path / "bad.py").exists()
    problem = window.statusbar.problem_text
    assert problem.startswith("Cannot export as PyTorch: layer 0 Conv2d") and "\n" not in problem
    window.doc.reset(Project(load_preset("lenet5")), None)
    assert not window.files.export_pytorch(tmp_path / "missing" / "net.py")
    assert window.statusbar.problem_text.startswith("Cannot export as PyTorch: cannot write net.py")
    window.shutdown()
