"""The presets ship with weights that have learned: they read digits drawn on the pad."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cnnviz.compute.datasets import load_digits, to_network_input
from cnnviz.compute.model import build_model
from cnnviz.compute.weights import load_weights
from cnnviz.core.digit_framing import frame_strokes
from cnnviz.core.images import load_image
from cnnviz.core.preprocess import to_network_input as to_image_input
from cnnviz.core.presets import load_preset, preset_path, weights_path
from cnnviz.core.samples import list_samples
from tests.drawn_digits import (
    PAD_SIZE,
    VARIANTS,
    digit_strokes,
    drawn_set,
    render_strokes,
    to_input,
)

PRESETS_WITH_WEIGHTS = ("lenet5", "interview", "resnet_digits")


def trained(name):
    arch = load_preset(name)
    path = weights_path(arch, preset_path(name))
    assert path is not None, f"{name} names no weights file that exists"
    model = build_model(arch)
    load_weights(model, path)
    return arch, model.eval()


@pytest.mark.parametrize("name", PRESETS_WITH_WEIGHTS)
def test_recorded_test_accuracy_is_what_the_weights_score(name):
    arch, model = trained(name)
    metrics = arch.metadata["metrics"]
    assert metrics["dataset"] == "digits" and metrics["command"].startswith(f"cnnviz train {name}")
    assert metrics["test_accuracy"] >= 0.95
    data = load_digits()
    x = to_network_input(data.test_images, data.max_value, arch.input.as_tuple())
    with torch.no_grad():
        predicted = model(x).argmax(dim=1).numpy()
    accuracy = float((predicted == data.test_labels).mean())
    assert accuracy == pytest.approx(metrics["test_accuracy"], abs=5e-5)


@pytest.mark.parametrize("name", PRESETS_WITH_WEIGHTS)
def test_digits_drawn_on_the_pad_are_read(name):
    arch, model = trained(name)
    images, labels = drawn_set(arch.input.height)
    with torch.no_grad():
        predicted = model(torch.from_numpy(images)).argmax(dim=1).numpy()
    per_variant = (predicted == labels).reshape(len(VARIANTS), 10)
    assert per_variant[0].all(), f"plain drawing misread: {predicted[:10]}"
    # Small, thin and thick drawings too: at most a few misread (4 variants × 10 digits).
    assert per_variant.mean() >= 0.9, f"read {per_variant.mean():.0%}: {predicted}"


@pytest.mark.parametrize("name", PRESETS_WITH_WEIGHTS)
def test_the_bundled_digit_samples_are_read(name):
    """Samples > Digit N, through the app's own image pipeline, is read as N."""
    arch, model = trained(name)
    digits = list_samples("digit")
    images = np.stack([to_image_input(load_image(s.path), *arch.input.as_tuple()) for s in digits])
    with torch.no_grad():
        predicted = model(torch.from_numpy(images)).argmax(dim=1).tolist()
    assert predicted == [int(s.name.removeprefix("digit_")) for s in digits]


@pytest.mark.parametrize("name", PRESETS_WITH_WEIGHTS)
def test_small_digits_drawn_off_centre_are_read_once_framed(name):
    """The pad frames a drawing like the training digits (core.digit_framing):
    digits a quarter to a third of the pad's height, in its corners, are read."""
    arch, model = trained(name)
    images, labels = [], []
    for scale in (0.25, 0.35):
        for corner in ((-1, -1), (1, -1), (-1, 1), (1, 1)):
            offset = (0.3 * (1 - scale) * corner[0], 0.3 * (1 - scale) * corner[1])
            for digit in range(10):
                strokes = digit_strokes(digit, scale=scale, offset=offset)
                framing = frame_strokes([(points, 26) for points in strokes], PAD_SIZE)
                framed = render_strokes([framing.apply(points) for points in strokes], 26)
                images.append(to_input(framed, arch.input.height))
                labels.append(digit)
    with torch.no_grad():
        predicted = model(torch.from_numpy(np.stack(images))).argmax(dim=1).numpy()
    assert (predicted == np.array(labels)).mean() >= 0.85, predicted
