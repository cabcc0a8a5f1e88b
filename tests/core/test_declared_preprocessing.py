"""A network's own preprocessing: torchvision's resize-256/crop-224, declared in its file."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from cnnviz.core.architecture import ArchitectureError, loads
from cnnviz.core.preprocess import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    Preprocessing,
    declared,
    to_network_input,
)
from cnnviz.core.presets import load_preset

IMAGENET = Preprocessing(resize="crop", crop_fraction=0.875, normalize="imagenet")


def _covered(image: np.ndarray, height: int, width: int) -> np.ndarray:
    chw = torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)))[None]
    out = F.interpolate(chw, (height, width), mode="bilinear", antialias=True, align_corners=False)
    return out[0].numpy()


@pytest.mark.parametrize(
    ("source", "short", "target", "offset"),
    [
        ((64, 64), 32, 28, (2, 2)),  # square: resize to 32, cut the centre 28
        ((48, 96), 32, 28, (2, 18)),  # wide: the short side (height) becomes 32
        ((80, 40), 16, 14, (9, 1)),  # tall: the short side (width) becomes 16
    ],
)
def test_crop_fraction_is_resize_short_side_then_centre_crop(source, short, target, offset):
    # torchvision's Resize(short) + CenterCrop(target), done with torch.
    image = np.random.default_rng(0).random((*source, 3), dtype=np.float32)
    h0, w0 = source
    scale = short / min(h0, w0)
    covered = _covered(image, round(h0 * scale), round(w0 * scale))
    top, left = offset
    expected = covered[:, top : top + target, left : left + target]
    prep = Preprocessing(resize="crop", crop_fraction=target / short)
    got = to_network_input(image, 3, target, target, prep)
    np.testing.assert_allclose(got, np.clip(expected, 0, 1), atol=2e-5)


def test_imagenet_normalisation_after_the_crop():
    image = np.full((300, 400, 3), 0.5, np.float32)
    got = to_network_input(image, 3, 224, 224, IMAGENET)
    expected = (0.5 - np.array(IMAGENET_MEAN)) / np.array(IMAGENET_STD)
    np.testing.assert_allclose(got[:, 100, 100], expected, rtol=1e-5)


def test_describe_reads_as_torchvision_with_the_input_size():
    assert IMAGENET.describe(224, 224) == "resize 256 · centre crop 224 · ImageNet mean/std"
    assert IMAGENET.describe() == "crop 87.5% of the centre · ImageNet mean/std"
    assert Preprocessing(resize="crop").describe(224, 224) == "crop"


@pytest.mark.parametrize("fraction", [0, 1.5, "half", float("nan")])
def test_bad_crop_fraction_is_refused(fraction):
    with pytest.raises(ValueError, match="crop_fraction"):
        Preprocessing(resize="crop", crop_fraction=fraction)


@pytest.mark.parametrize("name", ["alexnet", "vgg11", "vgg16", "resnet18", "mobilenet_v2"])
def test_imagenet_presets_declare_torchvisions_evaluation_preprocessing(name):
    arch = load_preset(name)
    assert declared(arch.metadata) == IMAGENET
    assert arch.input.as_tuple() == (3, 224, 224)


def _file(**extra) -> str:
    data = {
        "format": "cnnviz-architecture",
        "version": 1,
        "name": "n",
        "input": {"channels": 3, "height": 8, "width": 8},
        "layers": [{"type": "Flatten"}],
        **extra,
    }
    return json.dumps(data)


def test_declared_preprocessing_round_trips_and_none_declared_is_none():
    arch = loads(_file(preprocessing={"resize": "crop", "crop_fraction": 0.875}))
    assert declared(arch.metadata) == Preprocessing(resize="crop", crop_fraction=0.875)
    assert declared(loads(arch.dumps()).metadata) == declared(arch.metadata)
    assert declared(loads(_file()).metadata) is None


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"preprocessing": {"resize": "squash"}}, '"preprocessing": resize must be one of'),
        ({"preprocessing": {"size": 224}}, '"preprocessing": preprocessing has unknown keys: size'),
        ({"preprocessing": "imagenet"}, '"preprocessing": preprocessing must be a JSON object'),
        ({"hub_weights": "../../etc/passwd"}, '"hub_weights" must be a checkpoint file name'),
        ({"hub_weights": 3}, '"hub_weights" must be a checkpoint file name'),
    ],
)
def test_bad_declarations_are_refused_in_one_line(extra, message):
    with pytest.raises(ArchitectureError, match=message) as caught:
        loads(_file(**extra))
    assert "\n" not in str(caught.value)
