"""A person's own PyTorch model on the command line (issue 18): summary, run and the
window take FILE.py:CLASS with --input and --weights; every problem is one line,
exit status 2."""

from __future__ import annotations

import json
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from cnnviz import cli
from cnnviz.cli import main
from cnnviz.compute.model import build_model
from cnnviz.compute.weights import load_weights, save_weights
from cnnviz.core.architecture import load
from tests.imported_nets import model_in_file

MODELS = Path(__file__).parent / "import_models.py"


def run_cli(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def model(name: str) -> torch.nn.Module:
    return model_in_file(MODELS, name).eval()


def test_summary_json_counts_the_parameters_torch_counts(capsys):
    code, out, err = run_cli(capsys, "summary", f"{MODELS}:Net", "--input", "3,16,16", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["total_params"] == sum(p.numel() for p in model("Net").parameters())
    assert data["input"] == [3, 16, 16] and data["output_shape"] == [10]
    addresses = [layer["address"] for layer in data["layers"]]
    assert "2.body.3" in addresses and "4.branches.1.1" in addresses


def test_a_factory_works_as_a_class_does(capsys):
    code, out, _ = run_cli(capsys, "summary", f"{MODELS}:make_net", "--input", "3,16,16")
    assert code == 0 and "total parameters: 8,284" in out


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ((f"{MODELS}:Net",), "import_models.py: give the model's input size with --input C,H,W"),
        ((f"{MODELS}:Nope", "--input", "3,16,16"), "import_models.py has no 'Nope'"),
        ((f"{MODELS}:Fixed", "--input", "3,16,16"), "Fixed does not take a 3×16×16 input at"),
        ((f"{MODELS}:Dense", "--input", "3,16,16"), "cannot import: `a = self.a(x)` at"),
        (("missing.py:Net", "--input", "3,16,16"), "missing.py: No such file or directory"),
        ((MODELS, "--input", "3,16,16"), "import_models.py: name the model's class or factory"),
    ],
)
def test_problems_are_one_line_with_status_2(capsys, args, expected):
    code, out, err = run_cli(capsys, "summary", *args)
    assert code == 2 and out == ""
    assert err.startswith(f"cnnviz summary: error: {expected}")
    assert err.count("\n") == 1


def _image(tmp_path) -> Path:
    path = tmp_path / "image.png"
    pixels = np.random.default_rng(0).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path)
    return path


def test_run_gives_the_models_own_outputs_with_its_weights(capsys, tmp_path):
    trained = model("Net")
    for parameter in trained.parameters():
        torch.nn.init.normal_(parameter, std=0.3)
    weights = tmp_path / "mine.pt"
    torch.save(trained.state_dict(), weights)
    out_file = tmp_path / "acts.npz"
    code, out, err = run_cli(
        capsys,
        "run", f"{MODELS}:Net", _image(tmp_path),
        "--input", "3,16,16", "--weights", weights, "--out", out_file, "--json",
    )  # fmt: skip
    assert code == 0, err
    acts = np.load(out_file)
    x = torch.from_numpy(acts["input"][None])
    with torch.no_grad():
        expected = trained(x)[0].numpy()
        block = trained.block.conv2(
            torch.relu(trained.block.bn1(trained.block.conv1(torch.relu(trained.stem(x)))))
        )[0].numpy()
    np.testing.assert_allclose(acts["layer_07"], expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(acts["layer_02.body.03"], block, rtol=1e-5, atol=1e-5)
    report = json.loads(out)
    assert report["predicted_class"] == int(np.argmax(expected))
    assert report["weights"] == str(weights) and report["trained"] is True  # the person's file


def test_run_names_the_constructors_weights_not_a_temporary_copy(capsys, tmp_path):
    code, out, err = run_cli(
        capsys, "run", f"{MODELS}:Net", _image(tmp_path), "--input", "3,16,16", "--json"
    )
    assert code == 0, err
    report = json.loads(out)
    assert report["weights"] is None and report["trained"] is None  # cnnviz cannot judge
    assert report["get_weights"] is None
    code, out, err = run_cli(capsys, "run", f"{MODELS}:Net", _image(tmp_path), "--input", "3,16,16")
    assert "the weights Net's constructor gave it" in out.splitlines()[0]
    assert "random weights" not in out and "cnnviz-import" not in out


def test_weights_that_do_not_fit_name_the_key_and_both_shapes(capsys, tmp_path):
    state = model("Net").state_dict()
    state["fc.weight"] = torch.zeros(10, 64)
    save_weights(state, tmp_path / "w.safetensors")
    code, _, err = run_cli(
        capsys, "run", f"{MODELS}:Net", _image(tmp_path), "--input", "3,16,16",
        "--weights", tmp_path / "w.safetensors",
    )  # fmt: skip
    assert code == 2
    assert err == (
        "cnnviz run: error: w.safetensors does not fit the model: 'fc.weight' is 10×64 in the "
        "file but the model needs 10×640\n"
    )


class _Payload:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_a_pickle_that_would_run_code_is_refused_and_nothing_ran(capsys, tmp_path):
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.pth"
    evil.write_bytes(pickle.dumps({"stem.weight": _Payload(marker)}, protocol=2))
    code, _, err = run_cli(
        capsys, "run", f"{MODELS}:Net", _image(tmp_path), "--input", "3,16,16",
        "--weights", evil,
    )  # fmt: skip
    assert code == 2 and err.startswith("cnnviz run: error: evil.pth: holds Python objects")
    assert not marker.exists()


def test_the_window_opens_the_converted_network_with_its_weights(monkeypatch, tmp_path):
    trained = model("Net")
    for parameter in trained.parameters():
        torch.nn.init.normal_(parameter, std=0.3)
    save_weights(trained, tmp_path / "mine.safetensors")
    opened = {}
    monkeypatch.setattr("cnnviz.app.main", lambda args: opened.setdefault("args", args) and 0)
    code = main(
        [f"{MODELS}:Net", "--input", "3,16,16", "--weights", str(tmp_path / "mine.safetensors")]
    )
    assert code == 0
    path = Path(opened["args"].file)
    try:
        assert cli.file_problem(opened["args"], []) is None
        arch = load(path)
        assert arch.name == "Net" and arch.has_blocks
        converted = build_model(arch)
        load_weights(converted, path.parent / arch.metadata["weights"])
    finally:
        shutil.rmtree(path.parent)
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        assert torch.allclose(converted.eval()(x), trained(x), rtol=1e-5, atol=1e-6)


def test_the_window_is_not_started_for_a_model_it_cannot_import(capsys, monkeypatch):
    monkeypatch.setattr("cnnviz.app.main", lambda args: pytest.fail("the window started"))
    code, _, err = run_cli(capsys, f"{MODELS}:Dense", "--input", "3,16,16")
    assert code == 2 and err.startswith("cnnviz: error: cannot import: `a = self.a(x)`")


def test_the_windows_model_options_need_a_model(capsys):
    code, _, err = run_cli(capsys, "lenet5", "--input", "1,28,28")
    assert (code, err) == (
        2,
        "cnnviz: error: --input is for your own model (FILE.py:CLASS or a .pt)\n",
    )


def test_the_window_asks_for_the_class_of_a_python_file(capsys, monkeypatch):
    monkeypatch.setattr("cnnviz.app.main", lambda args: pytest.fail("the window started"))
    code, _, err = run_cli(capsys, MODELS)
    assert code == 2
    assert err == (
        f"cnnviz: error: import_models.py: name the model's class or factory too, e.g. "
        f"{MODELS}:Net\n"
    )


def test_an_exported_program_needs_no_input_size(capsys, tmp_path):
    net = model("Net")
    path = tmp_path / "net.pt2"
    torch.export.save(torch.export.export(net, (torch.randn(2, 3, 16, 16),)), str(path))
    code, out, err = run_cli(capsys, "summary", path, "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["input"] == [3, 16, 16]
    assert data["total_params"] == sum(p.numel() for p in net.parameters())
