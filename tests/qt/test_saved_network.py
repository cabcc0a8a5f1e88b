"""A saved project holds the network as it is: trained weights, hand-set kernels and
the drawing; opened in a fresh window it computes the same outputs, value for value."""

from __future__ import annotations

import numpy as np
from PySide6.QtWidgets import QMessageBox

from cnnviz.core.jobs import ForwardRequest, KernelEdit, TrainConfig, TrainResult
from cnnviz.core.project import Project
from cnnviz.qt.bridge.compute_thread import ComputeThread
from cnnviz.qt.editor import commands
from cnnviz.qt.window.main_window import MainWindow
from tests.qt.fake_compute import FakeCompute
from tests.tiny_net import TINY

Discard, Cancel = QMessageBox.StandardButton.Discard, QMessageBox.StandardButton.Cancel
QUICK = TrainConfig(epochs=1, batch_size=64, learning_rate=0.01, augment=False)
# A drawn digit: the pad's values are whole steps of 1/255.
DRAWING = (np.add.outer(np.arange(20), np.arange(20)) % 256).astype(np.float32) / 255.0


def real_window(qtbot, project: Project | None = None) -> MainWindow:
    win = MainWindow(saved_layout=False)  # with the real compute thread
    qtbot.addWidget(win)
    win.files.ask_to_save = lambda: Discard
    if project is not None:
        win.doc.reset(project, None)
    win.show()
    win.controller.ensure_thread()  # now, not on the next turn of the event loop
    return win


def outputs(qtbot, win: MainWindow) -> list[np.ndarray]:
    """Every layer's output for the document as it is now, computed by the window."""
    request_id = win.controller.submit_now()
    qtbot.waitUntil(
        lambda: (
            win.controller.latest is not None
            and win.controller.latest.result.request_id == request_id
        ),
        timeout=60_000,
    )
    return [layer.output.copy() for layer in win.controller.latest.result.layers]


def assert_equal(got: list[np.ndarray], expected: list[np.ndarray]) -> None:
    assert len(got) == len(expected)
    for a, b in zip(got, expected, strict=True):
        np.testing.assert_array_equal(a, b)


def test_trained_edited_and_drawn_network_reopens_with_the_same_outputs(qtbot, tmp_path):
    win = real_window(qtbot, Project(TINY))
    other = None
    try:
        win.files.use_array(DRAWING, "drawing")
        untrained = outputs(qtbot, win)
        with qtbot.waitSignal(win.controller.training_finished, timeout=120_000):
            assert win.controller.start_training(QUICK)
        assert win.doc.modified and win.doc.weights_dirty  # trained weights are unsaved work
        sobel = np.array([[[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]]], np.float32)
        win.doc.undo_stack.push(commands.set_kernel(win.doc, KernelEdit(0, 1, sobel, 0.5)))
        trained = outputs(qtbot, win)
        assert not np.array_equal(trained[-1], untrained[-1])  # training changed the network

        path = tmp_path / "digits.cnnviz"
        assert win.files.save_to(path)
        assert not win.doc.modified and not win.doc.weights_dirty
        weights = path.with_name("digits.weights.safetensors")
        written = weights.stat().st_mtime_ns
        assert win.files.save_to(path)
        assert weights.stat().st_mtime_ns == written  # unchanged weights: not written again

        other = real_window(qtbot)
        assert other.files.open_path(path)
        np.testing.assert_array_equal(other.doc.image, DRAWING)
        assert_equal(outputs(qtbot, other), trained)
    finally:
        win.shutdown()
        if other is not None:
            other.shutdown()


def test_opening_a_saved_project_replaces_weights_trained_since(qtbot, tmp_path):
    win = real_window(qtbot, Project(TINY))
    try:
        path = tmp_path / "tiny.cnnviz"
        assert win.files.save_to(path)
        assert win.files.open_path(path)  # the compute thread loads the saved weights
        saved = outputs(qtbot, win)
        with qtbot.waitSignal(win.controller.training_finished, timeout=120_000):
            assert win.controller.start_training(QUICK)
        assert not np.array_equal(outputs(qtbot, win)[-1], saved[-1])
        assert win.files.open_path(path)  # the same window: nothing of the training stays
        assert_equal(outputs(qtbot, win), saved)
    finally:
        win.shutdown()


def test_a_new_random_initialisation_is_saved_as_its_seed_not_as_trained_weights(qtbot, tmp_path):
    win = real_window(qtbot, Project(TINY))
    other = None
    try:
        first = outputs(qtbot, win)
        win.controller.reseed()  # Compute > New Random Initialisation
        assert win.doc.modified
        reseeded = outputs(qtbot, win)
        assert not np.array_equal(reseeded[0], first[0])
        assert not win.controller.latest.trained
        path = tmp_path / "random.cnnviz"
        assert win.files.save_to(path)
        assert not path.with_name("random.weights.safetensors").exists()

        other = real_window(qtbot)
        assert other.files.open_path(path)
        assert_equal(outputs(qtbot, other), reseeded)  # the same random weights
        assert not other.controller.latest.trained  # and still said to be random
    finally:
        win.shutdown()
        if other is not None:
            other.shutdown()


def test_after_training_a_preset_or_new_asks_first(qtbot):
    fake = FakeCompute()
    win = MainWindow(fake, start_compute=False)
    qtbot.addWidget(win)
    asked = []
    win.files.ask_to_save = lambda: asked.append(True) or Cancel
    win.doc.reset(Project(TINY), None)
    try:
        assert win.load_preset("lenet5") and asked == []  # random weights: undoable, no question
        win.doc.undo_stack.undo()
        assert win.controller.start_training(QUICK)
        state = {"0.weight": np.zeros((4, 1, 3, 3), np.float32)}
        fake.training_finished.emit(
            TrainResult(fake.trainings[-1].request_id, state, 0.9, 0.9, 1, False, 1)
        )
        assert win.doc.modified and win.doc.weights_dirty
        assert not win.load_preset("lenet5") and asked == [True]
        assert win.doc.architecture == TINY
        assert not win.files.new() and len(asked) == 2
        assert not win.files.use_weights(None) and len(asked) == 3
        assert win.doc.architecture == TINY
    finally:
        win.shutdown()


def test_the_compute_thread_hands_over_its_weights_and_forgets_them(qtbot, tmp_path):
    from safetensors.torch import save_file

    from cnnviz.compute.model import build_model
    from cnnviz.compute.weights import state_as_numpy

    model = build_model(TINY, 3)
    weights = tmp_path / "w.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(weights))
    thread = ComputeThread()
    try:
        image = np.zeros((1, 8, 8), np.float32)
        request = ForwardRequest(1, TINY, image, weights_path=str(weights))
        token, state, fresh = thread.weights_snapshot(request)
        expected = state_as_numpy(model)
        assert state.keys() == expected.keys() and not fresh
        for key, value in expected.items():
            np.testing.assert_array_equal(state[key], value)
        assert thread.weights_snapshot(request, known=token) == (token, None, False)
        thread.forget_model()
        again, state, _ = thread.weights_snapshot(request, known=token)
        assert again != token and state is not None
        # A seed's own random weights need no saving: the project keeps the seed.
        for seed in (0, 3):
            new = ForwardRequest(2 + seed, TINY, image, seed=seed)
            assert thread.weights_snapshot(new)[1:] == (None, True)
    finally:
        thread.shutdown()
