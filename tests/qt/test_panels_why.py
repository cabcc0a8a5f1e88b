"""The Why panel: it draws a given Explanation as documented (core/explain_display),
asks for what the person chooses, follows the Prediction panel's picked class,
and shows progress with a Cancel."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from panel_inputs import click, move_mouse, shown_panel

from cnnviz.core.explain_display import ExplainChoice
from cnnviz.core.explain_jobs import Explanation
from cnnviz.qt.panels._samples import sample_input
from cnnviz.qt.panels.base import format_value
from cnnviz.qt.panels.prediction import PredictionPanel
from cnnviz.qt.panels.why import NO_SCORES, WhyPanel
from cnnviz.qt.panels.why_samples import sample_explanation

# tinyvgg: convs at 0, 2, 5, 7 (ReLUs between), a 10-class Linear, Softmax at 12.
CONVS = (0, 2, 5, 7)


@pytest.fixture
def panel(qtbot):
    return shown_panel(qtbot, WhyPanel, (700, 760))


def explanation(values: np.ndarray, method="integrated-gradients", **fields) -> Explanation:
    data = {"request_id": 1, "method": method, "target": 3, "score": 2.5, "map": values}
    return Explanation(**{**data, **fields})


def choices(panel: WhyPanel) -> list[ExplainChoice]:
    seen = []
    panel.choice_changed.connect(seen.append)
    return seen


def test_a_signed_map_is_drawn_scaled_by_its_strong_values_and_hover_reads_the_map(panel, qtbot):
    panel.show(sample_input("tinyvgg", 0))
    values = np.random.default_rng(0).normal(size=(64, 64)).astype(np.float32)
    panel.show_explanation(explanation(values, delta=0.02))
    # Scaled by the 99.5th percentile of |map|; the 0.5 % strongest are clipped to ±1.
    scale = float(np.percentile(np.abs(values), 99.5))
    wanted = np.clip(values / scale, -1, 1)
    np.testing.assert_allclose(panel.map_item.image, wanted, rtol=1e-6, atol=1e-7)
    assert 15 <= np.count_nonzero(np.abs(panel.map_item.image) == 1.0) <= 25  # 0.5 % of 4096
    assert panel.map_item.levels.tolist() == [-1.0, 1.0]
    assert panel.bar.levels() == pytest.approx((-scale, scale))
    assert (
        f"up to {format_value(float(np.abs(values).max()))}, in full colour" in panel.summary.text()
    )
    # Hovering a pixel gives the map's own value there, not the scaled one.
    for row, col in ((5, 9), (40, 17)):
        move_mouse(qtbot, panel.canvas, panel.image_item, col + 0.5, row + 0.5)
        wanted = f"row {row}, col {col}: attribution {format_value(float(values[row, col]))}"
        assert panel.hover_label.text() == wanted


def test_a_map_without_negatives_goes_from_zero(panel):
    panel.show(sample_input("tinyvgg", 0))
    values = np.zeros((64, 64), np.float32)
    values[10:20, 30:40] = 4.0
    values[0, 0] = 1.0
    panel.show_explanation(explanation(values, method="gradcam", layer=7))
    np.testing.assert_allclose(panel.map_item.image, values / 4.0)
    assert panel.map_item.levels.tolist() == [0.0, 1.0]
    assert panel.bar.levels() == pytest.approx((0.0, 4.0))
    assert "layer 7" in panel.summary.text() and "Grad-CAM" in panel.title.text()
    # A dead layer's all-zero map stays zero, without dividing by zero.
    panel.show_explanation(explanation(np.zeros((64, 64), np.float32), method="gradcam"))
    assert not panel.map_item.image.any()


def test_the_class_score_and_the_completeness_gap_are_in_words(panel):
    data = sample_input("tinyvgg", 0)
    panel.show(data)
    values = np.full((64, 64), 0.001, np.float32)  # sum 4.096
    panel.show_explanation(explanation(values, delta=0.004, target=5, score=7.25, steps_used=64))
    text = panel.summary.text()
    assert "Integrated over 64 steps." in text
    probability = float(data.result.probabilities[5])
    assert f"koala (class 5): score 7.25 (before softmax), probability {probability:.1%}" in text
    # F(x) - F(baseline) = 4.096 - 0.004 = 4.092; the gap is 0.098 % of it.
    assert "Σ attributions = 4.096" in text and "F(image) − F(baseline) = 4.092" in text
    assert "(0.10% of the change): the attributions account for the score change" in text


def test_grad_cam_follows_the_selected_conv_else_the_last(panel):
    seen = choices(panel)
    panel.show(sample_input("tinyvgg", 2))  # a conv: that one
    assert seen[-1] == ExplainChoice("gradcam", layer=2)
    panel.show(sample_input("tinyvgg", 3))  # a ReLU: the last conv
    assert seen[-1].layer == 7
    panel.show(sample_input("tinyvgg", 5))
    assert seen[-1].layer == 5
    count = len(seen)
    panel.show(sample_input("tinyvgg", 5))  # nothing changed: nothing asked
    assert len(seen) == count


def test_integrated_gradients_steps_are_automatic_until_set(qtbot):
    from cnnviz.core.explain_jobs import AUTO_STEPS
    from cnnviz.qt.panels.why_controls import WhyControls

    controls = WhyControls()
    qtbot.addWidget(controls)
    assert controls.steps_box.value() == AUTO_STEPS == ExplainChoice("saliency").steps
    assert controls.steps_box.text().startswith("auto")


def test_changing_method_and_layer_asks_with_those_fields(panel):
    panel.show(sample_input("tinyvgg", 0))
    seen = choices(panel)
    controls = panel.controls
    layers = [controls.layer_box.itemData(i) for i in range(1, controls.layer_box.count())]
    assert layers == list(CONVS)
    controls.layer_box.setCurrentIndex(controls.layer_box.findData(5))
    assert seen[-1] == ExplainChoice("gradcam", layer=5)
    panel.show(sample_input("tinyvgg", 2))  # a layer picked by hand stays
    assert seen[-1].layer == 5
    controls.set_method("occlusion")
    controls.window_box.setValue(24)
    controls.stride_box.setValue(12)
    assert seen[-1] == ExplainChoice("occlusion", layer=None, window=24, stride=12)
    controls.set_method("integrated-gradients")
    controls.baseline_box.setCurrentIndex(controls.baseline_box.findData("blurred"))
    controls.steps_box.setValue(64)
    assert seen[-1] == ExplainChoice(
        "integrated-gradients", baseline="blurred", steps=64, window=24, stride=12
    )
    assert not controls.layer_box.isEnabled() and not controls.window_box.isEnabled()


def test_a_class_picked_in_prediction_becomes_the_target(panel, qtbot):
    prediction = shown_panel(qtbot, PredictionPanel, (500, 500))
    data = sample_input("tinyvgg", 0)
    prediction.show(data)
    panel.show(data)
    prediction.class_picked.connect(panel.set_target)
    seen = choices(panel)
    row = 2
    click(qtbot, prediction.widget, prediction.bars, 0.001, row)  # on bar `row`'s line
    wanted = prediction.shown[row]
    assert seen[-1] == ExplainChoice("gradcam", layer=0, target=wanted)
    assert data.classes[wanted] in panel.target_label.text()
    panel.top_button.click()
    assert seen[-1].target is None


def test_progress_and_cancel_for_slow_methods(panel, qtbot):
    panel.show(sample_input("tinyvgg", 0))
    panel.controls.set_method("occlusion")
    panel.set_computing(True, slow=True)  # the window's answer to the new choice
    assert panel.progress.isVisible() and panel.cancel_button.isVisible()
    panel.set_progress(3, 12)
    assert (panel.progress.value(), panel.progress.maximum()) == (3, 12)
    with qtbot.waitSignal(panel.cancel_requested, timeout=1000):
        panel.cancel_button.click()
    panel.show_cancelled()
    assert not panel.progress.isVisible() and "Cancelled" in panel.status.text()
    panel.set_computing(True, slow=False)  # quick (saliency): no progress bar
    assert not panel.progress.isVisible() and panel.status.text() == "Computing…"


def test_a_network_without_class_scores_says_so(panel):
    data = sample_input("tinyvgg", 0)
    panel.show(replace(data, result=replace(data.result, probabilities=None)))
    assert panel.showing_hint and panel.hint.text() == NO_SCORES


def test_the_stand_in_maps_have_the_contract_shapes():
    data = sample_input("tinyvgg", 0)
    for method in ("gradcam", "saliency", "integrated-gradients"):
        choice = ExplainChoice(method, layer=2 if method == "gradcam" else None, target=4)
        made = sample_explanation(data, choice)
        assert made.map.shape == (64, 64) and made.map.dtype == np.float32
        assert made.target == 4 and (made.delta is not None) == (method == "integrated-gradients")


def test_the_automatic_layer_is_the_one_compute_picks_on_every_preset():
    from cnnviz.compute.explain import default_layer as computes_default
    from cnnviz.core.analysis import analyze
    from cnnviz.core.explain_display import conv_layers, default_layer
    from cnnviz.core.presets import PRESETS, load_preset

    checked = 0
    for key in PRESETS:
        analysis = analyze(load_preset(key))
        if not any(info.layer.type == "Conv2d" for info in analysis.layers):
            continue
        ours = default_layer(analysis, None)
        assert ours == computes_default(analysis), key
        assert ours in [index for index, _title in conv_layers(analysis)], key  # listed
        checked += 1
    assert checked >= 8


def test_in_a_network_with_blocks_inner_convs_and_blocks_can_be_chosen(panel):
    data = sample_input("resnet_digits", 0)
    panel.show(data)
    seen = choices(panel)
    listed = {
        panel.controls.layer_box.itemData(i) for i in range(1, panel.controls.layer_box.count())
    }
    inner = [
        i.index for i in data.analysis.layers if i.parent is not None and i.layer.type == "Conv2d"
    ]
    blocks = [i.index for i in data.analysis.layers if i.layer.type == "Residual"]
    assert inner and blocks and set(inner) | set(blocks) <= listed
    panel.show(sample_input("resnet_digits", data.analysis.layers[inner[0]].address))
    assert seen[-1].layer == inner[0]  # a selected conv inside a block is read itself
