"""`cnnviz explain`: every method matches captum on real photos with real networks
(the cat through EfficientNet-Lite0 with its ImageNet weights, a digit through the
trained digits ResNet), the input is what `cnnviz run` feeds the network, --layer
and --target as run --out and the class names say them, mistakes are one line."""

from __future__ import annotations

import warnings

import numpy as np
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

from cnnviz.cli import main
from cnnviz.compute.explain.baselines import baseline
from cnnviz.core.preprocess import declared
from cnnviz.core.samples import sample
from tests.compute.explain_cases import assert_close, preset_case
from tests.efficientnet_reference import preset_input

CAT = ("efficientnet_lite0", "cat")
SEVEN = ("resnet_digits", "digit_7")


@pytest.fixture(autouse=True)
def _quiet_captum_on_one_thread():
    # One torch thread, as the compute thread runs: two threads on a busy two-core
    # machine spin against each other (an EfficientNet forward 30 times slower).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield
    torch.set_num_threads(threads)


def explain(capsys, tmp_path, network, photo, *options) -> tuple[dict, str]:
    out = tmp_path / "map.npz"
    code = main(
        ["explain", network, str(sample(photo).path), *map(str, options), "--out", str(out)]
    )
    printed, err = capsys.readouterr()
    assert code == 0, err
    with np.load(out) as arrays:
        return dict(arrays), printed


def test_gradcam_of_the_cat_matches_captum_and_names_its_class(capsys, tmp_path):
    arrays, printed = explain(capsys, tmp_path, *CAT, "--method", "gradcam")
    # The input is the photo prepared as the preset declares, as cnnviz run feeds it.
    np.testing.assert_array_equal(arrays["input"], preset_input("cat"))
    assert "class 285 'Egyptian cat'" in printed and "at layer 70 Conv2d" in printed
    case = preset_case(*CAT)
    x, target = torch.from_numpy(arrays["input"])[None], int(arrays["target"])
    reference = LayerGradCam(case.model, case.module(int(arrays["layer"])))
    layer_map = reference.attribute(x, target=target, relu_attributions=True)
    assert arrays["layer_map"].shape == (7, 7) and arrays["map"].shape == (224, 224)
    assert_close(arrays["layer_map"], layer_map[0, 0])
    assert_close(
        arrays["map"], LayerAttribution.interpolate(layer_map, (224, 224), "bilinear")[0, 0]
    )


@pytest.mark.parametrize("method", ["saliency", "guided-backprop", "guided-gradcam"])
def test_the_gradient_methods_on_the_cat_match_captum(capsys, tmp_path, method):
    arrays, _ = explain(capsys, tmp_path, *CAT, "--method", method, "--target", "tabby")
    case = preset_case(*CAT)
    assert int(arrays["target"]) == case.arch.classes.index("tabby")
    x, target = torch.from_numpy(arrays["input"])[None], int(arrays["target"])
    if method == "saliency":
        reference = Saliency(case.model).attribute(x, target=target)
    elif method == "guided-backprop":
        reference = GuidedBackprop(case.model).attribute(x, target=target)
    else:
        layer = case.module(int(arrays["layer"]))
        reference = GuidedGradCam(case.model, layer).attribute(
            x, target=target, interpolate_mode="bilinear"
        )
    assert_close(arrays["map"], reference[0].sum(0))  # the map sums the channels


def test_integrated_gradients_on_the_cat_match_captum(capsys, tmp_path):
    """A few steps keep it short; the ImageNet black (-mean/std) baseline."""
    arrays, printed = explain(
        capsys, tmp_path, *CAT, "--method", "integrated-gradients", "--steps", 6
    )
    case = preset_case(*CAT)
    x, target = torch.from_numpy(arrays["input"])[None], int(arrays["target"])
    black = baseline("black", x, declared(case.arch.metadata), 0)
    # Black as the preset's own normalisation makes it: (0 - mean) / std.
    prep = declared(case.arch.metadata)
    expected = -torch.tensor(prep.mean) / torch.tensor(prep.std)
    torch.testing.assert_close(black[0, :, 0, 0], expected.expand(3).float())
    assert float(black.max()) < -0.9
    reference, delta = IntegratedGradients(case.model).attribute(
        x, black, target=target, n_steps=6, return_convergence_delta=True
    )
    assert_close(arrays["map"], reference[0].sum(0), rtol=1e-3)
    assert float(arrays["delta"]) == pytest.approx(float(delta), rel=1e-3, abs=1e-3)
    assert "; 6 steps, completeness gap" in printed


# Measured on two busy cores, one thread: black 256 steps (0.82 %, 19 s), blurred
# 128 (0.45 %, 10 s), noise 32 (0.57 %, 2 s). At a fixed 50 Gauss-Legendre steps
# the gaps were 7.7 %, 5.6 % and 1.2 %.
@pytest.mark.parametrize("kind", ["black", "blurred", "noise"])
def test_integrated_gradients_of_the_cat_are_complete_within_1_percent_by_default(
    capsys, tmp_path, kind
):
    arrays, printed = explain(
        capsys, tmp_path, *CAT, "--method", "integrated-gradients", "--baseline", kind
    )
    change = float(arrays["map"].astype(np.float64).sum()) - float(arrays["delta"])
    assert abs(change) > 1.0
    share = abs(float(arrays["delta"])) / abs(change)
    assert share < 0.01
    steps = int(printed.split(" steps (auto), completeness gap")[0].rsplit(" ", 1)[1])
    assert 32 <= steps < 1024 and steps & (steps - 1) == 0  # doubled from 32
    assert f"({share:.2%} of F(x) - F(baseline))" in printed and "cap" not in printed


def test_occlusion_on_the_cat_matches_captum(capsys, tmp_path):
    arrays, _ = explain(
        capsys, tmp_path, *CAT, "--method", "occlusion", "--window", 64, "--stride", 48
    )
    case = preset_case(*CAT)
    x, target = torch.from_numpy(arrays["input"])[None], int(arrays["target"])
    reference = Occlusion(case.model).attribute(
        x, sliding_window_shapes=(3, 64, 64), strides=(3, 48, 48), baselines=0, target=target,
        perturbations_per_eval=25,
    )  # fmt: skip
    assert_close(arrays["map"], reference[0].sum(0))


@pytest.mark.parametrize(
    ("layer", "address", "shape"),
    [
        ("7", "7", (7, 7)),
        ("5.body.0", "5.body.0", (14, 14)),
        ("layer_03.body.00", "3.body.0", (28, 28)),
    ],
)
def test_layer_as_run_out_names_it(capsys, tmp_path, layer, address, shape):
    arrays, printed = explain(capsys, tmp_path, *SEVEN, "--method", "gradcam", "--layer", layer)
    case = preset_case(*SEVEN)
    assert int(arrays["layer"]) == case.analysis.at(address).index
    assert arrays["layer_map"].shape == shape and f"layer {address} " in printed
    x = torch.from_numpy(arrays["input"])[None]
    reference = LayerGradCam(case.model, case.module(int(arrays["layer"])))
    expected = reference.attribute(x, target=7, relu_attributions=True)[0, 0]
    assert int(arrays["target"]) == 7
    assert_close(arrays["layer_map"], expected)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--method", "lime"], "argument --method: invalid choice: 'lime'"),
        (["--method", "gradcam", "--layer", "12"], "--layer 12: no such layer (0 to 10, or a path"),
        (["--method", "gradcam", "--layer", "9"], "layer 9 Flatten gives 1568, not channels"),
        (["--method", "saliency", "--target", "10"], "class 10 is not one of the network's 10"),
        (["--method", "saliency", "--target", "seven"], "--target seven: no class of that name"),
        (["--method", "occlusion", "--window", "40"], "window must be 1 to 28 pixels"),
        (["--method", "integrated-gradients", "--steps", "-1"], "steps must be 1 to 1000"),
    ],
)
def test_mistakes_are_one_line(capsys, tmp_path, options, message):
    args = [
        "explain",
        *SEVEN[:1],
        str(sample("digit_7").path),
        *options,
        "--out",
        str(tmp_path / "m.npz"),
    ]
    assert main(args) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("cnnviz explain: error: ") and message in err, err
    assert not (tmp_path / "m.npz").exists()


def test_a_missing_image_or_folder_is_one_line(capsys, tmp_path):
    args = ["explain", "lenet5", str(tmp_path / "none.png"), "--method", "saliency"]
    assert main([*args, "--out", str(tmp_path / "m.npz")]) == 2
    assert "none.png" in capsys.readouterr().err
    args[2] = str(sample("digit_3").path)
    assert main([*args, "--out", str(tmp_path / "no" / "m.npz")]) == 2
    assert "cannot write" in capsys.readouterr().err


def test_integrated_gradients_say_when_the_cap_was_reached(capsys, tmp_path, monkeypatch):
    """A gap no count of steps reaches (1e-9 of the change): 1024 steps, and it says so."""
    from cnnviz.commands import explain as command
    from cnnviz.compute.explain import integrated

    monkeypatch.setattr(integrated, "TOLERANCE", 1e-9)
    monkeypatch.setattr(command, "AUTO_TOLERANCE", 1e-9)
    arrays, printed = explain(
        capsys, tmp_path, *SEVEN, "--method", "integrated-gradients", "--baseline", "black"
    )
    assert "; 1024 steps (auto), completeness gap" in printed
    assert ": not under " in printed and " at the cap of 1024 steps" in printed
    assert "delta" in arrays
