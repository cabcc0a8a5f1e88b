"""`cnnviz run`: every layer in the .npz, the prediction as JSON, one-line errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from cnnviz.cli import main
from cnnviz.commands.run import layer_key
from cnnviz.compute.model import build_model
from cnnviz.compute.weights import save_weights
from cnnviz.core.analysis import analyze
from cnnviz.core.architecture import Architecture, InputShape, Layer, load, save
from cnnviz.core.images import Preprocessing, load_image, to_network_input
from cnnviz.core.presets import load_preset
from tests.image_corpus import CORPUS_ERRORS, write_corpus


def run_cli(capsys, *args):
    code = main(["run", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def digit_png(tmp_path):
    pixels = np.zeros((40, 40), np.uint8)
    pixels[6:34, 18:24] = 255  # a thick white "1" on black, as on the drawing pad
    path = tmp_path / "one.png"
    Image.fromarray(pixels).save(path)
    return path


@pytest.fixture
def lenet_weights(tmp_path):
    model = build_model(load_preset("lenet5"), seed=5)
    path = tmp_path / "lenet.safetensors"
    save_weights(model, path)
    return path, model


def test_writes_the_input_and_every_layer(capsys, tmp_path, digit_png, lenet_weights):
    weights, model = lenet_weights
    out = tmp_path / "acts.npz"
    code, stdout, _ = run_cli(capsys, "lenet5", digit_png, "--weights", weights, "--out", out)
    assert code == 0
    assert "wrote input and 12 layer outputs" in stdout
    arch = load_preset("lenet5")
    with np.load(out) as acts:
        assert sorted(acts.files) == ["input"] + [f"layer_{i:02d}" for i in range(12)]
        expected_input = to_network_input(load_image(digit_png), 1, 32, 32, Preprocessing())
        np.testing.assert_array_equal(acts["input"], expected_input)
        for info in analyze(arch).layers:
            assert acts[f"layer_{info.index:02d}"].shape == info.output_shape
        conv = F.conv2d(torch.from_numpy(expected_input)[None], model[0].weight, model[0].bias)
        np.testing.assert_allclose(acts["layer_00"], conv[0].detach().numpy(), rtol=1e-5, atol=1e-6)


def test_json_gives_the_prediction_from_the_last_layer(capsys, tmp_path, digit_png, lenet_weights):
    weights, _ = lenet_weights
    out = tmp_path / "acts.npz"
    code, stdout, _ = run_cli(
        capsys, "lenet5", digit_png, "--weights", weights, "--out", out, "--json"
    )
    assert code == 0
    report = json.loads(stdout)
    with np.load(out) as acts:
        scores = torch.from_numpy(acts["layer_11"])
    expected = torch.softmax(scores.double(), dim=0).numpy()
    np.testing.assert_allclose(report["probabilities"], expected, atol=2e-6)
    assert report["predicted_class"] == int(np.argmax(expected))
    assert report["class_name"] == str(report["predicted_class"])  # LeNet's classes are "0".."9"
    assert report["device"] == "CPU" and report["layers"] == 12
    assert report["out"] == str(out) and report["weights"] == str(weights)


def test_json_and_stats_give_each_layers_statistics(capsys, tmp_path, digit_png):
    out = tmp_path / "acts.npz"
    code, stdout, _ = run_cli(capsys, "interview", digit_png, "--out", out, "--json")
    assert code == 0
    rows = json.loads(stdout)["layer_stats"]
    with np.load(out) as acts:
        for index, row in enumerate(rows):
            values = acts[layer_key(index, len(rows))]
            assert row["index"] == index and row["shape"] == list(values.shape)
            assert row["min"] == float(values.min()) and row["max"] == float(values.max())
            assert row["mean"] == pytest.approx(float(values.astype(np.float64).mean()))
            assert row["zero_fraction"] == pytest.approx(float(np.mean(values == 0)))
    assert [row["type"] for row in rows][:3] == ["Conv2d", "BatchNorm2d", "ReLU"]
    assert rows[2]["zero_fraction"] > 0  # ReLU zeroes the negatives
    code, stdout, _ = run_cli(capsys, "interview", digit_png, "--out", out, "--stats")
    table = stdout.splitlines()[-len(rows) - 1 :]
    assert table[0].split() == ["layer", "shape", "min", "max", "mean", "zeros"]
    assert table[3].split()[:3] == ["2", "ReLU", "8×28×28"]
    assert table[3].split()[-1] == f"{rows[2]['zero_fraction']:.0%}"


def test_feature_maps_at_the_end_give_no_prediction(capsys, tmp_path, digit_png):
    arch = Architecture(
        "maps", InputShape(1, 16, 16), (Layer.make("Conv2d", out_channels=2, kernel_size=3),)
    )
    save(arch, tmp_path / "maps.json")
    out = tmp_path / "acts.npz"
    code, stdout, _ = run_cli(capsys, tmp_path / "maps.json", digit_png, "--out", out, "--json")
    assert code == 0
    report = json.loads(stdout)
    assert report["predicted_class"] is None and report["probabilities"] is None
    with np.load(out) as acts:
        assert acts["layer_00"].shape == (2, 14, 14)


def test_weights_named_in_the_architecture_file_are_used(capsys, tmp_path, digit_png):
    arch = load_preset("lenet5")
    model = build_model(arch, seed=11)
    save_weights(model, tmp_path / "mine.safetensors")
    metadata = {**arch.metadata, "weights": "mine.safetensors"}
    save(Architecture(arch.name, arch.input, arch.layers, metadata), tmp_path / "mine.json")
    code, stdout, _ = run_cli(
        capsys, tmp_path / "mine.json", digit_png, "--out", tmp_path / "a.npz", "--json"
    )
    assert code == 0
    assert json.loads(stdout)["weights"].endswith("mine.safetensors")


def test_layer_keys_widen_for_long_stacks():
    assert layer_key(3, 12) == "layer_03"
    assert layer_key(3, 150) == "layer_003"


def one_line_error(capsys, *args) -> str:
    code, out, err = run_cli(capsys, *args)
    assert code == 2, (out, err)
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("cnnviz run: error: "), err
    assert "Traceback" not in err
    return lines[0]


def test_bad_inputs_exit_2_with_one_line(capsys, tmp_path, digit_png):
    out = tmp_path / "a.npz"
    text = tmp_path / "notes.png"
    text.write_text("not a picture")
    broken_arch = tmp_path / "broken.json"
    broken_arch.write_text("{not json")
    lenet_file = tmp_path / "lenet.safetensors"
    save_weights(build_model(load_preset("lenet5")), lenet_file)
    assert "missing.png" in one_line_error(capsys, "lenet5", tmp_path / "missing.png", "--out", out)
    assert "notes.png" in one_line_error(capsys, "lenet5", text, "--out", out)
    assert "unknown preset 'lenet6'" in one_line_error(capsys, "lenet6", digit_png, "--out", out)
    assert "not valid JSON" in one_line_error(capsys, broken_arch, digit_png, "--out", out)
    mismatch = one_line_error(capsys, "interview", digit_png, "--weights", lenet_file, "--out", out)
    assert "do not fit the stack: '0.weight' is 6×1×5×5 in the file" in mismatch
    unwritable = tmp_path / "no" / "such" / "dir.npz"
    assert "cannot write" in one_line_error(capsys, "lenet5", digit_png, "--out", unwritable)
    assert not out.exists()


def test_an_invalid_stack_exits_2(capsys, tmp_path, digit_png):
    arch = load_preset("lenet5").with_input(InputShape(1, 8, 8))
    save(arch, tmp_path / "small.json")
    line = one_line_error(capsys, tmp_path / "small.json", digit_png, "--out", tmp_path / "a.npz")
    assert "layer" in line


def test_a_missing_gpu_exits_2(capsys, tmp_path, digit_png, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    line = one_line_error(
        capsys, "lenet5", digit_png, "--device", "cuda", "--out", tmp_path / "a.npz"
    )
    assert "CUDA is not available here" in line


def test_the_image_corpus_runs_or_fails_cleanly(capsys, tmp_path):
    files = write_corpus(tmp_path / "corpus")
    for name, path in files.items():
        out = tmp_path / f"{name}.npz"
        code, _, err = run_cli(capsys, "interview", path, "--out", out, "--no-weights")
        if name in CORPUS_ERRORS:
            assert code == 2, name
            assert CORPUS_ERRORS[name] in err.lower(), (name, err)
            assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
        else:
            assert code == 0, (name, err)
            with np.load(out) as acts:
                assert acts["input"].shape == (1, 28, 28), name
                assert acts["layer_10"].shape == (10,), name


def test_without_out_it_prints_the_top_classes_and_writes_nothing(
    capsys, tmp_path, digit_png, lenet_weights, monkeypatch
):
    weights, model = lenet_weights
    monkeypatch.chdir(tmp_path)
    before = sorted(tmp_path.iterdir())
    code, stdout, _ = run_cli(capsys, "lenet5", digit_png, "--weights", weights, "--top", "3")
    assert code == 0
    assert sorted(tmp_path.iterdir()) == before
    x = torch.from_numpy(to_network_input(load_image(digit_png), 1, 32, 32, Preprocessing()))
    probs = torch.softmax(model(x[None])[0].double(), 0).detach().numpy()
    best = np.argsort(-probs)[:3]
    lines = stdout.splitlines()
    assert lines[0].startswith("LeNet-5 on one.png") and "weights lenet.safetensors" in lines[0]
    assert lines[1:] == [
        "prediction (top 3 of 10 classes):",
        *(f"  {probs[i]:>7.2%}  {i}" for i in best),  # LeNet's classes are named "0".."9"
    ]
    code, stdout, _ = run_cli(capsys, "lenet5", digit_png, "--weights", weights, "--json")
    report = json.loads(stdout)
    assert report["out"] is None and report["trained"] is True
    assert [row["class"] for row in report["top"]] == list(np.argsort(-probs)[:5])
    assert report["top"][0]["probability"] == pytest.approx(probs[best[0]], abs=2e-6)
    assert sorted(tmp_path.iterdir()) == before


def test_class_names_that_are_not_the_index_are_shown_with_it(capsys, digit_png):
    code, stdout, _ = run_cli(capsys, "tinyvgg", digit_png, "--top", "1")
    assert code == 0
    report = json.loads(run_cli(capsys, "tinyvgg", digit_png, "--json")[1])
    best = report["top"][0]
    assert stdout.splitlines()[-1].endswith(f"  {best['name']} (class {best['class']})")


UNTRAINED_NOTE = (
    "note: random weights (untrained, seed {seed}): these predictions mean nothing; "
    "give --weights FILE, or make one with cnnviz train"
)


@pytest.mark.parametrize(
    "args",
    [
        ("tinyvgg",),  # no bundled weights
        ("interview", "--no-weights"),  # bundled weights set aside
        ("lenet5", "--no-weights", "--seed", "3"),
    ],
)
def test_random_weights_are_said_plainly(capsys, digit_png, args):
    arch, *options = args
    code, stdout, _ = run_cli(capsys, arch, digit_png, *options)
    assert code == 0
    seed = options[-1] if "--seed" in options else "0"
    assert UNTRAINED_NOTE.format(seed=seed) in stdout.splitlines()
    report = json.loads(run_cli(capsys, arch, digit_png, *options, "--json")[1])
    assert report["weights"] is None and report["trained"] is False


def test_bundled_weights_count_as_trained(capsys, digit_png):
    code, stdout, _ = run_cli(capsys, "interview", digit_png)
    assert code == 0 and "random weights" not in stdout and "note:" not in stdout
    report = json.loads(run_cli(capsys, "interview", digit_png, "--json")[1])
    assert report["trained"] is True and report["weights"].endswith("interview.safetensors")


def test_a_network_without_class_scores_says_its_random_filters_mean_nothing(
    capsys, tmp_path, digit_png
):
    arch = Architecture(
        "maps", InputShape(1, 16, 16), (Layer.make("Conv2d", out_channels=2, kernel_size=3),)
    )
    save(arch, tmp_path / "maps.json")
    code, stdout, _ = run_cli(capsys, tmp_path / "maps.json", digit_png)
    assert code == 0
    assert "no prediction: the last layer does not give class scores" in stdout
    assert "note: random weights (untrained, seed 0): its filters and outputs mean" in stdout


def test_a_network_with_blocks_writes_every_inner_output(capsys, tmp_path, digit_png):
    """Every --out key of a version-2 file equals the test's own torch model that
    loaded the same safetensors weights."""
    from safetensors.torch import save_file

    from cnnviz.commands.run import activation_key
    from tests.compute.test_blocks_compute import (
        BLOCKS_FILE,
        independent_outputs,
        randomize,
    )
    from tests.torch_modules import torch_network

    model = torch_network(BLOCKS_FILE)
    randomize(model, 11)
    weights = tmp_path / "blocks.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(weights))
    arch_path = tmp_path / "blocks.json"
    arch_path.write_text(json.dumps(BLOCKS_FILE))
    out = tmp_path / "acts.npz"
    code, stdout, err = run_cli(capsys, arch_path, digit_png, "--weights", weights, "--out", out)
    assert code == 0, err
    analysis = analyze(load(arch_path))
    assert f"wrote input and {len(analysis.layers)} layer outputs" in stdout
    with np.load(out) as acts:
        expected = independent_outputs(model, acts["input"])
        keys = {"input"} | {activation_key(info.address, 9) for info in analysis.layers}
        assert set(acts.files) == keys
        for key in ("layer_01", "layer_01.body.00", "layer_02.shortcut.01"):
            assert key in keys
        assert "layer_04.branches.1.02" in keys and "layer_05.branches.1.00.body.00" in keys
        for info in analysis.layers:
            values = acts[activation_key(info.address, 9)]
            assert values.shape == info.output_shape
            np.testing.assert_allclose(values, expected[info.address], rtol=1e-5, atol=1e-6)


def test_activation_keys_of_inner_layers():
    from cnnviz.commands.run import activation_key

    assert activation_key("3", 12) == "layer_03"
    assert activation_key("3.body.0", 12) == "layer_03.body.00"
    assert activation_key("5.shortcut.11", 150) == "layer_005.shortcut.11"
    assert activation_key("6.branches.2.1", 12) == "layer_06.branches.2.01"
    assert activation_key("6.branches.12.3.body.4", 12) == "layer_06.branches.12.03.body.04"
