"""Whether the network's weights are trained: the controller's `trained` on each result.

Trained means learnt: a weights file (a preset's bundled one, a loaded one) or a
training in the app. Random weights with kernels set by hand are still random,
and a training stops counting once the network is replaced.
"""

from __future__ import annotations

import numpy as np
import pytest

from cnnviz.core.jobs import ForwardResult, KernelEdit, TrainConfig, TrainProgress, TrainResult
from cnnviz.core.presets import load_preset, preset_path, weights_path
from cnnviz.core.project import Project
from cnnviz.qt.bridge.controller import ComputeController, keeps_weights
from cnnviz.qt.editor import commands
from cnnviz.qt.editor.document import Document
from tests.qt.fake_compute import FakeCompute
from tests.tiny_net import TINY


@pytest.fixture
def setup(qtbot):
    doc = Document()
    fake = FakeCompute()
    controller = ComputeController(doc, fake)
    yield doc, fake, controller
    controller.shutdown()


def trained_now(fake: FakeCompute, controller: ComputeController) -> bool:
    """Submit the document as it is, answer it, and read the result's `trained`."""
    controller.submit_now()
    request = fake.requests[-1]
    fake.result_ready.emit(ForwardResult(request.request_id, request.image, ()))
    assert controller.latest.result.request_id == request.request_id
    return controller.latest.trained


def finish_training(fake: FakeCompute, controller: ComputeController) -> None:
    assert controller.start_training(TrainConfig(epochs=1))
    state = {"0.weight": np.zeros((4, 1, 3, 3), np.float32)}
    fake.training_finished.emit(
        TrainResult(fake.trainings[-1].request_id, state, 0.9, 0.9, 1, False, 1.0)
    )


def lenet5() -> Project:
    arch = load_preset("lenet5")
    return Project(arch, weights=str(weights_path(arch, preset_path("lenet5"))))


def test_a_random_preset_is_untrained_and_hand_set_kernels_do_not_change_that(setup):
    doc, fake, controller = setup
    doc.reset(Project(load_preset("tinyvgg")), None)
    assert trained_now(fake, controller) is False
    edit = KernelEdit(0, 1, np.ones((3, 3, 3), np.float32), bias=0.0)
    doc.undo_stack.push(commands.set_kernel(doc, edit))
    assert trained_now(fake, controller) is False


def test_bundled_or_loaded_weights_are_trained_until_random_ones_are_chosen(setup):
    doc, fake, controller = setup
    doc.reset(lenet5(), None)
    assert trained_now(fake, controller) is True
    doc.undo_stack.push(commands.set_weights(doc, None, "Use random weights"))
    assert trained_now(fake, controller) is False


def test_a_training_in_the_app_makes_it_trained_until_the_network_is_replaced(setup, qtbot):
    doc, fake, controller = setup
    doc.reset(Project(TINY), None)
    assert trained_now(fake, controller) is False
    finish_training(fake, controller)
    assert trained_now(fake, controller) is True
    # An edit keeping the trained layers keeps them trained.
    doc.undo_stack.push(commands.SetParamCommand(doc, 2, "kernel_size", 1))
    assert trained_now(fake, controller) is True
    # A preset from the Presets menu (an undoable replacement, no weights file on
    # either side): nothing of the trained network is left.
    with qtbot.waitSignal(controller.network_replaced):
        doc.undo_stack.push(commands.replace_architecture(doc, load_preset("tinyvgg"), "preset"))
    assert trained_now(fake, controller) is False


def test_file_new_after_training_is_untrained(setup, qtbot):
    doc, fake, controller = setup
    doc.reset(Project(TINY), None)
    finish_training(fake, controller)
    with qtbot.waitSignal(controller.network_replaced):
        doc.reset(Project(TINY), None)  # even the same stack: a new document
    assert trained_now(fake, controller) is False


def test_the_weights_learnt_at_an_epoch_end_count_as_trained(setup):
    doc, fake, controller = setup
    doc.reset(Project(TINY), None)
    controller.start_training(TrainConfig(epochs=3))
    between = TrainProgress(1, 1, 3, 5, 10, 2.0, 0.2)
    fake.training_progress.emit(between)
    assert trained_now(fake, controller) is False
    fake.training_progress.emit(TrainProgress(1, 1, 3, 10, 10, 1.0, 0.6, 0.9, 0.7, weights={}))
    assert trained_now(fake, controller) is True


def test_a_training_of_the_replaced_network_does_not_count(setup):
    doc, fake, controller = setup
    doc.reset(Project(TINY), None)
    controller.start_training(TrainConfig(epochs=3))
    doc.reset(Project(load_preset("tinyvgg")), None)
    state = {"0.weight": np.zeros((4, 1, 3, 3), np.float32)}
    fake.training_finished.emit(
        TrainResult(fake.trainings[-1].request_id, state, 0.9, 0.9, 1, True, 1.0)
    )
    assert trained_now(fake, controller) is False


def test_keeps_weights_compares_layers_with_weights_and_their_input():
    from cnnviz.core.analysis import analyze

    tiny, tinyvgg = analyze(TINY), analyze(load_preset("tinyvgg"))
    assert keeps_weights(tiny, tiny)
    assert not keeps_weights(tiny, tinyvgg)
    # Only the last Linear changes: the conv keeps its weights.
    fewer = TINY.with_layers((*TINY.layers[:-1], TINY.layers[-1].with_params(out_features=5)))
    assert keeps_weights(tiny, analyze(fewer))
    # A layer without weights in common (ReLU) does not count.
    relu_only = TINY.with_layers(TINY.layers[1:2])
    assert not keeps_weights(tiny, analyze(relu_only))


# -- the whole window, with the real compute thread -----------------------------------


@pytest.fixture
def window(qtbot, tmp_path):
    from PySide6.QtCore import QStandardPaths
    from PySide6.QtWidgets import QMessageBox

    from cnnviz.qt.window import settings
    from cnnviz.qt.window.main_window import MainWindow

    QStandardPaths.setTestModeEnabled(True)
    settings.use_settings_folder(tmp_path / "settings")
    settings.init_application_names()
    win = MainWindow(start_compute=True, saved_layout=False)
    qtbot.addWidget(win)
    win.files.ask_to_save = lambda: QMessageBox.StandardButton.Discard
    win.show()
    qtbot.waitExposed(win)
    yield win
    win.shutdown()


def shown_for(qtbot, window, arch):
    """Wait for the prediction panel to show a result for `arch`; the panel."""
    panel = window.panels.widget("prediction")

    def showing() -> bool:
        data = panel.current
        return data is not None and [i.layer for i in data.analysis.layers] == list(arch.layers)

    qtbot.waitUntil(showing, timeout=60000)
    return panel


def test_the_prediction_panel_says_when_the_weights_are_random(window, qtbot):
    window.open_preset("tinyvgg")
    panel = shown_for(qtbot, window, load_preset("tinyvgg"))
    assert panel.untrained.isVisible()
    window.load_preset("lenet5")  # with its bundled weights
    panel = shown_for(qtbot, window, load_preset("lenet5"))
    assert not panel.untrained.isVisible()
    training = window.panels.widget("training")
    assert training.form.starts_from_file() and "lenet5" in training.start_note.text()


def test_after_a_training_the_notice_goes_and_a_new_preset_brings_it_back(window, qtbot):
    window.doc.reset(Project(TINY), None)
    panel = shown_for(qtbot, window, TINY)
    assert panel.untrained.isVisible()
    training = window.panels.widget("training")
    training.set_config(TrainConfig(epochs=1, batch_size=64, learning_rate=0.01, augment=False))
    training.train_button.click()
    qtbot.waitUntil(lambda: not training.running, timeout=60000)
    assert "test accuracy" in training.status.text()
    qtbot.waitUntil(lambda: panel.current.trained, timeout=60000)
    assert not panel.untrained.isVisible()
    assert "not from the ones trained before" in training.start_note.text()
    # The Presets menu: a new network, random again, and the old run is gone.
    window.load_preset("tinyvgg")
    panel = shown_for(qtbot, window, load_preset("tinyvgg"))
    assert panel.untrained.isVisible()
    assert training.status.text() == "" and training.progress_label.text() == "Not trained yet."
    assert training.curves.val_acc.getData()[0] is None
