"""Every panel on layers inside blocks (Residual, Parallel): the values the panel
holds are that layer's (the numpy stand-in's result for its flat index), its
caption names its address, what it received is what its path fed it, the
stepper steps an inner conv on its real input, the overview draws lanes, and
the controller still shows the layers before an invalid merge."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from panel_inputs import click, shown_panel

from cnnviz.core.analysis import analyze
from cnnviz.core.architecture import Architecture, InputShape, Layer
from cnnviz.core.jobs import ForwardResult, LayerActivation
from cnnviz.core.project import Project
from cnnviz.qt.bridge.controller import ComputeController, computable_prefix, flat_count
from cnnviz.qt.editor.document import Document
from cnnviz.qt.panels._samples import numpy_forward, sample_filters
from cnnviz.qt.panels.activation import ActivationPanel
from cnnviz.qt.panels.base import PanelInput
from cnnviz.qt.panels.conv_stepper import ConvStepperPanel
from cnnviz.qt.panels.conv_stepper_sources import RealLayer, real_layer_arguments
from cnnviz.qt.panels.feature_maps import FeatureMapPanel
from cnnviz.qt.panels.filters import FiltersPanel, is_colour_input_layer
from cnnviz.qt.panels.overview import OverviewPanel
from cnnviz.qt.panels.pooling import PoolingPanel
from cnnviz.qt.panels.prediction import PredictionPanel
from tests.qt.fake_compute import FakeCompute
from tests.qt.numpy_window import click_tab, compute, numpy_window


def _conv(out: int, k: int = 3, **params) -> Layer:
    return Layer.make("Conv2d", out_channels=out, kernel_size=k, padding=k // 2, **params)


# flat: 0 conv · 1 Residual(2 conv, 3 ReLU, 4 conv | identity) ·
# 5 Parallel concat(6 conv 1×1 | 7 max pool k3 s1 p1) · 8 ReLU · 9 Flatten · 10 Linear
NET = Architecture(
    "blocks",
    InputShape(3, 12, 12),
    (
        _conv(4),
        Layer.block("Residual", [[_conv(4), Layer.make("ReLU"), _conv(4)], []]),
        Layer.block(
            "Parallel",
            [[_conv(2, 1)], [Layer.make("MaxPool2d", kernel_size=3, stride=1, padding=1)]],
            merge="concat",
        ),
        Layer.make("ReLU"),
        Layer.make("Flatten"),
        Layer.make("Linear", out_features=5),
    ),
)


@pytest.fixture(scope="module")
def computed():
    analysis = analyze(NET)
    image = np.random.default_rng(3).random((3, 12, 12)).astype(np.float32)
    return analysis, numpy_forward(analysis, image, sample_filters(analysis))


def _data(computed, address: str) -> PanelInput:
    analysis, result = computed
    return PanelInput(result, analysis, analysis.at(address).index)


def _out(computed, address: str) -> np.ndarray:
    analysis, result = computed
    return next(a.output for a in result.layers if a.index == analysis.at(address).index)


def _conv2d(x: np.ndarray, weight: np.ndarray, bias, pad: int) -> np.ndarray:
    """A plain stride-1 convolution written out, independent of the stand-in's."""
    x = np.pad(x, ((0, 0), (pad, pad), (pad, pad)))
    kh, kw = weight.shape[2:]
    h, w = x.shape[1] - kh + 1, x.shape[2] - kw + 1
    out = np.zeros((weight.shape[0], h, w))
    for i in range(kh):
        for j in range(kw):
            out += np.einsum("oc,chw->ohw", weight[:, :, i, j], x[:, i : i + h, j : j + w])
    return out + (0 if bias is None else bias[:, None, None])


def test_the_stand_in_computes_every_layer_inside_the_blocks_and_their_merges(computed):
    analysis, result = computed
    assert [a.index for a in result.layers] == list(range(len(analysis.layers)))
    by_index = {a.index: a for a in result.layers}
    residual, parallel = (analysis.at(a).index for a in ("1", "2"))
    # The body starts from the block's input; the identity shortcut adds it back.
    assert by_index[analysis.at("1.body.0").index].input is by_index[0].output
    body_end = _out(computed, "1.body.2")
    np.testing.assert_allclose(by_index[residual].output, body_end + by_index[0].output)
    # Both branches get the block's input; concat stacks their channels.
    for branch in ("2.branches.0.0", "2.branches.1.0"):
        assert by_index[analysis.at(branch).index].input is by_index[residual].output
    concat = np.concatenate([_out(computed, "2.branches.0.0"), _out(computed, "2.branches.1.0")])
    np.testing.assert_array_equal(by_index[parallel].output, concat)
    assert by_index[analysis.at("3").index].input is by_index[parallel].output
    assert result.probabilities is not None and result.probabilities.shape == (5,)


@pytest.mark.parametrize("address", ["1.body.0", "1.body.2", "1", "2.branches.0.0", "2"])
def test_feature_maps_of_a_layer_inside_a_block(qtbot, computed, address):
    panel = shown_panel(qtbot, FeatureMapPanel, (900, 600))
    data = _data(computed, address)
    panel.show(data)
    assert not panel.showing_hint
    np.testing.assert_array_equal(panel.maps, _out(computed, address))
    info = data.info()
    assert panel.title.text().startswith(f"layer {address} · {info.layer.type}")
    # The outline is the layer's own field (a block's: the union of its paths').
    box = panel.highlight(0, 5, 5)
    assert box == info.receptive_field.box(5, 5, (12, 12))
    assert f"layer {address}, channel 0, (5, 5)" in panel.field_label.text()


def test_filters_of_a_conv_inside_a_block_and_which_convs_see_colours(qtbot, computed):
    panel = shown_panel(qtbot, FiltersPanel, (900, 600))
    data = _data(computed, "1.body.2")
    panel.show(data)
    assert not panel.showing_hint
    weight, _ = computed[1].filters[data.layer_index]
    np.testing.assert_array_equal(panel.weight, weight)
    assert "layer 1.body.2 · Conv2d" in panel.title.text()
    assert is_colour_input_layer(_data(computed, "0"))
    assert not is_colour_input_layer(data)
    # A branch's conv on the RGB input sees colours although branch 0's conv
    # comes before it in the flat order: it does not feed it.
    branches = [[_conv(2, 1)], [_conv(2, 3)]]
    arch = replace(NET, layers=(Layer.block("Parallel", branches, merge="concat"),))
    analysis = analyze(arch)
    image = np.zeros((3, 12, 12), np.float32)
    result = numpy_forward(analysis, image, sample_filters(analysis))
    second = analysis.at("0.branches.1.0").index
    assert is_colour_input_layer(PanelInput(result, analysis, second))


def test_pooling_in_a_branch_pools_the_blocks_input(qtbot, computed):
    panel = shown_panel(qtbot, PoolingPanel, (900, 600))
    panel.show(_data(computed, "2.branches.1.0"))
    assert not panel.showing_hint
    np.testing.assert_array_equal(panel._source, _out(computed, "1"))  # not branch 0's output
    np.testing.assert_array_equal(panel._output, _out(computed, "2.branches.1.0"))
    assert panel.title.text().startswith("layer 2.branches.1.0 · MaxPool2d")


def test_an_activation_in_a_body_sees_what_its_path_fed_it_even_without_a_recorded_input(
    qtbot, computed
):
    panel = shown_panel(qtbot, ActivationPanel, (900, 600))
    data = _data(computed, "1.body.1")
    panel.show(data)
    np.testing.assert_array_equal(panel.inputs, _out(computed, "1.body.0"))
    assert panel.title.text().startswith("layer 1.body.1 · ReLU")
    # A result without recorded inputs: the input is found along the path, not one
    # index back (for the first branch layer, index − 1 is inside the residual block).
    bare = tuple(replace_input(a) for a in data.result.layers)
    stripped = replace(data, result=replace(data.result, layers=bare))
    np.testing.assert_array_equal(stripped.layer_input(), _out(computed, "1.body.0"))
    pool = computed[0].at("2.branches.1.0").index
    np.testing.assert_array_equal(stripped.layer_input(pool), _out(computed, "1"))
    first_in_body = computed[0].at("1.body.0").index
    np.testing.assert_array_equal(stripped.layer_input(first_in_body), _out(computed, "0"))


def replace_input(activation):
    return LayerActivation(activation.index, activation.type, activation.output)


def test_the_stepper_steps_a_conv_inside_a_block_on_its_real_input(qtbot, computed):
    analysis, result = computed
    for address, fed_by in (("1.body.0", "0"), ("1.body.2", "1.body.1")):
        index = analysis.at(address).index
        arguments = real_layer_arguments(result, analysis, index)
        np.testing.assert_array_equal(arguments["image"], _out(computed, fed_by))
        weight, bias = result.filters[index]
        expected = _conv2d(_out(computed, fed_by).astype(np.float64), weight, bias, 1)
        np.testing.assert_allclose(arguments["feature_map"], expected, rtol=1e-4, atol=1e-4)
        layer = RealLayer.from_layer(**arguments)
        walk = layer.walkthrough()
        largest, equal = layer.compare(walk)
        assert equal, largest
    assert real_layer_arguments(result, analysis, analysis.at("1.body.1").index) is None
    panel = shown_panel(qtbot, ConvStepperPanel, (1000, 700))
    panel.set_real_layer(**real_layer_arguments(result, analysis, analysis.at("1.body.2").index))
    assert panel.real is not None and panel.real.name == "layer 1.body.2"
    assert "Layer 1.body.2 · Conv2d" in panel.real_controls.title.text()


def test_the_overview_draws_a_blocks_paths_as_lanes_with_the_merge_after(qtbot, computed):
    panel = shown_panel(qtbot, OverviewPanel, (1200, 300))
    analysis, _ = computed
    data = _data(computed, "1.body.0")
    panel.show(data)
    strip, at = panel.strip, {}
    for number, key in enumerate(panel.layer_indices):
        at[analysis.layers[key].address if key >= 0 else "input"] = strip.rects[number]
    body = [at[f"1.body.{i}"] for i in range(3)]
    assert len({r[0] for r in body}) == 1  # one lane
    assert at["1"][1] > body[-1][1] and at["1"][0] > body[0][0]  # the merge: after, lower
    first, second = at["2.branches.0.0"], at["2.branches.1.0"]
    assert first[1] == second[1] and first[0] < second[0]  # branches stacked
    assert at["2"][1] > first[1] and at["3"][1] > at["2"][1]  # then the network goes on
    assert not panel.lines.path().isEmpty()
    number = panel.layer_indices.index(data.layer_index)
    assert panel.captions.selected == number
    assert panel._captions[number].startswith("body.0 Conv2d")
    second_in_body = panel.layer_indices.index(analysis.at("1.body.1").index)
    assert panel._captions[second_in_body].startswith("1 ReLU")
    # Clicking a branch's thumbnail selects that layer by its flat index.
    y, x, h, w = second
    with qtbot.waitSignal(panel.layer_selected) as signal:
        panel.click_at(x + w / 2, y + h / 2)
    assert signal.args == [analysis.at("2.branches.1.0").index]
    assert "layer 2.branches.1.0 MaxPool2d" in panel.hover_at(x + 1, y + 1)


def test_the_overview_strip_clicks_with_the_mouse(qtbot, computed):
    panel = shown_panel(qtbot, OverviewPanel, (1600, 320))
    panel.show(_data(computed, "0"))
    number = panel.layer_indices.index(computed[0].at("1.body.2").index)
    y, x, h, w = panel.strip.rects[number]
    with qtbot.waitSignal(panel.layer_selected) as signal:
        click(qtbot, panel.widget, panel.item, x + w / 2, y + h / 2)
    assert signal.args == [computed[0].at("1.body.2").index]


def test_the_prediction_comes_from_the_last_top_level_layer(qtbot, computed):
    panel = shown_panel(qtbot, PredictionPanel, (600, 400))
    panel.show(_data(computed, "1.body.0"))
    assert not panel.showing_hint
    logits = _out(computed, "5")
    expected = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
    np.testing.assert_allclose(panel.probabilities, expected, rtol=1e-5)


# An invalid merge: the body halves the size, the identity shortcut does not.
BROKEN = replace(
    NET,
    layers=(
        _conv(4),
        Layer.block("Residual", [[_conv(4, stride=2)], []]),
        Layer.make("ReLU"),
    ),
)


def test_the_controller_computes_the_layers_before_an_invalid_block(qtbot):
    analysis = analyze(BROKEN)
    assert analysis.first_error.address == "1"
    cut = computable_prefix(BROKEN, analysis)
    assert cut.layers == BROKEN.layers[:1] and flat_count(analysis, 1) == 1
    doc, fake = Document(), FakeCompute()
    controller = ComputeController(doc, fake)
    try:
        doc.reset(Project(BROKEN), None)
        controller.submit_now()
        request = fake.requests[-1]
        assert request.architecture.layers == BROKEN.layers[:1]
        part = analyze(request.architecture)
        answer = numpy_forward(part, request.image, sample_filters(part))
        fake.result_ready.emit(replace_id(answer, request.request_id))
        view = controller.latest
        assert view is not None and [a.index for a in view.result.layers] == [0]
    finally:
        controller.shutdown()
    panel = shown_panel(qtbot, FeatureMapPanel, (900, 600))
    panel.show(PanelInput(view.result, view.analysis, 0))
    assert not panel.showing_hint
    panel.show(PanelInput(view.result, view.analysis, analysis.at("1.body.0").index))
    assert panel.showing_hint and "layer 1.body.0 · Conv2d" in panel.hint.text()
    overview = shown_panel(qtbot, OverviewPanel, (900, 250))
    overview.show(PanelInput(view.result, view.analysis, 0))
    assert overview.layer_indices == [-1, 0]


def replace_id(result: ForwardResult, request_id: int) -> ForwardResult:
    return replace(result, request_id=request_id)


def test_the_window_steps_and_shows_a_conv_inside_a_block(qtbot):
    with numpy_window(qtbot) as win:
        win.doc.reset(Project(NET), None)
        index = analyze(NET).at("2.branches.0.0").index
        win.select_layer(index)
        compute(qtbot, win)
        maps = win.panels.widget("feature_maps")
        assert maps.title.text().startswith("layer 2.branches.0.0 · Conv2d")
        inner = {a.index: a for a in win.panels.latest.result.layers}
        click_tab(qtbot, win, "Convolution step by step")
        stepper = win.panels.widget("conv_stepper")
        qtbot.waitUntil(lambda: stepper.real is not None)
        assert stepper.real.name == "layer 2.branches.0.0" and stepper.real.layer_index == index
        # Fed by the residual block's output, not by the layer one index back (1.body.2).
        fed = inner[analyze(NET).at("1").index].output
        np.testing.assert_array_equal(stepper.real.config.input, fed)
        np.testing.assert_array_equal(stepper.real.feature_map, inner[index].output)
