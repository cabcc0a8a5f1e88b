"""The training-mode lab: the status-bar badge follows Training Behaviour, the panel
shows torch's dropout mask and scale and batch norm's statistics (checked against
torch on the arrays the real compute side recorded), and the lab sets it all up."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PySide6.QtWidgets import QMessageBox
from torch import nn

from cnnviz.compute.runner import ForwardRunner
from cnnviz.compute.weights import state_as_numpy
from cnnviz.core.analysis import analyze
from cnnviz.core.architecture import Architecture, InputShape, Layer
from cnnviz.core.jobs import ForwardRequest
from cnnviz.core.project import Project
from cnnviz.qt.labs import training_mode as lab
from cnnviz.qt.panels.base import PanelInput
from cnnviz.qt.panels.training_mode import NONE_HINT, PICK_HINT, WAITING, TrainingModePanel
from tests.qt.test_main_window import make_window

WAIT_MS = 60_000

ARCH = Architecture(
    "bn and dropout",
    InputShape(2, 12, 12),
    (
        Layer.make("Conv2d", out_channels=4, kernel_size=3, padding=1),
        Layer.make("BatchNorm2d", momentum=0.3),
        Layer.make("ReLU"),
        Layer.make("Dropout", p=0.25),
        Layer.make("Flatten"),
        Layer.make("Linear", out_features=3),
    ),
)


def test_the_badge_shows_while_training_behaviour_is_on(qtbot):
    window = make_window(qtbot)
    action, badge = window.menu_actions.train_mode, window.statusbar.training
    assert badge.isHidden()
    action.trigger()
    assert window.controller.train_mode and not badge.isHidden()
    assert "TRAINING MODE" in badge.text() and "1/(1−p)" in badge.toolTip()
    action.trigger()
    assert not window.controller.train_mode and badge.isHidden()
    window.shutdown()


@pytest.fixture
def computed():
    """A runner whose batch norm holds trained-looking numbers, and its train-mode result."""
    runner = ForwardRunner()
    image = np.random.default_rng(0).standard_normal((2, 12, 12)).astype(np.float32)
    runner.run(ForwardRequest(1, ARCH, image, seed=4))
    bn = runner.keeper.model[1]
    with torch.no_grad():
        bn.weight.copy_(torch.tensor([1.5, 0.5, 2.0, 1.0]))
        bn.bias.copy_(torch.tensor([0.3, -0.2, 0.0, 1.0]))
        bn.running_mean.copy_(torch.tensor([0.1, -0.1, 0.2, 0.0]))
        bn.running_var.copy_(torch.tensor([0.5, 2.0, 1.0, 1.5]))
    result = runner.run(ForwardRequest(2, ARCH, image, seed=4, train_mode=True))
    return runner, result


def _panel(qtbot, runner) -> TrainingModePanel:
    panel = TrainingModePanel()
    qtbot.addWidget(panel)
    panel.state_provider = lambda reply: reply(state_as_numpy(runner.keeper.model), None)
    return panel


def test_the_panel_shows_torchs_dropout_mask_and_scale(qtbot, computed):
    runner, result = computed
    panel = _panel(qtbot, runner)
    panel.show(PanelInput(result, analyze(ARCH), 3))
    x, y = result.layers[3].input, result.layers[3].output
    view = panel.dropout
    assert not panel.showing_hint and panel.batch_norm is None
    live = x != 0
    assert view.kept == int((y[live] != 0).sum()) and view.dropped == int((y[live] == 0).sum())
    np.testing.assert_allclose(y[y != 0] / x[y != 0], 1 / 0.75, rtol=1e-6)
    assert view.scale == pytest.approx(1 / 0.75, rel=1e-6) and view.scale_matches
    page = panel.dropout_page
    assert f"on all {view.kept:,} of them" in page.scale_line.text()
    assert "1/0.75 = 1.33333" in page.scale_line.text()
    assert "1 − p = 75.0 %" in page.kept_line.text()
    # The mask drawn is the channel's: kept white, dropped black.
    c = panel.channel
    picture = page.items[1].image
    kept = (y[c] != 0) & live[c]
    assert (picture[kept] == 255).all() and (picture[(y[c] == 0) & live[c]] == 0).all()


def test_dropout_at_evaluation_and_with_p_zero_says_output_is_input(qtbot, computed):
    runner, result = computed
    panel = _panel(qtbot, runner)
    image = result.input
    evaluated = runner.run(ForwardRequest(3, ARCH, image, seed=4))
    panel.show(PanelInput(evaluated, analyze(ARCH), 3))
    assert panel.dropout.identity and panel.dropout.max_difference == 0
    assert panel.dropout_page.kept_line.text().startswith("Identity at evaluation")
    layers = list(ARCH.layers)
    layers[3] = Layer.make("Dropout", p=0.0)
    nothing = Architecture("p0", ARCH.input, tuple(layers))
    trained = runner.run(ForwardRequest(4, nothing, image, seed=4, train_mode=True))
    panel.show(PanelInput(trained, analyze(nothing), 3))
    assert panel.dropout_page.kept_line.text().startswith("p = 0 drops nothing")


def test_the_panel_shows_batch_norms_statistics_as_torch_computes_them(qtbot, computed):
    runner, result = computed
    panel = _panel(qtbot, runner)
    panel.show(PanelInput(result, analyze(ARCH), 1))
    x = torch.from_numpy(result.layers[1].input)[None]
    reference = nn.BatchNorm2d(4, momentum=0.3)
    reference.load_state_dict(runner.keeper.model[1].state_dict())
    expected = reference.train()(x)
    np.testing.assert_allclose(result.layers[1].output, expected[0].detach().numpy(), atol=1e-6)
    view, c = panel.batch_norm, panel.channel
    assert view.used == "batch" and view.count == 144
    assert view.mean == pytest.approx(float(x[0, c].mean()), abs=1e-6)
    assert view.var == pytest.approx(float(x[0, c].var(unbiased=False)), rel=1e-5)
    assert view.gamma == pytest.approx([1.5, 0.5, 2.0, 1.0][c])
    assert view.running_var == pytest.approx([0.5, 2.0, 1.0, 1.5][c])
    # torch's own update of the running statistics is the one the panel predicts
    assert view.next_running_mean == pytest.approx(float(reference.running_mean[c]), abs=1e-6)
    assert view.next_running_var == pytest.approx(float(reference.running_var[c]), rel=1e-5)
    assert view.max_error < 1e-5
    page = panel.batch_norm_page
    assert "12×12 = 144 positions" in page.stats_line.text()
    assert f"γ = {view.gamma:.4g}" in page.stats_line.text()
    assert "momentum 0.3" in page.running_line.text()
    # The compute side put the running statistics back after the training-mode look.
    assert torch.equal(runner.keeper.model[1].running_var, torch.tensor([0.5, 2.0, 1.0, 1.5]))


class HeldThread:
    """A compute-thread stand-in: each put_call runs its function on a thread of its
    own, held until `release` is set (a forward still running)."""

    def __init__(self, runner):
        self.runner, self.release, self.workers = runner, threading.Event(), []
        self.answers = []  # what the runner's weights_snapshot returned, in order

    def put_call(self, function) -> None:
        def work():
            self.release.wait()
            function(self)

        self.workers.append(threading.Thread(target=work, daemon=True))
        self.workers[-1].start()

    def weights_snapshot(self, request, known):
        answer = self.runner.weights_snapshot(request, known)
        self.answers.append(answer)
        return answer

    def join(self) -> None:
        self.release.set()
        for worker in self.workers:
            worker.join(WAIT_MS / 1000)


@pytest.fixture
def held(computed):
    runner, result = computed
    thread = HeldThread(runner)
    forward = ForwardRequest(0, ARCH, np.zeros((0,), np.float32), seed=4)
    yield SimpleNamespace(thread=thread, snapshot_request=lambda: forward), result
    thread.join()


def test_the_batch_norm_page_never_waits_for_the_compute_thread(qtbot, held):
    controller, result = held
    thread = controller.thread
    panel = TrainingModePanel()
    qtbot.addWidget(panel)
    panel.state_provider = weights = lab._Weights(controller, panel)
    panel.show(PanelInput(result, analyze(ARCH), 1))
    # Back at once although the compute thread holds the call: histograms and a line.
    assert panel.batch_norm is None and not panel.showing_hint
    assert panel.pages.currentWidget() is panel.batch_norm_page
    assert panel.batch_norm_page.stats_line.text() == WAITING
    assert not panel.batch_norm_page.mu_line.isVisible()
    # A newer input wins: the older question is never computed nor answered.
    newer = PanelInput(result, analyze(ARCH), 1)
    panel.show(newer)
    thread.release.set()
    qtbot.waitUntil(lambda: panel.batch_norm is not None, timeout=WAIT_MS)
    thread.join()
    assert len(thread.answers) == 1 and panel.current is newer
    c = panel.channel
    assert panel.batch_norm.gamma == pytest.approx([1.5, 0.5, 2.0, 1.0][c])
    assert panel.batch_norm.beta == pytest.approx([0.3, -0.2, 0.0, 1.0][c])
    assert panel.batch_norm.running_var == pytest.approx([0.5, 2.0, 1.0, 1.5][c])
    assert f"γ = {panel.batch_norm.gamma:.4g}" in panel.batch_norm_page.stats_line.text()
    # A redraw of the same input (another channel) asks nothing more.
    panel.channel_spin.setValue((c + 1) % 4)
    assert len(thread.answers) == 1 and panel.batch_norm.channel == (c + 1) % 4
    # The next input asks with the copy's token: unchanged weights are not copied again.
    panel.show(PanelInput(result, analyze(ARCH), 1))
    qtbot.waitUntil(lambda: panel.batch_norm is not None, timeout=WAIT_MS)
    thread.join()
    token, state, fresh = thread.answers[-1]
    assert state is None and not fresh and token == weights.token
    assert panel.batch_norm.gamma == pytest.approx([1.5, 0.5, 2.0, 1.0][panel.channel])


def test_a_failed_read_is_one_line_on_the_page(qtbot, held):
    controller, result = held
    panel = TrainingModePanel()
    qtbot.addWidget(panel)
    panel.state_provider = lab._Weights(controller, panel)

    def refuse(request, known):
        raise ValueError("the model is being rebuilt\nsecond line")

    controller.thread.weights_snapshot = refuse
    controller.thread.release.set()
    panel.show(PanelInput(result, analyze(ARCH), 1))
    qtbot.waitUntil(lambda: panel.batch_norm is not None, timeout=WAIT_MS)
    assert panel.note.text() == (
        "The layer's γ, β and running statistics could not be read (the model is being rebuilt)."
    )
    assert panel.batch_norm.gamma == 1.0  # drawn with a fresh layer's numbers meanwhile


def test_another_layer_gets_a_line_and_the_layers_to_pick(qtbot, computed):
    runner, result = computed
    panel = _panel(qtbot, runner)
    panel.show(PanelInput(result, analyze(ARCH), 0))
    assert panel.note.text() == PICK_HINT and panel.pages.isHidden()
    assert [panel.picker.itemData(i) for i in range(panel.picker.count())] == [1, 3]
    with qtbot.waitSignal(panel.layer_selected) as picked:
        panel.picker.activated.emit(1)
    assert picked.args == [3]
    plain = Architecture("plain", InputShape(2, 12, 12), ARCH.layers[:1])
    bare = ForwardRunner().run(ForwardRequest(1, plain, result.input))
    panel.show(PanelInput(bare, analyze(plain), 0))
    assert panel.note.text() == NONE_HINT and not panel.picker.isEnabled()


@pytest.fixture
def window(qtbot):
    from cnnviz.qt.window.main_window import MainWindow

    win = MainWindow(start_compute=True, saved_layout=False)
    qtbot.addWidget(win)
    win.files.ask_to_save = lambda: QMessageBox.StandardButton.Discard
    win.show()
    qtbot.waitExposed(win)
    yield win
    win.shutdown()


def test_the_lab_sets_up_training_mode_on_the_interview_net(window, qtbot):
    plain = Architecture("no batch norm", InputShape(2, 12, 12), ARCH.layers[:1])
    window.doc.reset(Project(plain), None)
    before = [layer.type for layer in window.doc.architecture.layers]
    entry = next(
        a for m in window.menuBar().actions() if m.text() == "&Labs"
        for a in m.menu().actions() if a.objectName() == "lab_training_mode"
    )  # fmt: skip
    entry.trigger()
    panel = window.lab_docks["training_mode"].widget()
    qtbot.waitUntil(lambda: panel.dropout is not None, timeout=WAIT_MS)
    assert window.menu_actions.train_mode.isChecked() and not window.statusbar.training.isHidden()
    types = [layer.type for layer in window.doc.architecture.layers]
    assert types[:4] == ["Conv2d", "BatchNorm2d", "ReLU", "Dropout"]
    assert window.selected_layer == 3 and panel.dropout.scale == 2.0  # p = 0.5: exact
    assert 0.4 < panel.dropout.kept_fraction < 0.6
    window.select_layer(1)
    qtbot.waitUntil(lambda: panel.batch_norm is not None, timeout=WAIT_MS)
    data = panel.current
    reference = nn.BatchNorm2d(8)
    state = window.controller.weights_snapshot()[1]
    reference.load_state_dict({k[2:]: torch.from_numpy(v) for k, v in state.items()
                               if k.startswith("1.")})  # fmt: skip
    c = panel.channel
    assert panel.batch_norm.gamma == pytest.approx(float(reference.weight[c].detach()))
    assert panel.batch_norm.running_mean == pytest.approx(float(reference.running_mean[c]))
    out = reference.train()(torch.from_numpy(data.layer_input())[None])[0].detach().numpy()
    np.testing.assert_allclose(data.activation().output, out, atol=1e-6)
    # Behind another tab the panel skips the layer; in sight again it draws it.
    window.panels.docks["feature_maps"].dock.raise_()
    qtbot.waitUntil(lambda: panel.visibleRegion().isEmpty())
    window.select_layer(3)
    assert panel.dropout is None
    window.lab_docks["training_mode"].raise_()
    qtbot.waitUntil(lambda: panel.dropout is not None)
    # Both edits are undoable: the network the person had comes back.
    window.doc.undo_stack.undo()
    window.doc.undo_stack.undo()
    assert [layer.type for layer in window.doc.architecture.layers] == before


def test_dropout_goes_after_the_first_batch_norm_and_its_activation():
    analysis = analyze(ARCH)
    assert lab.dropout_position(analysis) == 3
    assert lab.spatial_layers(analysis, ("Dropout",)) == [3]
    flat = Architecture("flat", InputShape(4, 1, 1), (Layer.make("Flatten"),))
    assert lab.dropout_position(analyze(flat)) is None


def test_the_panel_opens_alone_on_sample_arrays(tmp_path):
    picture = tmp_path / "training_mode.png"
    command = [sys.executable, "-m", "cnnviz.qt.panels.training_mode", "--preset", "interview",
               "--layer", "1", "--screenshot", str(picture)]  # fmt: skip
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    subprocess.run(command, check=True, env=env, timeout=120, capture_output=True)
    assert picture.stat().st_size > 10_000
