"""The Why panel with the real compute thread: the map it shows is the one
cnnviz.compute.explain gives for the same network, weights and input, and the
class is the prediction on screen (or the bar clicked)."""

from __future__ import annotations

import numpy as np
import pytest
from panel_inputs import click

from cnnviz.compute.explain import run_explain
from cnnviz.compute.model import build_model
from cnnviz.compute.weights import load_into, read_weights
from cnnviz.core.analysis import analyze

WAIT_MS = 60_000


@pytest.fixture
def window(qtbot):
    from PySide6.QtWidgets import QMessageBox

    from cnnviz.qt.window.main_window import MainWindow

    win = MainWindow(start_compute=True, saved_layout=False)
    qtbot.addWidget(win)
    win.files.ask_to_save = lambda: QMessageBox.StandardButton.Discard
    win.show()
    qtbot.waitExposed(win)
    yield win
    win.shutdown()


def reference(request):
    """The same explanation computed directly, on a model of its own."""
    model = build_model(request.architecture, request.seed)
    load_into(model, read_weights(request.weights_path), "reference")
    return run_explain(model.eval(), analyze(request.architecture), request)


def test_the_panel_shows_computes_map_for_the_prediction_and_a_picked_class(window, qtbot):
    window.open_preset("lenet5")  # with its bundled trained weights
    prediction = window.panels.widget("prediction")
    qtbot.waitUntil(lambda: prediction.probabilities is not None, timeout=WAIT_MS)
    thread, asked = window.controller.thread, []
    submit = thread.submit_explain
    thread.submit_explain = lambda request: (asked.append(request), submit(request))
    window.panels.docks["why"].dock.raise_()
    panel = window.panels.widget("why")
    qtbot.waitUntil(lambda: panel.explanation is not None, timeout=WAIT_MS)
    assert panel.explanation.request_id == asked[-1].request_id
    assert asked[-1].method == "gradcam" and asked[-1].layer is not None
    shown = panel.explanation
    assert shown.target == int(np.argmax(prediction.probabilities))
    expected = reference(asked[-1])
    np.testing.assert_allclose(shown.map, expected.map, rtol=1e-4, atol=1e-6)
    assert shown.score == pytest.approx(expected.score, rel=1e-5)

    click(qtbot, prediction.widget, prediction.bars, 0.001, 2)  # the third most probable
    picked = prediction.shown[2]
    qtbot.waitUntil(lambda: panel.explanation.target == picked, timeout=WAIT_MS)
    assert panel.explanation.request_id == asked[-1].request_id
    expected = reference(asked[-1])
    np.testing.assert_allclose(panel.explanation.map, expected.map, rtol=1e-4, atol=1e-6)
