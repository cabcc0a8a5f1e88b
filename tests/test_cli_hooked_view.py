"""`cnnviz summary` and `cnnviz run` of a model torch.fx cannot trace (issue 18): a
read-only view hooked per module, exit status 0, numbers equal to torch's."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from safetensors.torch import load_file

from cnnviz.cli import main
from cnnviz.compute.weights import save_weights
from cnnviz.core.architecture import load
from tests.hooked_reference import STOP, by_call, torch_calls
from tests.imported_nets import model_in_file

MODELS = Path(__file__).parent / "untraceable_models.py"
SOURCE = f"{MODELS}:Branching"


def run_cli(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def _model() -> torch.nn.Module:
    return model_in_file(MODELS, "Branching").eval()


def _stop_line() -> int:
    lines = MODELS.read_text(encoding="utf-8").splitlines()
    return next(n for n, text in enumerate(lines, 1) if text.strip() == STOP)


def test_summary_says_it_is_a_read_only_view_and_counts_what_torch_counts(capsys):
    code, out, err = run_cli(capsys, "summary", SOURCE, "--input", "3,16,16", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["total_params"] == sum(p.numel() for p in _model().parameters())
    assert f"(untraceable_models.py:{_stop_line()}: `{STOP}`)" in data["read_only"]
    names = [row["address"] for row in data["layers"]]
    assert names[0] == "stem" and names[-3:] == ["shared", "shared (call 2)", "head"]
    assert [row["output_shape"] for row in data["layers"]][-1] == [5]
    assert [row["note"] for row in data["layers"]][-2] == "shares call 1's Conv2d parameters"
    assert data["not_run"] == [
        {"module": name, "kind": kind, "params": params}
        for name, kind, params in (("b.0", "Conv2d", 72), ("b.1", "ReLU", 0))
    ]


def test_the_summary_table_starts_with_the_line_that_stopped_the_trace(capsys):
    code, out, _ = run_cli(capsys, "summary", SOURCE, "--input", "3,16,16")
    assert code == 0
    first = out.splitlines()[0]
    assert first == (
        "read-only view: torch.fx could not trace Branching (untraceable_models.py:"
        f"{_stop_line()}: `{STOP}`); every module is shown as it ran on a test input"
    )
    total = sum(p.numel() for p in _model().parameters())
    assert f"total parameters: {total:,} (torch's count for the model; 1 held outside" in out


def test_run_writes_each_modules_output_for_the_image(capsys, tmp_path):
    model = _model()
    save_weights(model, tmp_path / "mine.safetensors")
    image = tmp_path / "image.png"
    pixels = np.random.default_rng(0).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(image)
    out = tmp_path / "acts.npz"
    code, printed, err = run_cli(
        capsys, "run", SOURCE, image, "--input", "3,16,16", "--weights",
        tmp_path / "mine.safetensors", "--out", out,
    )  # fmt: skip
    assert code == 0, err
    assert "\nnote: read-only view: torch.fx could not trace Branching (" in printed
    arrays = np.load(out)
    x = torch.from_numpy(arrays["input"])[None]
    ran = by_call(torch_calls(model, x))
    # An image in [0, 1] is bright: the model takes its `a` path, as on the test input.
    assert set(arrays.files) == {"input", "stem", "a", "shared", "shared (call 2)", "head"}
    for (module, call), value in ran.items():
        name = module if call == 1 else f"{module} (call {call})"
        np.testing.assert_allclose(arrays[name], value.numpy(), rtol=0, atol=0)


def test_the_window_opens_the_view_with_the_models_own_weights(monkeypatch, tmp_path):
    model = _model()
    for parameter in model.parameters():
        torch.nn.init.normal_(parameter, std=0.3)
    save_weights(model, tmp_path / "mine.safetensors")
    opened = {}
    monkeypatch.setattr("cnnviz.app.main", lambda args: opened.setdefault("args", args) and 0)
    code = main([SOURCE, "--input", "3,16,16", "--weights", str(tmp_path / "mine.safetensors")])
    assert code == 0
    path = Path(opened["args"].file)
    try:
        arch = load(path)
        kept = load_file(arch.metadata["hooked"]["model_weights"])
    finally:
        shutil.rmtree(path.parent)
    assert [layer.type for layer in arch.layers] == ["Hooked"] * len(arch.layers)
    assert kept.keys() == model.state_dict().keys()
    assert all(torch.equal(kept[key], value) for key, value in model.state_dict().items())
