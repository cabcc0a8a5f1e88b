"""`cnnviz train`: weights written, JSON result, same seed same weights, one-line errors."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from cnnviz.cli import main
from cnnviz.commands.train import default_out
from cnnviz.compute.model import build_model
from cnnviz.compute.weights import load_weights, read_weights
from cnnviz.core.architecture import Layer, load, save
from cnnviz.core.resources import resource_path
from tests.tiny_net import TINY


@pytest.fixture
def tiny_file(tmp_path):
    path = tmp_path / "tiny.json"
    save(TINY, path)
    return path


def run_cli(capsys, *args):
    code = main(["train", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def test_trains_saves_and_reports_json(capsys, tmp_path, tiny_file):
    out = tmp_path / "w.safetensors"
    code, stdout, stderr = run_cli(
        capsys,
        tiny_file,
        "--dataset",
        "digits",
        "--epochs",
        "1",
        "--lr",
        "0.01",
        "--batch-size",
        "16",
        "--no-augment",
        "--out",
        out,
        "--json",
    )
    assert code == 0
    record = json.loads(stdout)
    assert set(record) >= {"test_accuracy", "best_val_accuracy", "epochs", "seconds", "out"}
    assert record["epochs"] == 1 and record["out"] == str(out) and not record["cancelled"]
    assert 0.5 < record["test_accuracy"] <= 1.0  # chance is 0.1
    assert "epoch 1/1  loss" in stderr and "test accuracy" in stderr
    model = build_model(TINY)
    load_weights(model, out)  # fits the stack exactly


def test_the_same_seed_gives_the_same_file(capsys, tmp_path, tiny_file):
    paths = [tmp_path / f"{i}.safetensors" for i in range(3)]
    for path, seed in zip(paths, (7, 7, 8), strict=True):
        args = (tiny_file, "--epochs", "1", "--seed", seed, "--lr", "0.01", "--out", path)
        assert run_cli(capsys, *args)[0] == 0
    first, second, other = (read_weights(p) for p in paths)
    for key in first:
        np.testing.assert_array_equal(first[key].numpy(), second[key].numpy())
    assert not np.array_equal(first["0.weight"].numpy(), other["0.weight"].numpy())


def test_update_preset_records_weights_and_metrics(capsys, tmp_path, tiny_file):
    out = tmp_path / "tiny.safetensors"
    args = (tiny_file, "--epochs", "1", "--seed", "2", "--out", out, "--update-preset", "--json")
    code, stdout, _ = run_cli(capsys, *args)
    assert code == 0
    updated = load(tiny_file)
    assert updated.layers == TINY.layers
    assert updated.metadata["description"] == "a tiny digit reader"
    assert updated.metadata["weights"] == "tiny.safetensors"
    metrics = updated.metadata["metrics"]
    assert metrics["test_accuracy"] == round(json.loads(stdout)["test_accuracy"], 4)
    assert metrics["dataset"] == "digits" and metrics["epochs"] == 1 and metrics["seed"] == 2
    assert metrics["command"].startswith(f"cnnviz train {tiny_file} --dataset digits --epochs 1")
    assert metrics["command"].endswith("--out tiny.safetensors")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("no_such_file.json",), "no_such_file.json"),
        (("nonet",), "unknown preset 'nonet'"),
        (("{tiny}", "--dataset", "imagenet"), "unknown dataset 'imagenet'"),
        (("{tiny}", "--dataset", "cifar10"), "set the input channels to 3"),
        (("{tiny}", "--epochs", "0"), "epochs must be at least 1"),
        (("{tiny}", "--out", "{missing}/w.safetensors"), "does not exist"),
        (("{tiny}", "--weights", "{missing}.safetensors"), "no such weights file"),
    ],
)
def test_bad_input_exits_2_with_one_line(capsys, tmp_path, tiny_file, args, message):
    names = {"tiny": tiny_file, "missing": tmp_path / "missing"}
    args = [a.format(**names) for a in args]
    if "--out" not in args:
        args += ["--out", str(tmp_path / "w.safetensors")]
    code, stdout, stderr = run_cli(capsys, *args)
    assert code == 2
    assert stdout == ""
    assert stderr.startswith("cnnviz train: error: ") and message in stderr
    assert stderr.count("\n") == 1 and "Traceback" not in stderr


def test_a_stack_whose_output_does_not_fit_the_classes(capsys, tmp_path):
    wrong = TINY.with_layers((*TINY.layers[:-1], Layer.make("Linear", out_features=3)))
    path = tmp_path / "wrong.json"
    save(wrong, path)
    code, _, stderr = run_cli(capsys, path, "--out", tmp_path / "w.safetensors")
    assert code == 2
    assert (
        "gives 3 outputs but Digits has 10 classes: set out_features of the last Linear to 10"
        in stderr
    )


def test_without_out_it_saves_under_the_networks_name_here(
    capsys, tmp_path, tiny_file, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    code, _, stderr = run_cli(capsys, tiny_file, "--epochs", "1", "--no-augment")
    assert code == 0
    saved = tmp_path / "tiny-trained.safetensors"
    load_weights(build_model(TINY), saved)
    assert stderr.splitlines()[-1] == "saved the weights to tiny-trained.safetensors"
    code, _, stderr = run_cli(capsys, tiny_file, "--epochs", "1", "--no-augment")
    assert code == 0  # a second run says it replaced the first one's file
    assert stderr.splitlines()[-1] == (
        "saved the weights to tiny-trained.safetensors (replacing the file that was there)"
    )


def test_default_names_come_from_the_architectures_name():
    def named(name):
        return default_out(dataclasses.replace(TINY, name=name))

    assert named("LeNet-5") == Path("lenet-5-trained.safetensors")
    assert named("My net / v2") == Path("my-net-v2-trained.safetensors")
    assert named("..") == Path("network-trained.safetensors")


def test_bundled_weights_are_replaced_only_with_update_preset(capsys, tiny_file):
    bundled = resource_path("presets", "lenet5.safetensors")
    before = bundled.read_bytes()
    code, stdout, stderr = run_cli(capsys, tiny_file, "--epochs", "1", "--out", bundled)
    assert code == 2 and stdout == ""
    assert stderr == (
        f"cnnviz train: error: --out {bundled} would replace weights bundled with cnnviz; "
        "choose another file, or add --update-preset to retrain the preset\n"
    )
    assert bundled.read_bytes() == before
