"""The Why panel in the window: what it asks the compute thread, and when.

A stand-in thread answers forwards with the numpy sample forward and records
explain requests; the tests answer those by hand (stale ones included)."""

from __future__ import annotations

import numpy as np
import pytest
from panel_inputs import click
from PySide6.QtCore import Signal

from cnnviz.core.explain_jobs import ExplainProgress, Explanation
from cnnviz.core.jobs import ComputeFailure
from cnnviz.core.presets import load_preset
from cnnviz.core.project import Project
from tests.qt.numpy_window import NumpyCompute, click_tab, compute, numpy_window

TINYVGG = load_preset("tinyvgg")  # convs at 0, 2, 5, 7; 10 classes


class ExplainingCompute(NumpyCompute):
    explain_ready = Signal(object)
    explain_progress = Signal(object)

    def __init__(self):
        super().__init__()
        self.explains, self.cancels = [], 0

    def submit_explain(self, request) -> None:
        self.explains.append(request)

    def cancel_explain(self) -> None:
        self.cancels += 1

    def explain(self, request, value: float = 1.0) -> Explanation:
        picture = np.full(request.image.shape[1:], value, np.float32)
        answer = Explanation(request.request_id, request.method, 4, 3.0, picture, request.layer)
        self.explain_ready.emit(answer)
        return answer


@pytest.fixture
def window(qtbot):
    with numpy_window(qtbot, ExplainingCompute()) as win:
        win.doc.reset(Project(TINYVGG), None)
        compute(qtbot, win)
        yield win


def why(win):
    return win.panels.docks["why"].widget


def raise_why(qtbot, win) -> None:
    click_tab(qtbot, win, "Why")
    qtbot.waitUntil(lambda: len(win.compute.explains) > 0, timeout=5000)


def test_the_why_tab_asks_for_grad_cam_of_the_selected_conv_on_the_forwards_input(qtbot, window):
    assert window.compute.explains == []  # hidden: nothing computed
    window.select_layer(2)
    raise_why(qtbot, window)
    request = window.compute.explains[-1]
    assert (request.method, request.layer, request.target) == ("gradcam", 2, None)
    assert request.image is window.controller.latest.result.input
    assert request.architecture == TINYVGG and request.seed == window.doc.seed
    window.compute.explain(request, 2.0)
    qtbot.waitUntil(lambda: why(window).explanation is not None)
    assert why(window).map_item.image.max() == 1.0 and why(window).shown.scale == 2.0


def test_a_new_result_asks_again_only_while_the_panel_is_seen(qtbot, window):
    raise_why(qtbot, window)
    count = len(window.compute.explains)
    compute(qtbot, window)  # e.g. a training epoch's new weights
    qtbot.waitUntil(lambda: len(window.compute.explains) == count + 1)
    click_tab(qtbot, window, "Feature maps")
    compute(qtbot, window)
    qtbot.wait(100)
    assert len(window.compute.explains) == count + 1
    click_tab(qtbot, window, "Why")  # it catches up
    qtbot.waitUntil(lambda: len(window.compute.explains) == count + 2)


def test_a_bar_clicked_in_prediction_is_explained(qtbot, window):
    raise_why(qtbot, window)
    prediction = window.panels.docks["prediction"].widget
    row = 3
    click(qtbot, prediction.widget, prediction.bars, 0.001, row)
    picked = prediction.shown[row]
    qtbot.waitUntil(lambda: window.compute.explains[-1].target == picked)
    assert window.compute.explains[-1].method == "gradcam"


def test_method_changes_ask_with_their_fields(qtbot, window):
    raise_why(qtbot, window)
    controls = why(window).controls
    controls.set_method("integrated-gradients")
    controls.steps_box.setValue(80)
    qtbot.waitUntil(lambda: window.compute.explains[-1].steps == 80)
    request = window.compute.explains[-1]
    assert (request.method, request.layer, request.baseline) == (
        "integrated-gradients",
        None,
        "black",
    )


def test_only_the_latest_explanation_is_shown(qtbot, window):
    raise_why(qtbot, window)
    first = window.compute.explains[-1]
    why(window).controls.set_method("saliency")
    qtbot.waitUntil(lambda: window.compute.explains[-1].method == "saliency")
    second = window.compute.explains[-1]
    window.compute.explain(first, 5.0)  # stale: superseded by `second`
    qtbot.wait(50)
    assert why(window).explanation is None
    window.compute.explain(second, 3.0)
    qtbot.waitUntil(lambda: why(window).explanation is not None)
    assert why(window).explanation.request_id == second.request_id


def test_progress_cancel_and_failure_of_a_slow_method(qtbot, window):
    raise_why(qtbot, window)
    panel = why(window)
    panel.controls.set_method("occlusion")
    qtbot.waitUntil(lambda: window.compute.explains[-1].method == "occlusion")
    request = window.compute.explains[-1]
    window.compute.explain_progress.emit(ExplainProgress(request.request_id, 5, 20))
    qtbot.waitUntil(lambda: panel.progress.value() == 5)
    assert panel.progress.maximum() == 20 and panel.cancel_button.isVisible()
    panel.cancel_button.click()
    assert window.compute.cancels == 1 and "Cancelled" in panel.status.text()
    window.compute.explain(request)  # arrived after the cancel: not shown
    qtbot.wait(50)
    assert panel.explanation is None
    panel.controls.window_box.setValue(300)
    qtbot.waitUntil(lambda: window.compute.explains[-1].window == 300)
    failing = window.compute.explains[-1]
    window.compute.failed.emit(ComputeFailure(failing.request_id, "the window is too large"))
    qtbot.waitUntil(lambda: "the window is too large" in panel.status.text())


def test_a_result_released_for_a_large_forward_is_not_explained(qtbot, window):
    from dataclasses import replace

    raise_why(qtbot, window)
    count = len(window.compute.explains)
    view = window.controller.latest
    released = np.broadcast_to(np.zeros((), np.float32), view.result.input.shape)
    window.controller.latest = replace(view, result=replace(view.result, input=released))
    why(window).controls.set_method("saliency")
    qtbot.wait(100)
    assert len(window.compute.explains) == count  # its zeros would explain nothing
    compute(qtbot, window)  # the large forward's own result
    qtbot.waitUntil(lambda: window.compute.explains[-1].method == "saliency")
