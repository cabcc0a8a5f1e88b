"""`cnnviz run` prepares the picture as the network declares, names ImageNet classes, and
says how to get a preset's real weights."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cnnviz.cli import main
from cnnviz.core.class_names import named_classes
from cnnviz.core.images import Preprocessing, load_image, to_network_input
from cnnviz.core.samples import sample

DECLARED = {"resize": "crop", "crop_fraction": 0.875, "normalize": "imagenet"}


@pytest.fixture
def tiny_imagenet(tmp_path):
    """A small network over the 1000 ImageNet classes that declares its preprocessing."""
    data = {
        "format": "cnnviz-architecture",
        "version": 1,
        "name": "Tiny",
        "input": {"channels": 3, "height": 32, "width": 32},
        "layers": [
            {"type": "Conv2d", "out_channels": 4, "kernel_size": 3},
            {"type": "AdaptiveAvgPool2d", "output_size": 1},
            {"type": "Flatten"},
            {"type": "Linear", "out_features": 1000},
        ],
        "classes": "imagenet",
        "preprocessing": DECLARED,
        "hub_weights": "resnet18-f37072fd.pth",
    }
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(data))
    return path


def run(capsys, tmp_path, arch, *options):
    out = tmp_path / "acts.npz"
    code = main(["run", str(arch), str(sample("cat").path), "--out", str(out), *options])
    stdout, stderr = capsys.readouterr()
    assert code == 0, stderr
    with np.load(out) as acts:
        return stdout, acts["input"]


def test_the_declared_preprocessing_is_used_and_reported(capsys, tmp_path, tiny_imagenet):
    image = load_image(sample("cat").path)
    stdout, x = run(capsys, tmp_path, tiny_imagenet)
    expected = to_network_input(image, 3, 32, 32, Preprocessing(**DECLARED))
    np.testing.assert_array_equal(x, expected)
    first = stdout.splitlines()[0]
    assert first.endswith("random weights; input resize 37 · centre crop 32 · ImageNet mean/std)")
    assert "note: cnnviz weights download resnet18 fetches its ImageNet weights (46.8 MB)" in (
        stdout.splitlines()
    )
    report = json.loads(run(capsys, tmp_path, tiny_imagenet, "--json")[0])
    assert report["preprocessing"] == Preprocessing(**DECLARED).to_json()
    assert report["class_name"] == named_classes("imagenet")[report["predicted_class"]]
    assert [row["name"] for row in report["top"]] == [
        named_classes("imagenet")[row["class"]] for row in report["top"]
    ]


@pytest.mark.parametrize(
    ("options", "changed"),
    [
        (("--resize", "stretch"), {"resize": "stretch", "crop_fraction": 1.0}),
        (("--normalize", "none"), {"normalize": "none"}),
        (("--invert",), {"invert": True}),
    ],
)
def test_options_change_the_declared_preprocessing(
    capsys, tmp_path, tiny_imagenet, options, changed
):
    image = load_image(sample("cat").path)
    _, x = run(capsys, tmp_path, tiny_imagenet, *options)
    prep = Preprocessing(**{**DECLARED, **changed})
    np.testing.assert_array_equal(x, to_network_input(image, 3, 32, 32, prep))


def test_a_network_that_declares_nothing_is_stretched_as_before(capsys, tmp_path):
    stdout, x = run(capsys, tmp_path, "lenet5")
    image = load_image(sample("cat").path)
    np.testing.assert_array_equal(x, to_network_input(image, 1, 32, 32, Preprocessing()))
    assert "; input" not in stdout.splitlines()[0]
