"""File > Import PyTorch Model…: a person's own model converted in a process of its
own and opened with its weights; a model that cannot be imported is one line in
the status bar and the current work stays."""

from __future__ import annotations

import shutil
from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QInputDialog, QMessageBox

from cnnviz.core.model_sources import python_names
from cnnviz.core.presets import load_preset
from cnnviz.core.project import Project
from cnnviz.qt.window import settings
from cnnviz.qt.window.model_import import WEIGHTS_TITLE
from tests.qt.test_main_window import make_window

MODELS = Path(__file__).parents[1] / "import_models.py"
IMPORT_TIMEOUT_MS = 120_000  # a fresh interpreter imports torch, then converts


def menu_action(window, text: str):
    file_menu = window.menuBar().actions()[0].menu()
    return next(a for a in file_menu.actions() if a.text() == text)


def _answer_the_dialogs(monkeypatch, warned: list, *, run_it=True, weights=None):
    def open_file(_parent, title, *_a):
        chosen = weights if title == WEIGHTS_TITLE else MODELS
        return (str(chosen) if chosen else "", "")

    monkeypatch.setattr(QFileDialog, "getOpenFileName", open_file)
    monkeypatch.setattr(QInputDialog, "getItem", lambda *a, **_k: ("Net", True))
    monkeypatch.setattr(QInputDialog, "getText", lambda *_a, **_k: ("3,16,16", True))

    def warning(_parent, _title, text, *_a):
        warned.append(text)
        ok, cancel = QMessageBox.StandardButton.Ok, QMessageBox.StandardButton.Cancel
        return ok if run_it else cancel

    monkeypatch.setattr(QMessageBox, "warning", warning)


def test_the_file_menu_imports_a_model_with_its_weights(qtbot, monkeypatch, tmp_path):
    import torch
    from safetensors.torch import load_file, save_file

    namespace: dict = {}
    exec(compile(MODELS.read_text(encoding="utf-8"), str(MODELS), "exec"), namespace)
    state = {
        key: torch.full_like(value, 0.5) for key, value in namespace["Net"]().state_dict().items()
    }
    save_file(state, str(tmp_path / "mine.safetensors"))
    window = make_window(qtbot)
    warned: list[str] = []
    _answer_the_dialogs(monkeypatch, warned, weights=tmp_path / "mine.safetensors")
    with qtbot.waitSignal(window.model_import.done, timeout=IMPORT_TIMEOUT_MS) as done:
        menu_action(window, "&Import PyTorch Model…").trigger()
    try:
        assert done.args == [True]
        assert warned == [
            "Importing runs import_models.py as Python code. Only import code you trust."
        ]
        arch = window.doc.architecture
        assert arch.name == "Net" and arch.input.as_tuple() == (3, 16, 16)
        assert [layer.type for layer in arch.layers][2:5] == ["Residual", "ReLU", "Parallel"]
        weights = Path(window.doc.weights_path)
        assert weights.name == "Net.safetensors" and weights.is_file()
        assert torch.equal(load_file(str(weights))["2.body.0.weight"], state["block.conv1.weight"])
        assert "Imported import_models.py:Net" in window.statusbar.problem.text()
        folder = weights.parent
        assert str(weights.parent / "Net.json") not in settings.recent_files()
        window.files.ask_to_save = lambda: QMessageBox.StandardButton.Discard
        window.close()  # the temporary folder goes with the window
        assert not folder.exists()
    finally:
        shutil.rmtree(Path(window.doc.path).parent, ignore_errors=True)
        window.shutdown()


def test_a_model_that_cannot_be_imported_is_one_line_and_the_work_stays(qtbot):
    window = make_window(qtbot)
    window.doc.reset(Project(load_preset("lenet5")), None)
    before = window.doc.architecture
    with qtbot.waitSignal(window.model_import.done, timeout=IMPORT_TIMEOUT_MS) as done:
        assert window.model_import.start(f"{MODELS}:Dense", "3,16,16")
    assert done.args == [False]
    assert window.doc.architecture == before
    problem = window.statusbar.problem_text
    assert problem.startswith("cannot import: `a = self.a(x)` at import_models.py:")
    assert "\n" not in problem
    window.shutdown()


def test_declining_the_warning_runs_nothing(qtbot, monkeypatch):
    window = make_window(qtbot)
    warned: list[str] = []
    _answer_the_dialogs(monkeypatch, warned, run_it=False)
    assert not window.model_import.dialog()
    assert warned and window.model_import.process is None
    window.shutdown()


def test_the_class_names_are_read_without_running_the_file(tmp_path):
    path = tmp_path / "net.py"
    marker = tmp_path / "ran"
    path.write_text(
        f"open({str(marker)!r}, 'w')\nclass Net: pass\ndef make(): pass\nclass _Hidden: pass\n"
    )
    assert python_names(path) == ["Net", "make"]
    assert not marker.exists()


def test_a_torchscript_model_that_is_no_chain_says_why_it_is_one_layer(qtbot, tmp_path):
    import torch

    from tests.compute.test_import_torchscript_models import ResidualNet

    path = tmp_path / "residual.pt"
    torch.jit.script(ResidualNet().eval()).save(str(path))
    window = make_window(qtbot)
    with qtbot.waitSignal(window.model_import.done, timeout=IMPORT_TIMEOUT_MS) as done:
        assert window.model_import.start(str(path), "3,16,16")
    try:
        assert done.args == [True]
        assert [layer.type for layer in window.doc.architecture.layers] == ["Opaque"]
        message = window.statusbar.problem.text()
        assert message.startswith("Imported residual.pt (residual.pt: its forward is not a chain")
        assert message.endswith("Save As to keep it")
    finally:
        shutil.rmtree(Path(window.doc.path).parent, ignore_errors=True)
        window.shutdown()
