"""A progress report costs the GUI thread little: the curves take the new point
in place, the filters are drawn at each epoch's end and at most once a
FILTER_INTERVAL_S between, a hidden panel draws nothing until shown, and a new
text never lays the panel out again."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QApplication, QLabel, QVBoxLayout, QWidget

from cnnviz.core.jobs import TrainConfig, TrainProgress, TrainResult
from cnnviz.qt.panels import training
from cnnviz.qt.panels.training import FILTER_INTERVAL_S, TrainingPanel
from cnnviz.qt.style.quiet import QuietBox


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch):
    fake = Clock()
    monkeypatch.setattr(training.time, "monotonic", fake)
    return fake


@pytest.fixture
def panel(qtbot, clock):
    widget = TrainingPanel()
    qtbot.addWidget(widget)
    widget.resize(1000, 520)
    widget.show()
    qtbot.waitExposed(widget)
    widget.start(TrainConfig(epochs=3))
    return widget


def report(step: int, epoch: int = 1, end: bool = False, seed: int = 0) -> TrainProgress:
    weight = np.random.default_rng(seed).normal(size=(4, 1, 3, 3)).astype(np.float32)
    val = (0.7, 0.6) if end else (None, None)
    return TrainProgress(1, epoch, 3, step, 10, 1.0 / step, 0.1 * step, *val, {0: (weight, None)})


def drawn_filters(panel, qtbot) -> list[np.ndarray]:
    """Wrap the mosaic's show to record the weights each drawing shows."""
    shown = []
    original = panel.filters.show

    def show(filters):
        shown.append(filters[0][0])
        return original(filters)

    panel.filters.show = show
    return shown


def test_the_curves_take_each_point_in_place(panel):
    items = panel.curves.items()
    listed = list(panel.curves.loss.listDataItems())
    for step in range(1, 301):  # past the first arrays' capacity
        panel.on_progress(report(step % 10 + 1, epoch=step // 10 + 1))
        xs, ys = panel.curves.train_loss.getData()
        assert len(xs) == len(ys) == step
    assert panel.curves.items() == items  # the same curve objects...
    assert list(panel.curves.loss.listDataItems()) == listed  # ...and no new ones
    np.testing.assert_allclose(panel.curves.train_acc.getData()[1][:3], [20, 30, 40])


def test_filters_are_drawn_at_epoch_ends_and_at_most_once_an_interval(panel, qtbot, clock):
    shown = drawn_filters(panel, qtbot)
    panel.on_progress(report(1, seed=1))  # the first report: drawn...
    assert shown == []  # ...in an event of its own, after this one
    qtbot.waitUntil(lambda: len(shown) == 1)
    for step in (2, 3, 4):  # within the interval: kept, not drawn
        clock.now += FILTER_INTERVAL_S / 4
        panel.on_progress(report(step, seed=step))
    qtbot.wait(20)
    assert len(shown) == 1
    clock.now += FILTER_INTERVAL_S / 8
    panel.on_progress(report(10, end=True, seed=10))  # an epoch's end: drawn
    qtbot.waitUntil(lambda: len(shown) == 2)
    np.testing.assert_array_equal(shown[1], report(10, end=True, seed=10).filters[0][0])
    clock.now += FILTER_INTERVAL_S
    panel.on_progress(report(1, epoch=2, seed=11))  # an interval later: drawn
    qtbot.waitUntil(lambda: len(shown) == 3)


def test_the_end_of_a_run_draws_the_last_filters(panel, qtbot, clock):
    shown = drawn_filters(panel, qtbot)
    panel.on_progress(report(1, seed=1))
    qtbot.waitUntil(lambda: len(shown) == 1)
    panel.on_progress(report(2, seed=2))  # kept: within the interval
    panel.on_finished(TrainResult(1, {}, 0.9, 0.8, 1, False, 3.0))
    assert len(shown) == 2
    np.testing.assert_array_equal(shown[1], report(2, seed=2).filters[0][0])


def test_a_hidden_panel_draws_nothing_until_shown(panel, qtbot):
    shown = drawn_filters(panel, qtbot)
    panel.hide()
    drawn = panel.curves.drawn
    for step in (1, 2, 3):
        panel.on_progress(report(step, end=step == 3, seed=step))
    qtbot.wait(20)
    assert panel.curves.drawn == drawn and shown == []
    assert panel.curves.train_loss.getData()[0] is None
    assert panel.progress_label.text().startswith("Epoch 1 of 3")  # words are cheap
    panel.show()
    qtbot.waitUntil(lambda: len(shown) == 1)
    np.testing.assert_allclose(panel.curves.train_loss.getData()[0], [0.1, 0.2, 0.3])
    np.testing.assert_array_equal(panel.curves.val_acc.getData()[0], [1])
    np.testing.assert_array_equal(shown[0], report(3, end=True, seed=3).filters[0][0])


def test_a_new_progress_text_does_not_lay_the_panel_out_again(panel):
    panel.on_progress(report(1))
    requests = layout_requests_to(panel)
    for step in (2, 3, 4):
        panel.on_progress(report(step))
        assert requests() == 0
    assert "Epoch 1 of 3 · 13%" in panel.progress_label.text()


def test_a_label_in_a_quiet_box_keeps_its_layout_quiet(qtbot):
    outer = QWidget()
    qtbot.addWidget(outer)
    layout = QVBoxLayout(outer)
    plain, quiet = QLabel("a"), QLabel("a")
    layout.addWidget(plain)
    layout.addWidget(QuietBox(quiet, lines=2))
    outer.show()
    qtbot.waitExposed(outer)
    requests = layout_requests_to(outer)
    quiet.setText("a much longer text than before, over two lines " * 2)
    assert requests() == 0
    plain.setText("a much longer text than before")  # the layout's own label: laid out
    assert requests() > 0


def layout_requests_to(widget: QWidget):
    """A function that delivers the layout requests posted so far and says how
    many reached `widget` since it was last called."""
    seen = []

    class Filter(QObject):
        def eventFilter(self, _watched, event) -> bool:
            if event.type() == QEvent.Type.LayoutRequest:
                seen.append(event)
            return False

    QApplication.sendPostedEvents(None, QEvent.Type.LayoutRequest)
    watcher = Filter(widget)
    widget.installEventFilter(watcher)

    def count() -> int:
        QApplication.sendPostedEvents(None, QEvent.Type.LayoutRequest)
        found = len(seen)
        seen.clear()
        return found

    return count
