"""The main window: files, title, prompts, remembered layout, results in the panels."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PySide6.QtCore import QMimeData, QUrl
from PySide6.QtWidgets import QDockWidget, QMessageBox

from cnnviz.core.architecture import Architecture, InputShape, Layer
from cnnviz.core.jobs import ComputeFailure, KernelEdit
from cnnviz.core.presets import load_preset
from cnnviz.core.project import Project
from cnnviz.qt.editor import commands
from cnnviz.qt.window import settings
from cnnviz.qt.window.main_window import MainWindow
from tests.qt.fake_compute import FakeCompute

Discard, Cancel = QMessageBox.StandardButton.Discard, QMessageBox.StandardButton.Cancel


def small_arch(name: str = "small") -> Architecture:
    return Architecture(
        name,
        InputShape(1, 12, 12),
        (
            Layer.make("Conv2d", out_channels=2, kernel_size=3),
            Layer.make("ReLU"),
            Layer.make("MaxPool2d", kernel_size=2),
        ),
    )


def make_window(qtbot, compute=None) -> MainWindow:
    win = MainWindow(compute, start_compute=False)
    qtbot.addWidget(win)
    win.files.ask_to_save = lambda: Discard
    return win


@pytest.fixture
def window(qtbot):
    win = make_window(qtbot)
    win.doc.reset(Project(small_arch()), None)
    yield win
    win.shutdown()


def types(win: MainWindow) -> list[str]:
    return [layer.type for layer in win.doc.architecture.layers]


# -- files ---------------------------------------------------------------------------


def test_save_then_reopen_gives_the_same_stack(window, qtbot, tmp_path):
    doc = window.doc
    window.load_preset("lenet5")
    doc.undo_stack.push(commands.SetParamCommand(doc, 0, "out_channels", 4))
    edit = KernelEdit(0, 1, np.arange(25, dtype=np.float32).reshape(1, 5, 5), bias=-1.0)
    doc.undo_stack.push(commands.set_kernel(doc, edit))
    doc.set_preprocessing({"resize": "crop"})
    saved_arch = doc.architecture
    path = tmp_path / "lenet.cnnviz"
    assert window.files.save_to(path)
    assert not doc.modified
    other = make_window(qtbot)
    try:
        assert other.files.open_path(path)
        assert other.doc.architecture == saved_arch
        assert other.doc.weights_path == doc.weights_path
        assert other.doc.preprocessing == {"resize": "crop"}
        (back,) = other.doc.kernel_edits
        np.testing.assert_array_equal(back.kernel, edit.kernel)
        assert (back.layer, back.out_channel, back.bias) == (0, 1, -1.0)
        assert other.doc.path == path and not other.doc.modified
    finally:
        other.shutdown()


def test_architecture_json_saves_as_architecture(window, tmp_path):
    path = tmp_path / "net.json"
    assert window.files.save_to(path)
    data = json.loads(path.read_text())
    assert data["format"] == "cnnviz-architecture"
    assert [layer["type"] for layer in data["layers"]] == ["Conv2d", "ReLU", "MaxPool2d"]


def test_corrupt_file_leaves_the_current_stack(window, qtbot, tmp_path):
    before = window.doc.architecture
    window.doc.undo_stack.push(commands.remove_rows(window.doc, [1]))
    bad = tmp_path / "broken.cnnviz"
    bad.write_text('{"format": "cnnviz-project", "version": 1, "architecture": {')
    assert not window.files.open_path(bad)
    assert types(window) == ["Conv2d", "MaxPool2d"]  # the edit is still there
    assert window.doc.modified and window.doc.undo_stack.canUndo()
    assert "broken.cnnviz: not valid JSON" in window.statusbar.problem_text
    box = window.findChild(QMessageBox, "error_box")
    assert box is not None and "not valid JSON" in box.text()
    box.close()
    window.doc.undo_stack.undo()
    assert window.doc.architecture == before


def test_newer_version_gets_a_clear_message(window, tmp_path):
    newer = tmp_path / "future.cnnviz"
    newer.write_text(json.dumps({"format": "cnnviz-project", "version": 7}))
    assert not window.files.open_path(newer)
    assert "newer cnnviz" in window.statusbar.problem_text
    assert "please update cnnviz" in window.statusbar.problem_text
    assert window.doc.architecture == small_arch()


def test_save_failure_keeps_the_work(window, tmp_path):
    window.doc.undo_stack.push(commands.remove_rows(window.doc, [0]))
    assert not window.files.save_to(tmp_path / "missing" / "x.cnnviz")
    assert window.doc.modified
    assert "cannot write x.cnnviz" in window.statusbar.problem_text


def test_recent_files(window, tmp_path):
    for name in ("a.cnnviz", "b.cnnviz", "a.cnnviz"):
        window.files.save_to(tmp_path / name)
    assert settings.recent_files() == [str(tmp_path / "a.cnnviz"), str(tmp_path / "b.cnnviz")]
    (tmp_path / "b.cnnviz").unlink()
    assert not window.files.open_recent(str(tmp_path / "b.cnnviz"))
    assert settings.recent_files() == [str(tmp_path / "a.cnnviz")]


# -- title and prompts ------------------------------------------------------------


def test_title_shows_file_and_modified_marker(window, tmp_path):
    assert window.windowTitle().startswith("small (not saved)")
    window.files.save_to(tmp_path / "net.cnnviz")
    assert window.windowTitle() == "net.cnnviz[*] — cnnviz"
    assert not window.isWindowModified()
    window.doc.undo_stack.push(commands.duplicate_rows(window.doc, [0]))
    assert window.isWindowModified()
    window.doc.undo_stack.undo()
    assert not window.isWindowModified()


def test_unsaved_changes_prompt_can_cancel_closing(window, qtbot):
    window.show()
    window.doc.undo_stack.push(commands.remove_rows(window.doc, [0]))
    asked = []
    window.files.ask_to_save = lambda: asked.append(1) or Cancel
    assert not window.close()
    assert asked and window.isVisible()
    window.files.ask_to_save = lambda: Discard
    assert window.close()


def test_new_asks_first_and_starts_clean(window):
    window.doc.undo_stack.push(commands.remove_rows(window.doc, [0]))
    window.files.ask_to_save = lambda: Cancel
    assert not window.files.new()
    assert types(window) == ["ReLU", "MaxPool2d"]
    window.files.ask_to_save = lambda: Discard
    assert window.files.new()
    assert not window.doc.modified and window.doc.path is None
    assert window.doc.undo_stack.count() == 0


def test_preset_is_undoable_and_brings_its_weights(window):
    window.load_preset("lenet5")
    assert window.doc.architecture == load_preset("lenet5")
    assert window.doc.weights_path.endswith("lenet5.safetensors")
    window.doc.undo_stack.undo()
    assert window.doc.architecture == small_arch()
    assert window.doc.weights_path is None


# -- layout ----------------------------------------------------------------------------


def test_layout_and_open_docks_are_remembered(qtbot):
    first = make_window(qtbot)
    first.show()
    first.panels.docks["overview"].dock.hide()
    first.palette_dock.setFloating(True)
    first.close()
    second = make_window(qtbot)
    second.show()
    try:
        assert not second.panels.docks["overview"].dock.isVisible()
        assert second.panels.docks["feature_maps"].dock.isVisible()
        assert second.palette_dock.isFloating()
        second.reset_layout()
        assert second.panels.docks["overview"].dock.isVisible()
        assert not second.palette_dock.isFloating()
    finally:
        second.shutdown()


def test_every_panel_has_a_dock_and_a_view_menu_entry(window):
    names = {dock.objectName() for dock in window.findChildren(QDockWidget)}
    expected = {"palette", "stack", "properties", "feature_maps", "overview", "filters", "pooling"}
    expected |= {"activation", "prediction", "input_image", "draw_pad", "conv_stepper", "training"}
    expected |= {"why"}
    expected |= {"gradients"}
    expected |= {"quiz"}
    assert names == {f"dock_{n}" for n in expected}
    titles = {action.text() for action in window.view_menu.actions()}
    assert {"Feature maps", "Convolution step by step", "&Reset Layout"} <= titles
    switches = {action.text() for action in window.panels_menu.actions()}
    assert switches == {dock.windowTitle() for dock in window.findChildren(QDockWidget)}


# -- compute results -------------------------------------------------------------------


def test_results_reach_the_panels_and_status_bar(qtbot):
    compute = FakeCompute()
    win = make_window(qtbot, compute)
    win.doc.reset(Project(small_arch()), None)
    win.show()
    qtbot.waitUntil(lambda: bool(compute.requests))
    request = compute.requests[-1]
    assert request.image.shape == (1, 12, 12) and request.image.dtype == np.float32
    win.select_layer(2)
    with qtbot.waitSignal(win.result_shown):
        compute.answer(request)
    assert win.statusbar.timing.text() == "forward 12 ms"
    assert "Fake GPU" in win.statusbar.device.text()
    feature_maps = win.panels.docks["feature_maps"]
    assert feature_maps.fed is not None and feature_maps.fed.layer_index == 2
    assert feature_maps.fed.result.layers[2].output.shape == (2, 5, 5)
    win.shutdown()


def test_stale_results_are_ignored(qtbot):
    compute = FakeCompute()
    win = make_window(qtbot, compute)
    win.controller.submit_now()
    first = compute.requests[-1]
    win.doc.undo_stack.push(commands.remove_rows(win.doc, [0]))
    win.controller.submit_now()
    latest = compute.requests[-1]
    shown = []
    win.result_shown.connect(shown.append)
    compute.answer(first)
    assert shown == []
    compute.answer(latest)
    assert [view.result.request_id for view in shown] == [latest.request_id]
    win.shutdown()


def test_invalid_stack_computes_the_layers_before_it(qtbot):
    compute = FakeCompute()
    win = make_window(qtbot, compute)
    win.doc.reset(Project(small_arch()), None)
    win.doc.undo_stack.push(commands.SetParamCommand(win.doc, 2, "kernel_size", 20))
    request_id = win.controller.submit_now()
    request = compute.requests[-1]
    assert request.request_id == request_id
    assert [layer.type for layer in request.architecture.layers] == ["Conv2d", "ReLU"]
    compute.answer(request)
    assert "layer 2 MaxPool2d" in win.statusbar.problem_text
    assert "showing the layers before it" in win.statusbar.problem_text
    win.shutdown()


def test_compute_failure_is_shown_in_plain_words(qtbot):
    compute = FakeCompute()
    win = make_window(qtbot, compute)
    request_id = win.controller.submit_now()
    compute.failed.emit(ComputeFailure(request_id, "lenet5.safetensors: no layer 7"))
    assert win.statusbar.problem_text == "lenet5.safetensors: no layer 7"
    win.shutdown()


def test_kernel_edits_travel_with_the_request(qtbot):
    compute = FakeCompute()
    win = make_window(qtbot, compute)
    win.doc.reset(Project(small_arch()), None)
    edit = KernelEdit(0, 0, np.ones((1, 3, 3), np.float32))
    win.panels.kernel_edit(edit)  # what the filters panel's signal does
    win.controller.submit_now()
    assert compute.requests[-1].kernel_edits == (edit,)
    assert win.doc.undo_stack.undoText() == "Set kernel of layer 0, channel 0"
    win.shutdown()


# -- images --------------------------------------------------------------------------


def test_bad_image_keeps_the_previous_one(window, tmp_path):
    from PIL import Image

    good = tmp_path / "good.png"
    Image.new("RGB", (20, 10), (255, 0, 0)).save(good)
    assert window.files.open_image(good)
    image = window.doc.image
    bad = tmp_path / "bad.png"
    bad.write_text("not a picture")
    assert not window.files.open_image(bad)
    assert window.doc.image is image
    assert window.doc.image_path == str(good)
    assert "bad.png" in window.statusbar.problem_text


def test_dropped_files_open(window, tmp_path):
    from PIL import Image

    picture = tmp_path / "drop.png"
    Image.new("L", (8, 8), 255).save(picture)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(picture))])
    assert window.panels.accepts_drop(mime)
    assert window.panels.drop(mime)
    assert window.doc.image_path == str(picture)
    project = tmp_path / "p.cnnviz"
    window.files.save_to(project)
    window.doc.undo_stack.push(commands.remove_rows(window.doc, [0, 1, 2]))
    mime.setUrls([QUrl.fromLocalFile(str(project))])
    assert window.panels.drop(mime)
    assert types(window) == ["Conv2d", "ReLU", "MaxPool2d"]


# -- weights and autosave ------------------------------------------------------------


def test_trained_weights_are_saved_and_used(window, tmp_path):
    from safetensors.numpy import load_file

    state = {"0.weight": np.arange(18, dtype=np.float32).reshape(2, 1, 3, 3), "0.bias": np.ones(2)}
    path = tmp_path / "trained.safetensors"
    assert window.files.write_weights(state, path)
    back = load_file(str(path))
    np.testing.assert_array_equal(back["0.weight"], state["0.weight"])
    assert window.doc.weights_path == str(path)
    window.doc.undo_stack.undo()
    assert window.doc.weights_path is None


def test_autosave_snapshot_restores_the_stack(window, qtbot):
    assert window.doc.snapshot() is None  # nothing unsaved, nothing to autosave
    window.doc.undo_stack.push(commands.duplicate_rows(window.doc, [1]))
    text = window.doc.snapshot()
    other = make_window(qtbot)
    try:
        assert other.restore_snapshot(text)
        assert types(other) == ["Conv2d", "ReLU", "ReLU", "MaxPool2d"]
        assert other.doc.modified and other.doc.path is None
        assert not other.restore_snapshot("{broken")
        assert types(other) == ["Conv2d", "ReLU", "ReLU", "MaxPool2d"]
    finally:
        other.shutdown()


def test_real_compute_follows_every_edit(qtbot):
    win = MainWindow(saved_layout=False)  # the real compute thread
    qtbot.addWidget(win)
    win.files.ask_to_save = lambda: Discard
    try:
        win.doc.reset(Project(small_arch()), None)
        win.show()

        def shown_channels() -> int | None:
            latest = win.controller.latest
            return None if latest is None else latest.result.layers[0].output.shape[0]

        qtbot.waitUntil(lambda: shown_channels() == 2, timeout=60_000)
        win.doc.undo_stack.push(commands.SetParamCommand(win.doc, 0, "out_channels", 5))
        qtbot.waitUntil(lambda: shown_channels() == 5, timeout=30_000)
        maps = win.panels.docks["feature_maps"]
        assert maps.fed.result.layers[0].output.shape == (5, 10, 10)
        assert win.statusbar.device.text().startswith("Device: ")
        assert win.statusbar.timing.text().startswith("forward ")
    finally:
        win.shutdown()


def test_a_bundled_preset_file_opens_untitled(window):
    from cnnviz.core.presets import preset_path

    assert window.files.open_path(preset_path("tinyvgg"))
    assert window.doc.path is None  # Save will ask where: the original stays intact
    assert window.doc.architecture == load_preset("tinyvgg")


def test_weights_are_withheld_from_a_partial_stack_until_loaded(qtbot, tmp_path):
    compute = FakeCompute()
    win = make_window(qtbot, compute)
    weights = str(tmp_path / "w.safetensors")
    doc = win.doc
    doc.reset(Project(small_arch(), weights=weights), None)
    doc.undo_stack.push(commands.SetParamCommand(doc, 2, "kernel_size", 20))  # invalid
    win.controller.submit_now()
    assert compute.requests[-1].weights_path is None  # would be refused: not a whole stack
    compute.answer(compute.requests[-1])
    assert "with random weights until it is fixed" in win.statusbar.problem_text
    doc.undo_stack.undo()  # valid again: the file is loaded
    win.controller.submit_now()
    assert compute.requests[-1].weights_path == weights
    compute.answer(compute.requests[-1])
    doc.undo_stack.redo()  # invalid once more, but the file is in use now
    win.controller.submit_now()
    assert compute.requests[-1].weights_path == weights
    win.shutdown()
