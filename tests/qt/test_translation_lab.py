"""The translation lab in the window: menu entry, latest wins, the numbers against torch.

A stand-in compute thread answers forwards with the numpy sample forward and
keeps the lab's calls; the tests run them with a real ForwardRunner (torch), as
the compute thread would, so the lab's numbers come from the real job.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cnnviz.compute.model import build_model
from cnnviz.compute.runner import ForwardRunner
from cnnviz.core.architecture import Architecture, InputShape, Layer
from cnnviz.core.project import Project
from cnnviz.core.resources import resource_path
from cnnviz.core.translation import shift_image
from tests.qt.numpy_window import NumpyCompute, compute, numpy_window


class CallingCompute(NumpyCompute):
    def __init__(self):
        super().__init__()
        self.calls = []

    def put_call(self, function) -> None:
        self.calls.append(function)

    def run_calls(self, runner) -> None:
        calls, self.calls = self.calls, []
        for call in calls:
            call(runner)


# 1×12×12 → conv k3 (3 channels, 10×10) → Tanh (never all zero) → max pool 2 (5×5)
STACK = Architecture(
    "small",
    InputShape(1, 12, 12),
    (
        Layer.make("Conv2d", out_channels=3, kernel_size=3),
        Layer.make("Tanh"),
        Layer.make("MaxPool2d", kernel_size=2),
    ),
)


@pytest.fixture
def window(qtbot):
    with numpy_window(qtbot, CallingCompute()) as win:
        win.doc.reset(Project(STACK), None)
        win.files.open_image(resource_path("samples", "digit_3.png"))
        compute(qtbot, win)
        yield win


def open_lab(qtbot, win):
    labs = next(a.menu() for a in win.menuBar().actions() if a.text() == "&Labs")
    entry = next(a for a in labs.actions() if a.objectName() == "lab_translation")
    assert entry.text() == "&Translation invariance"
    entry.trigger()
    panel = win.lab_docks["translation"].widget()
    qtbot.waitUntil(lambda: len(win.compute.calls) > 0, timeout=5000)
    return panel


def torch_maps(win, dx: int):
    """The small stack (conv k3, Tanh, max pool 2) in torch, on the forward's input
    and on it moved dx px right with zeros (torch.roll, wrapped columns zeroed)."""
    model = build_model(win.doc.architecture, seed=win.doc.seed).eval()
    x = torch.from_numpy(win.controller.latest.result.input)[None]
    moved = torch.roll(x, dx, 3)
    moved[..., :dx] = 0
    with torch.no_grad():
        return [model[:3](x)[0], model[:3](moved)[0]], x, moved


def test_the_lab_shows_the_pool_layer_shifted_with_the_numbers_torch_gives(qtbot, window):
    panel = open_lab(qtbot, window)
    assert panel.choice.layer == "2" and panel.choice.pixels == 2  # the first pooling
    window.compute.run_calls(ForwardRunner())
    qtbot.waitUntil(lambda: panel.result is not None, timeout=5000)
    (a, b), _, _ = torch_maps(window, 2)
    assert a.abs().sum() > 0
    np.testing.assert_allclose(panel.result.original, a.numpy(), atol=1e-6)
    np.testing.assert_allclose(panel.result.shifted, b.numpy(), atol=1e-6)
    invariance = float(torch.linalg.norm(b - a) / torch.linalg.norm(a))
    assert f"invariance error {invariance:.3g}" in panel.sentence.text()
    assert "total stride 2 px per cell: the 2 px shift is 1 cell here" in panel.sentence.text()
    # The moved map equals the original one cell over, away from the border.
    assert "equivariance error 0 on" in panel.sentence.text()
    shown = [item.image for item in panel.items]
    np.testing.assert_allclose(shown[0], a[0].numpy(), atol=1e-6)
    np.testing.assert_allclose(shown[2], (b[0] - a[0]).numpy(), atol=1e-6)
    assert [r.address for r in panel.plot.rows] == ["input", "0", "1", "2"]
    assert len(panel.plot.markers) == 1  # the pooling layer


def test_channels_are_redrawn_here_and_a_new_shift_is_one_request(qtbot, window):
    panel = open_lab(qtbot, window)
    window.compute.run_calls(ForwardRunner())
    qtbot.waitUntil(lambda: panel.result is not None, timeout=5000)
    panel.channel.setValue(1)
    np.testing.assert_allclose(panel.items[1].image, panel.result.shifted[1])
    assert window.compute.calls == []  # a channel is only drawn, not computed
    for k in (3, 4, -1, -4):
        panel.slider.setValue(k)
    panel.axis.setCurrentIndex(1)
    qtbot.waitUntil(lambda: len(window.compute.calls) > 0, timeout=5000)
    qtbot.wait(50)  # the debounce of the last change
    lane = panel.controller._lanes.lane
    before = lane.computed
    window.compute.run_calls(ForwardRunner())
    assert lane.computed - before == 1  # latest wins: only the newest request ran
    qtbot.waitUntil(lambda: panel.result.report.dy == -4, timeout=5000)
    assert panel.result.report.dx == 0
    image = window.controller.latest.result.input
    expected = np.linalg.norm(shift_image(image, -4, 0) - image) / np.linalg.norm(image)
    assert panel.result.report.layers[0].invariance == pytest.approx(expected, rel=1e-5)


def test_a_failure_is_one_line_in_the_panel(qtbot, window):
    panel = open_lab(qtbot, window)
    window.compute.run_calls(None)  # torch did not start
    qtbot.waitUntil(lambda: panel.status.text() != "", timeout=5000)
    assert panel.status.text() == "the compute engine is not running"


def test_the_standalone_panel_draws_a_numpy_sample(qtbot):
    from cnnviz.qt.panels.translation_lab import TranslationLabPanel, _sample_result

    panel = TranslationLabPanel()
    qtbot.addWidget(panel)
    result, analysis = _sample_result(pixels=4, layer="2")
    panel.set_network(analysis, [str(i) for i in range(10)])
    panel.show_result(result)
    assert [panel.layer.itemData(i) for i in range(panel.layer.count())] == [
        "input", "0", "1", "2", "3", "4", "5",
    ]  # fmt: skip
    assert "the 4 px shift is 2 cells here" in panel.sentence.text()
    assert panel.prediction.text().startswith("Prediction: '")


def test_the_lane_runs_on_the_real_compute_thread(qtbot):
    from cnnviz.core.translation_jobs import TranslationRequest
    from cnnviz.qt.bridge.compute_thread import ComputeThread
    from cnnviz.qt.bridge.compute_translation import TranslationLane

    thread = ComputeThread()
    try:
        lane = TranslationLane(thread.put_call)
        image = np.random.default_rng(0).random((1, 12, 12), dtype=np.float32)
        request = TranslationRequest(3_000_001, STACK, image, pixels=-2, layer="0")
        with qtbot.waitSignal(lane.ready, timeout=30_000) as ready:
            lane.submit(request)
        result = ready.args[0]
        model = build_model(STACK, seed=0).eval()
        with torch.no_grad():
            moved = torch.from_numpy(shift_image(image, 0, -2))[None]
            expected = model[0](moved)[0].numpy()
        assert result.request_id == request.request_id and result.layer == "0"
        np.testing.assert_allclose(result.shifted, expected, atol=1e-6)
    finally:
        thread.shutdown()


def test_a_lab_behind_another_tab_computes_nothing_until_raised(qtbot, window):
    panel = open_lab(qtbot, window)
    assert panel.controller.active
    window.panels.docks["feature_maps"].dock.raise_()
    qtbot.waitUntil(lambda: not panel.controller.active, timeout=5000)
    window.lab_docks["translation"].raise_()
    qtbot.waitUntil(lambda: panel.controller.active, timeout=5000)
