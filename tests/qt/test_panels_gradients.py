"""The Gradients panel: bars are the log10 of the norms it is given, the comparison's
request carries the changed configuration, stale or foreign results are ignored."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cnnviz.core.architecture import Architecture, InputShape, Layer
from cnnviz.core.explain_jobs import GradientNorms
from cnnviz.core.gradient_configs import LESSONS, deep_stack, preset
from cnnviz.core.jobs import ComputeFailure
from cnnviz.qt.panels._samples import sample_input
from cnnviz.qt.panels.gradients import Context, GradientsPanel

SMALL = Architecture(
    "small",
    InputShape(1, 8, 8),
    (
        Layer.make("Conv2d", out_channels=4, kernel_size=3, padding=1),
        Layer.make("ReLU"),
        Layer.make("Conv2d", out_channels=4, kernel_size=3, padding=1),
        Layer.make("ReLU"),
        Layer.make("Flatten"),
        Layer.make("Linear", out_features=10),
    ),
)


@pytest.fixture
def panel(qtbot):
    made = GradientsPanel()
    qtbot.addWidget(made)
    made.context_source = lambda: Context(SMALL, seed=4, weights_path="w.safetensors")
    made.image = np.zeros((1, 8, 8), np.float32)
    made.resize(1000, 600)
    return made


def requested(panel) -> dict:
    seen = {}
    panel.gradients_requested.connect(lambda wanted: seen.update(dict(wanted)))
    return seen


def test_the_bars_are_the_log10_of_the_norms(panel):
    seen = requested(panel)
    panel.compare.setCurrentText("Same with Sigmoid")
    left, right = seen["main"], seen["comparison"]
    norms = GradientNorms(
        left.request_id, ("0", "1", "2"), (1e-3, 2.5e-6, 0.4), (0.02, None, 3e-9), 2.3
    )
    other = GradientNorms(right.request_id, ("0", "1", "2"), (1.0, 1.0, 1.0), (1.0, None, 1.0), 1)
    panel.show_norms(norms)
    panel.show_norms(other)
    acts, weights = panel.bars[0].tops()
    assert acts == pytest.approx([math.log10(v) for v in norms.activation_grad])
    assert weights == pytest.approx([math.log10(0.02), math.log10(3e-9)])
    # Both sides stand on one floor, half a decade under the smallest norm of either.
    assert panel.bars[0].activation.opts["y0"] == panel.bars[1].activation.opts["y0"] == -9.5
    assert panel.bars[1].tops()[0] == pytest.approx([0.0, 0.0, 0.0])
    assert "6.8 orders of magnitude larger" in panel.summaries[0].text()
    ticks = panel.plots[0].getAxis("bottom")._tickLevels[0]
    assert [label for _, label in ticks] == ["0", "1", "2"]


def test_the_comparison_request_carries_the_changed_configuration(panel):
    seen = requested(panel)
    panel.compare.setCurrentText("Same with Sigmoid")
    left, right = seen["main"], seen["comparison"]
    assert left.architecture == SMALL and left.seed == right.seed == 4
    assert [layer.type for layer in right.architecture.layers] == [
        "Conv2d",
        "Sigmoid",
        "Conv2d",
        "Sigmoid",
        "Flatten",
        "Linear",
    ]
    assert right.weights_path == "w.safetensors"  # the same weights, another activation
    panel.compare.setCurrentText("Same with He init")
    assert seen["comparison"].architecture == SMALL and seen["comparison"].init == "he"
    assert seen["main"].init == "default"
    panel.compare.setCurrentText("Same with residual shortcuts")
    shortcut = seen["comparison"].architecture
    assert [layer.type for layer in shortcut.layers] == [
        "Conv2d",
        "ReLU",
        "Residual",
        "Flatten",
        "Linear",
    ]
    assert seen["comparison"].weights_path is None  # the file's keys no longer fit
    assert "fresh weights" in panel.titles[1].text()
    assert seen["main"].image is not None and seen["main"].batch == 32


def test_a_lesson_sets_both_sides_in_one_click(panel):
    seen = requested(panel)
    _title, left, _right = LESSONS[3]  # Xavier vs He
    panel.lesson_buttons[3].click()
    assert seen["main"].architecture == preset(left)[0] == deep_stack("ReLU")
    assert (seen["main"].init, seen["comparison"].init) == ("xavier", "he")
    assert seen["main"].image is None and seen["comparison"].image is None  # digits
    assert panel.init.currentText() == "Xavier init"


def test_a_variant_that_changes_nothing_says_so(panel):
    seen = requested(panel)
    panel.compare.setCurrentText("Same without residual shortcuts")
    assert "comparison" not in seen
    assert "no layers this changes" in panel.summaries[1].text()


def test_stale_and_foreign_results_are_ignored_and_failures_are_one_line(panel):
    seen = requested(panel)
    panel.compare.setCurrentText("Same with Tanh")
    old = seen["main"].request_id
    panel.compare.setCurrentText("Same with Sigmoid")
    panel.show_norms(GradientNorms(old, ("0",), (1.0,), (None,), 1.0))
    assert panel.bars[0].norms is None
    panel.show_failure(ComputeFailure(seen["comparison"].request_id, "there is no class 40"))
    assert panel.summaries[1].text() == "Could not compute: there is no class 40"


def test_a_forward_result_asks_again_for_the_current_network(qtbot):
    panel = GradientsPanel()
    qtbot.addWidget(panel)
    seen = requested(panel)
    data = sample_input("lenet5", 0)
    panel.show(data)
    assert not panel.showing_hint
    assert seen["main"].architecture.input.as_tuple() == data.result.input.shape
    assert seen["main"].image is data.result.input


def test_the_activation_panels_note_names_the_gradients_panels_key():
    from cnnviz.core.activations import FLAT_NOTE
    from cnnviz.qt.window.docks import PANELS

    spec = next(spec for spec in PANELS if spec.key == "gradients")
    assert f"the {spec.title} panel ({spec.shortcut})" in FLAT_NOTE
