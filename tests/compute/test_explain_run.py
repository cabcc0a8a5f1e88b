"""run_explain: what an Explanation holds for each method, the layer and target
choices, the score before softmax, one-line refusals, progress and batches,
the baselines, and integrated gradients' completeness at the default steps."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from cnnviz.compute.explain import default_layer, run_explain
from cnnviz.compute.explain.baselines import baseline, picture_levels
from cnnviz.compute.explain.batches import batch_size, image_bytes
from cnnviz.compute.explain.integrated import (
    auto_integrated_gradients,
    integrated_gradients,
    squared_trapezoid,
)
from cnnviz.compute.explain.network import Network
from cnnviz.compute.model import build_model
from cnnviz.compute.runner import ComputeError
from cnnviz.core.analysis import analyze
from cnnviz.core.architecture import Architecture, InputShape, Layer
from cnnviz.core.explain_jobs import AUTO_STEPS, BASELINES, METHODS, ExplainRequest
from cnnviz.core.preprocess import Preprocessing
from tests.compute.explain_cases import preset_case, small_case
from tests.compute.explain_nets import BRANCHY, SMALL

BRANCHY_CASE = small_case(BRANCHY)


@pytest.mark.parametrize("method", METHODS)
def test_an_explanation_for_each_method(method):
    case = BRANCHY_CASE
    request = case.request(method, steps=10, window=6, stride=4)
    result = run_explain(case.model, case.analysis, request)
    assert (result.request_id, result.method) == (1, method)
    assert result.map.shape == (20, 20) and result.map.dtype == np.float32
    assert np.isfinite(result.map).all() and np.abs(result.map).max() > 0
    np.testing.assert_array_equal(result.input, case.image)
    # The score is the logit before the final Softmax, for the top class by default.
    with torch.no_grad():
        logits = case.model[:-1](case.x)[0]
    assert result.target == int(logits.argmax())
    assert result.score == pytest.approx(float(logits[result.target]), rel=1e-6)
    cam = method in ("gradcam", "guided-gradcam")
    assert (result.layer is not None, result.layer_map is not None) == (cam, cam)
    assert (result.delta is not None) == (method == "integrated-gradients")
    assert result.steps_used == (10 if method == "integrated-gradients" else None)
    if cam:
        assert result.layer == default_layer(case.analysis) == 15  # the last conv, "6"
        assert result.layer_map.shape == (10, 10) and result.layer_map.min() >= 0


def test_gradcam_on_a_layer_inside_a_block_and_for_another_class():
    case = BRANCHY_CASE
    inside = case.analysis.at("5.branches.1.1").index  # a ReLU6 inside a Parallel
    result = run_explain(case.model, case.analysis, case.request("gradcam", layer=inside, target=6))
    assert (result.layer, result.target) == (inside, 6)
    assert result.layer_map.shape == case.analysis.layers[inside].output_shape[1:]


def test_the_default_layer_is_the_last_conv_or_the_block_holding_it():
    assert default_layer(small_case(SMALL).analysis) == 2
    digits = preset_case("resnet_digits", "digit_7").analysis
    # Its last Conv2d is the last block's 1x1 shortcut; the block's output is used.
    assert digits.layers[default_layer(digits)].address == "7"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"method": "lime"}, "unknown method 'lime' (methods: gradcam, "),
        ({"layer": 99}, "there is no layer 99 (0 to 20)"),
        ({"layer": 19}, "layer 10 Linear gives 7, not channels × height × width maps"),
        ({"target": 7}, "class 7 is not one of the network's 7 classes (0 to 6)"),
        ({"method": "integrated-gradients", "steps": -1}, "steps must be 1 to 1000 (or 0: "),
        ({"method": "integrated-gradients", "baseline": "grey"}, "unknown baseline 'grey'"),
        ({"method": "occlusion", "window": 21}, "window must be 1 to 20 pixels"),
        ({"method": "occlusion", "stride": 0}, "stride must be at least 1, not 0"),
        ({"image": np.zeros((3, 8, 8), np.float32)}, "the image is 3×8×8 but the network"),
    ],
)
def test_mistakes_are_one_line(fields, message):
    case = BRANCHY_CASE
    request = dataclasses.replace(case.request("gradcam"), **fields)
    with pytest.raises(ComputeError) as caught:
        run_explain(case.model, case.analysis, request)
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_a_network_without_class_scores_is_refused():
    arch = Architecture(
        "maps", InputShape(1, 8, 8), (Layer.make("Conv2d", out_channels=2, kernel_size=3),)
    )
    request = ExplainRequest(1, arch, np.zeros((1, 8, 8), np.float32), "saliency")
    with pytest.raises(ComputeError, match="gives 2×6×6, not one score per class"):
        run_explain(build_model(arch), analyze(arch), request)


@pytest.mark.parametrize(
    ("method", "steps", "total"), [("occlusion", 0, 25), ("integrated-gradients", 50, 50)]
)
def test_long_methods_report_progress(method, steps, total):
    case = BRANCHY_CASE
    seen = []
    request = case.request(method, window=4, stride=4, steps=steps)
    run_explain(case.model, case.analysis, request, progress=lambda *p: seen.append(p))
    assert seen[0] == (0, total) and seen[-1] == (total, total)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen) and len(seen) >= 2


def test_auto_steps_progress_counts_the_refinement():
    """Refining reuses every gradient: each level's total is twice the last one's
    and starts where the last one ended; the result says how many it took."""
    case = preset_case("resnet_digits", "digit_7")  # from black: 32 steps are not enough
    seen = []
    request = case.request("integrated-gradients", baseline="black")
    result = run_explain(case.model, case.analysis, request, progress=lambda *p: seen.append(p))
    totals = sorted({total for _, total in seen})
    assert totals == [32 * 2**i for i in range(len(totals))] and len(totals) >= 2
    assert totals[-1] == result.steps_used
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    for total in totals[1:]:
        assert (total // 2, total) in seen  # the new level starts from the old points
    assert seen[0] == (0, 32) and seen[-1] == (result.steps_used, result.steps_used)


def test_batches_are_bounded_and_do_not_change_the_result():
    case = BRANCHY_CASE
    one = image_bytes(case.analysis, backward=True)
    assert batch_size(case.analysis, 50, True, budget=3 * one) == 3
    assert batch_size(case.analysis, 50, True, budget=1) == 1
    assert batch_size(case.analysis, 5, True) == 5
    net, base = Network(case.model), torch.zeros_like(case.x)
    single = integrated_gradients(net, case.x, base, 2, 12, batch=1)
    whole = integrated_gradients(net, case.x, base, 2, 12, batch=12)
    torch.testing.assert_close(single.values, whole.values, rtol=1e-4, atol=1e-7)


def test_baselines():
    x = torch.rand(1, 3, 30, 40) * 2 - 1
    imagenet = Preprocessing(normalize="imagenet")
    black, white = picture_levels(imagenet, 3)
    torch.testing.assert_close(
        black.flatten(), torch.tensor([-0.485 / 0.229, -0.456 / 0.224, -0.406 / 0.225])
    )
    assert torch.equal(baseline("black", x, None, 0), torch.zeros_like(x))
    assert torch.equal(baseline("black", x, imagenet, 0)[0], black.expand(3, 30, 40))
    noise = baseline("noise", x, imagenet, 5)
    assert torch.equal(noise, baseline("noise", x, imagenet, 5))  # the seed decides
    assert not torch.equal(noise, baseline("noise", x, imagenet, 6))
    assert ((noise >= black) & (noise <= white)).all()
    blurred = baseline("blurred", x, None, 0)
    assert blurred.shape == x.shape and blurred.std() < x.std() / 5  # sigma 3 px
    assert float(blurred.mean()) == pytest.approx(float(x.mean()), abs=0.02)


# The default (ExplainRequest.steps == AUTO_STEPS) refines until the gap is
# under 1 %. At a fixed 50 Gauss-Legendre steps it was not, for the digits ResNet
# from black (4.6 %) and EfficientNet-Lite0 (black 7.7 %, blurred 5.6 %, noise
# 1.2 %); EfficientNet-Lite0 on the cat is tested through the command line.
COMPLETE_AT_THE_DEFAULT = (
    [("lenet5", "digit_3", kind) for kind in BASELINES]
    + [("interview", "digit_1", "black"), ("interview", "digit_1", "noise")]
    + [("resnet_digits", "digit_7", kind) for kind in BASELINES]
)


@pytest.mark.parametrize(("name", "photo", "kind"), COMPLETE_AT_THE_DEFAULT)
def test_integrated_gradients_are_complete_within_1_percent_at_the_default_steps(name, photo, kind):
    case = preset_case(name, photo)
    request = case.request("integrated-gradients", baseline=kind)
    assert request.steps == AUTO_STEPS
    result = run_explain(case.model, case.analysis, request)
    change = float(result.map.astype(np.float64).sum()) - result.delta
    assert abs(change) > 1.0  # the photo and the baseline are told apart
    assert abs(result.delta) < 0.01 * abs(change)
    assert 32 <= result.steps_used < 1024


def test_auto_steps_stop_at_the_cap_and_reuse_every_gradient():
    """The digits ResNet from black: 4.4 % at 32 steps, 0.75 % at 64."""
    case = preset_case("resnet_digits", "digit_7")
    x, net = case.x, Network(case.model)
    base = baseline("black", x, None, 0)
    capped = auto_integrated_gradients(net, x, base, 7, most=32)
    assert capped.steps == 32 and abs(capped.delta) > 0.01 * 11.8
    refined = auto_integrated_gradients(net, x, base, 7)
    assert refined.steps == 64 and abs(refined.delta) < 0.01 * 11.8
    # Level 64 (level 32 halved plus the 32 midpoints) is the trapezoid rule in u
    # (alpha = u²) on 64 intervals, computed directly.
    for result in (capped, refined):
        alphas, weights = squared_trapezoid(result.steps, new_only=False)
        assert weights.sum() == pytest.approx(1.0)
        direct = integrated_gradients_on(net, x, base, 7, alphas, weights)
        torch.testing.assert_close(result.values, direct, rtol=1e-4, atol=1e-6)


def integrated_gradients_on(net, x, base, target, alphas, weights) -> torch.Tensor:
    points = base + torch.tensor(alphas, dtype=x.dtype).view(-1, 1, 1, 1) * (x - base)
    points.requires_grad_(True)
    (grads,) = torch.autograd.grad(net.scores(points)[:, target].sum(), points)
    weighted = (grads * torch.tensor(weights, dtype=x.dtype).view(-1, 1, 1, 1)).sum(0)
    return weighted * (x - base)[0]
