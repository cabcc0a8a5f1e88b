"""The command line and memory: `run` and `train` refuse above the budget in one line
(status 2) unless told --ignore-memory-limit; `summary` shows the estimate and only
warns; an allocation that fails anyway is one line too. A tiny budget comes from
CNNVIZ_MEMORY_BUDGET, so nothing here allocates much."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from cnnviz.cli import main
from cnnviz.compute import forward as forward_module
from cnnviz.core.analysis import analyze
from cnnviz.core.architecture import InputShape
from cnnviz.core.memory import BUDGET_ENV, estimate
from cnnviz.core.presets import load_preset

TORCH_CPU_FAILURE = (
    "[enforce fail at alloc_cpu.cpp:127] err == 0. DefaultCPUAllocator: can't allocate "
    "memory: you tried to allocate 16000000000 bytes. Error code 12 (Cannot allocate memory)"
)


@pytest.fixture
def digit_png(tmp_path):
    pixels = np.zeros((40, 40), np.uint8)
    pixels[6:34, 18:24] = 255
    path = tmp_path / "one.png"
    Image.fromarray(pixels).save(path)
    return path


@pytest.fixture
def tiny_budget(monkeypatch):
    monkeypatch.setenv(BUDGET_ENV, "100kB")


def cli(capsys, *args):
    code = main(list(map(str, args)))
    out, err = capsys.readouterr()
    return code, out, err


def one_line(err: str) -> str:
    assert err.count("\n") == 1 and "Traceback" not in err and "alloc_cpu" not in err, err
    return err.strip()


def test_run_refuses_in_one_line_naming_the_layer(capsys, digit_png, tiny_budget):
    code, out, err = cli(capsys, "run", "lenet5", digit_png)
    assert code == 2 and out == ""
    line = one_line(err)
    assert line.startswith("cnnviz run: error: not enough free memory: layer 7 Linear needs ")
    assert line.endswith("is 100 kB; --ignore-memory-limit runs it anyway")


def test_run_anyway(capsys, digit_png, tiny_budget):
    code, out, err = cli(capsys, "run", "lenet5", digit_png, "--ignore-memory-limit", "--json")
    assert code == 0, err
    assert json.loads(out)["layers"] == 12


def test_an_allocation_failing_during_run_is_one_line(capsys, digit_png, monkeypatch):
    real = forward_module.prepared

    def failing(model):
        calls, plan = real(model)
        calls = list(calls)
        calls[9] = lambda h: (_ for _ in ()).throw(RuntimeError(TORCH_CPU_FAILURE))
        return calls, plan

    monkeypatch.setattr(forward_module, "prepared", failing)
    code, _, err = cli(capsys, "run", "lenet5", digit_png, "--ignore-memory-limit")
    assert code == 2
    assert one_line(err).startswith(
        "cnnviz run: error: out of memory: layer 9 Linear could not get 16 GB"
    )


def test_summary_shows_the_estimate_and_only_warns(capsys, tiny_budget):
    code, out, err = cli(capsys, "summary", "lenet5")
    assert code == 0
    assert "memory for a forward: about 389 kB (weights 247 kB, outputs 58 kB" in out
    assert "most: layer 7 Linear needs" in out
    assert one_line(err).startswith("cnnviz summary: warning: not enough free memory: layer 7")


def test_summary_json_has_the_total_and_the_dominant_layer(capsys):
    code, out, _ = cli(capsys, "summary", "vgg16", "--input", "3,2048,2048", "--json")
    assert code == 0
    record = json.loads(out)
    vgg16 = load_preset("vgg16").with_input(InputShape(3, 2048, 2048))
    expected = estimate(analyze(vgg16))
    assert record["memory_bytes"] == expected.total
    assert record["memory_dominant_layer"] == 2
    assert sum(record["memory_breakdown"].values()) == record["memory_bytes"]


def test_train_refuses_before_building_anything(capsys, tmp_path, tiny_budget, monkeypatch):
    import cnnviz.compute.train as train_module

    monkeypatch.setattr(train_module, "train", lambda *a, **k: pytest.fail("it trained"))
    out = tmp_path / "w.safetensors"
    code, _, err = cli(capsys, "train", "lenet5", "--epochs", "1", "--out", out)
    assert code == 2
    line = one_line(err)
    assert line.startswith("cnnviz train: error: not enough free memory: layer 7 Linear")
    assert "training about " in line and line.endswith("--ignore-memory-limit trains it anyway")


def test_train_anyway_and_a_failing_allocation_is_one_line(
    capsys, tmp_path, tiny_budget, monkeypatch
):
    import cnnviz.compute.train as train_module

    def out_of_memory(*args, **kwargs):
        raise RuntimeError(TORCH_CPU_FAILURE)

    monkeypatch.setattr(train_module, "train", out_of_memory)
    out = tmp_path / "w.safetensors"
    args = ("train", "lenet5", "--epochs", "1", "--out", out, "--ignore-memory-limit")
    code, _, err = cli(capsys, *args)
    assert code == 2
    assert one_line(err).startswith("cnnviz train: error: out of memory: training could not get")
