"""The prediction panel: bars are the probabilities, names and top-k in order."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from panel_inputs import panel_input, shown_panel

from cnnviz.qt.panels.prediction import PredictionPanel, class_names, top_k

STACK = [{"type": "Flatten"}, {"type": "Linear", "out_features": 4}, {"type": "Softmax", "dim": 1}]
NAMES = ("cat", "dog", "<bird>", "fish")


@pytest.fixture
def panel(qtbot):
    return shown_panel(qtbot, PredictionPanel, (500, 500))


def _with_probabilities(data, probabilities):
    return replace(data, result=replace(data.result, probabilities=np.asarray(probabilities)))


def test_bars_are_the_probabilities_with_class_names(panel):
    data = _with_probabilities(panel_input(STACK, 2, size=4, classes=NAMES), [0.1, 0.6, 0.25, 0.05])
    panel.show(data)
    np.testing.assert_allclose(panel.bars.opts["width"], [0.1, 0.6, 0.25, 0.05])
    ticks = panel.plot.getAxis("left")._tickLevels[0]
    assert [label for _, label in ticks] == list(NAMES)
    assert panel.title.text() == "Prediction · dog (60.0%)"
    text = panel.top_list.text()
    order = [text.index(name) for name in ("dog", "&lt;bird&gt;", "cat", "fish")]
    assert order == sorted(order)  # listed by falling probability, names escaped


def test_many_classes_show_the_most_probable_twenty(panel):
    stack = [{"type": "Flatten"}, {"type": "Linear", "out_features": 50}]
    probabilities = np.random.default_rng(0).dirichlet(np.ones(50))
    panel.show(_with_probabilities(panel_input(stack, 1, size=4), probabilities))
    expected = np.argsort(-probabilities)[:20]
    assert panel.shown == expected.tolist()
    np.testing.assert_allclose(panel.bars.opts["width"], probabilities[expected])
    assert "the chart shows the 20 most probable" in panel.note.text()
    assert "no class names" in panel.note.text()


def test_real_forward_probabilities_sum_to_one(panel):
    data = panel_input(STACK, 2, size=4, classes=NAMES)
    panel.show(data)
    assert sum(panel.bars.opts["width"]) == pytest.approx(1.0, rel=1e-5)


def test_no_class_scores_gives_a_hint(panel):
    data = panel_input([{"type": "Conv2d", "out_channels": 2, "kernel_size": 3}], 0, size=5)
    panel.show(data)
    assert panel.showing_hint and panel.hint.text().startswith("No prediction")


def test_helpers():
    assert class_names(3, ("a", "b")) == ["class 0", "class 1", "class 2"]
    assert class_names(2, ("a", "b")) == ["a", "b"]
    assert top_k(np.array([0.2, 0.5, 0.2, 0.1]), 3) == [1, 0, 2]


def test_random_weights_say_so_plainly_trained_ones_do_not(panel):
    data = panel_input(STACK, 2, size=4, classes=NAMES)
    panel.show(replace(data, trained=False))
    assert panel.untrained.isVisible()
    assert panel.untrained.text().startswith("Random weights: this network has not been trained")
    assert "random weights" in panel.title.text()
    for trained in (True, None):  # None: not known (the panel on its own)
        panel.show(replace(data, trained=trained))
        assert not panel.untrained.isVisible()
        assert "random" not in panel.title.text()


def test_the_notice_names_the_real_tab_and_menu_entry():
    from cnnviz.qt.panels.prediction import UNTRAINED_NOTICE
    from cnnviz.qt.window.docks import PANELS
    from cnnviz.qt.window.menus import ACTION_TABLE

    tab = next(spec.title for spec in PANELS if spec.key == "training")
    load = next(text for attr, text, *_ in ACTION_TABLE if attr == "load_weights")
    assert f"the {tab} tab" in UNTRAINED_NOTICE
    assert f"File > {load.replace('&', '')}" in UNTRAINED_NOTICE
