"""Every attribution method against captum's (a test-only reference) on a small
conv net, a net with a Residual and a Parallel block ending in Softmax, LeNet-5
and the digits ResNet with their trained weights. A real photo through
EfficientNet-Lite0 with its ImageNet weights: tests/test_cli_explain.py, through
the command line, for every method."""

from __future__ import annotations

import warnings

import pytest
import torch
from captum.attr import (
    GuidedBackprop,
    GuidedGradCam,
    IntegratedGradients,
    LayerAttribution,
    LayerGradCam,
    Occlusion,
    Saliency,
)

from cnnviz.compute.explain import default_layer, gradcam, guided_gradcam
from cnnviz.compute.explain.baselines import baseline
from cnnviz.compute.explain.guided_backprop import guided_backprop, guided_network
from cnnviz.compute.explain.integrated import integrated_gradients
from cnnviz.compute.explain.network import Network
from cnnviz.compute.explain.occlusion import occlusion
from cnnviz.compute.explain.saliency import saliency
from tests.compute.explain_cases import assert_close, preset_case, small_cases

CASES = {case.name: case for case in small_cases()}
PRESETS = {"lenet5": "digit_3", "resnet_digits": "digit_7"}


@pytest.fixture(autouse=True)
def _quiet_captum_on_one_thread():
    # One torch thread, as the compute thread runs: two threads on a busy two-core
    # machine spin against each other (an EfficientNet forward 30 times slower).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    with warnings.catch_warnings():  # "Setting backward hooks on ReLU activations", ...
        warnings.simplefilter("ignore")
        yield
    torch.set_num_threads(threads)


def case_of(name: str):
    return CASES[name] if name in CASES else preset_case(name, PRESETS[name])


ALL = [*CASES, *PRESETS]


def map_layers(case) -> list[int]:
    """The small nets: every layer with (C, h, w) maps (top level, inside a Residual's
    body, a Parallel's branches, a block's merged output); a preset: its first, the
    default (last conv), one inside a block and a block's output when it has blocks."""
    layers = [i for i, info in enumerate(case.analysis.layers) if len(info.output_shape) == 3]
    if case.name in CASES:
        return layers
    inside = [i for i in layers if case.analysis.layers[i].parent is not None]
    blocks = [i for i in layers if case.analysis.layers[i].layer.is_block]
    return sorted({layers[0], default_layer(case.analysis), *inside[-1:], *blocks[-1:]})


def captum_gradcam(case, layer: int, target: int):
    cam = LayerGradCam(case.reference, case.module(layer))
    layer_map = cam.attribute(case.x, target=target, relu_attributions=True)
    return layer_map, LayerAttribution.interpolate(layer_map, case.x.shape[2:], "bilinear")


@pytest.mark.parametrize("name", ALL)
def test_gradcam_matches_captum_on_every_layer_with_maps(name):
    case = case_of(name)
    net = Network(case.model)
    layers = map_layers(case)
    assert default_layer(case.analysis) in layers
    for layer in layers:
        ours = gradcam(net, case.x, layer, target=1)
        layer_map, upsampled = captum_gradcam(case, layer, 1)
        assert ours.layer_map.shape == layer_map.shape[2:]
        assert ours.values.shape == (1, *case.image.shape[1:])
        if layer_map.abs().max() == 0:  # ReLU of an all-negative sum: nothing to compare
            assert ours.layer_map.abs().max() == 0
            continue
        assert_close(ours.layer_map, layer_map[0, 0])
        assert_close(ours.values, upsampled[0])


@pytest.mark.parametrize("name", ALL)
def test_guided_gradcam_matches_captum(name):
    case = case_of(name)
    layer = default_layer(case.analysis)
    ours = guided_gradcam(Network(case.model), case.x, layer, target=2)
    reference = GuidedGradCam(case.reference, case.module(layer)).attribute(
        case.x, target=2, interpolate_mode="bilinear"
    )
    assert_close(ours.values, reference[0])


@pytest.mark.parametrize("name", ALL)
def test_saliency_and_guided_backprop_match_captum(name):
    case = case_of(name)
    ours = saliency(Network(case.model), case.x, target=0)
    assert_close(ours.values, Saliency(case.reference).attribute(case.x, target=0)[0])
    ours = guided_backprop(guided_network(case.model), case.x, target=0)
    reference = GuidedBackprop(case.reference).attribute(case.x, target=0)
    assert_close(ours.values, reference[0])
    # Where the network has ReLUs guided backprop is not the plain gradient (LeNet-5's tanh
    # has none, and there it is).
    plain = saliency(Network(case.model), case.x, target=0)
    has_relu = any(isinstance(m, torch.nn.ReLU) for m in case.model.modules())
    assert torch.allclose(ours.values.abs(), plain.values) is not has_relu


# Each network with another baseline, step count and batch (a batch that does not
# divide the steps; one larger than them), to keep the run short on two cores.
IG_SETTINGS = {
    "small": ("black", 50, 16),
    "branchy": ("blurred", 20, 7),
    "lenet5": ("noise", 33, 64),
    "resnet_digits": ("black", 50, 16),
}


@pytest.mark.parametrize("name", ALL)
def test_integrated_gradients_match_captum(name):
    case = case_of(name)
    kind, steps, batch = IG_SETTINGS[name]
    base = baseline(kind, case.x, None, seed=3)
    ours = integrated_gradients(Network(case.model), case.x, base, 4, steps, batch)
    reference, delta = IntegratedGradients(case.reference).attribute(
        case.x, base, target=4, n_steps=steps, method="gausslegendre", return_convergence_delta=True
    )
    assert_close(ours.values, reference[0], rtol=1e-3)
    assert ours.steps == steps  # an explicit count is used as it is, captum's rule
    with torch.no_grad():
        change = float(case.reference(case.x)[0, 4] - case.reference(base)[0, 4])
    assert ours.delta == pytest.approx(float(delta), abs=1e-3 * abs(change) + 1e-6)


# Windows cut at the image's edge too (20 px: 0, 4, ..., 16 + 6 ends past it).
OCCLUSION_SETTINGS = {"small": (5, 5), "branchy": (6, 4), "lenet5": (6, 4), "resnet_digits": (5, 3)}


@pytest.mark.parametrize("name", ALL)
def test_occlusion_matches_captum(name):
    case = case_of(name)
    window, stride = OCCLUSION_SETTINGS[name]
    channels = case.image.shape[0]
    ours = occlusion(Network(case.model), case.x, 3, window, stride, batch=10)
    reference = Occlusion(case.reference).attribute(
        case.x,
        sliding_window_shapes=(channels, window, window),
        strides=(channels, stride, stride),
        baselines=0,
        target=3,
        perturbations_per_eval=32,
    )
    assert_close(ours.values, reference[0])
