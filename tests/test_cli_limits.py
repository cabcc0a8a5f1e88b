"""Every file and argument the commands take is read within limits: one line
on stderr, exit status 2, never a traceback, a hang or gigabytes of memory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from safetensors.numpy import save_file

from cnnviz.cli import main
from cnnviz.commands import train as train_command
from cnnviz.core.jobs import TrainResult
from tests.special_files import DEV_ZERO, make_fifo, needs_dev_zero, needs_fifo

SAMPLE = Path(__file__).resolve().parents[1] / "resources" / "samples" / "digit_1.png"
HEADER = (
    '{"format": "cnnviz-architecture", "version": 1, "name": "net", '
    '"input": {"channels": 1, "height": 4, "width": 4}, "layers": [{"type": "Flatten"}]'
)


def one_line(capsys, *argv) -> str:
    """The error line of a command that must fail with status 2."""
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert code == 2, (out, err)
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err.strip()


def cnnviz_process(*argv, timeout=60):
    """The command in a process of its own, limited to 1 GB and `timeout` seconds,
    so a reader that blocks or reads /dev/zero fails the test instead of the machine."""

    def limit_memory():
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (2**30, 2**30))

    return subprocess.run(
        [sys.executable, "-m", "cnnviz", *map(str, argv)],
        capture_output=True,
        text=True,
        timeout=timeout,
        preexec_fn=limit_memory,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
    )


# -- files that are no files ------------------------------------------------------


@needs_fifo
@needs_dev_zero
@pytest.mark.parametrize(
    "argv",
    [
        ("summary", "{special}"),
        ("animate", "--input", "{special}"),
        ("animate", "--kernel", "{special}"),
    ],
)
@pytest.mark.parametrize("special", ["fifo", "dev_zero"])
def test_pipes_and_devices_are_refused_at_once(tmp_path, argv, special):
    path = make_fifo(tmp_path) if special == "fifo" else DEV_ZERO
    started = time.monotonic()
    done = cnnviz_process(*(str(path) if a == "{special}" else a for a in argv))
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and "not a regular file" in done.stderr
    assert str(path) in done.stderr or path.name in done.stderr
    assert time.monotonic() - started < 30


# -- hostile JSON -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("tail", "message"),
    [
        (', "description": ' + "[" * 1000 + "]" * 1000, "nested 1,001 levels deep; at most 64"),
        (', "metrics": ' + "9" * 5000, "a whole number has 5,000 digits; at most 100"),
        (', "classes": ["a\\ud800"]', "the text at classes[0] holds '\\ud800', half of a"),
    ],
)
def test_hostile_architecture_files_are_one_line(capsys, tmp_path, tail, message):
    path = tmp_path / "net.json"
    path.write_text(HEADER + tail + "}")
    line = one_line(capsys, "summary", path)
    assert line.startswith(f"cnnviz summary: error: net.json: {message}")


def test_a_name_with_a_lone_surrogate_never_reaches_print(capsys, tmp_path):
    path = tmp_path / "net.json"
    path.write_text(HEADER.replace('"net"', '"n\\udfffet"') + "}")
    for argv in (("summary", path), ("summary", path, "--json")):
        assert "the text at name holds '\\udfff'" in one_line(capsys, *argv)


def test_batch_statistics_of_one_value_are_refused(capsys, tmp_path):
    path = tmp_path / "bn.json"
    arch = json.loads(HEADER + "}")
    arch["input"] = {"channels": 2, "height": 1, "width": 1}
    arch["layers"] = [{"type": "BatchNorm2d", "track_running_stats": False}]
    path.write_text(json.dumps(arch))
    line = one_line(capsys, "summary", path)
    assert line.startswith("cnnviz summary: error: layer 0 BatchNorm2d: with track_running_stats")
    arch["layers"][0]["track_running_stats"] = True  # eval mode: running statistics, fine
    path.write_text(json.dumps(arch))
    assert main(["summary", str(path)]) == 0


# -- animate's arguments ----------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--padding", 100000), "argument --padding: must be from 0 to 256, got '100000'"),
        (("--padding", 3000), "argument --padding: must be from 0 to 256"),
        (("--padding", "1,-1"), "argument --padding: must be from 0 to 256"),
        (("--stride", 0), "argument --stride: must be from 1 to 256, got '0'"),
        (("--dilation", 257), "argument --dilation: must be from 1 to 256"),
        (("--pool", "max", "--pool-size", "2,9999"), "argument --pool-size: must be from 1 to 256"),
        (("--frame-ms", 5, "--out", "a.gif"), "argument --frame-ms: must be from 20 to 60000"),
        (("--bias", "nan"), "argument --bias: must be a finite number, got 'nan'"),
        (("--bias=-inf",), "argument --bias: must be a finite number"),
        (("--padding", 256), "the output is 1x515x515, 265,225 cells to step through; at most"),
        (
            ("--padding", 20, "--out", "a.gif"),
            "1,849 cells to step through; a GIF of at most 1,024",
        ),
        (("--padding", 7, "--out", "a.gif"), "289 frames of"),
    ],
)
def test_animate_arguments_have_ranges_and_a_size(capsys, tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    started = time.monotonic()
    line = one_line(capsys, "animate", *args)
    assert line.startswith("cnnviz animate: error: ") and message in line
    assert time.monotonic() - started < 10
    assert not (tmp_path / "a.gif").exists()


def test_animate_refuses_a_padded_input_too_large(capsys, tmp_path):
    matrices = tmp_path / "in.txt"
    blocks = ["\n".join(["0 " * 8] * 8)] * 64
    matrices.write_text("\n\n".join(blocks) + "\n")
    argv = ("animate", "--input", matrices, "--pool", "max", "--pool-size", 256, "--padding", 128)
    line = one_line(capsys, *argv)
    assert "the padded input would hold 4,460,544 values; at most 4,194,304" in line


# -- strict JSON out --------------------------------------------------------------


def refuse_constant(name):
    raise AssertionError(f"bare {name} is not JSON")


def test_run_json_is_strict_with_nan_weights(capsys, tmp_path):
    arch = tmp_path / "tiny.json"
    arch.write_text(HEADER.replace("}]", '}, {"type": "Linear", "out_features": 3}]') + "}")
    weights = tmp_path / "nan.safetensors"
    nan = np.full((3, 16), np.nan, np.float32)
    save_file({"1.weight": nan, "1.bias": np.zeros(3, np.float32)}, str(weights))
    code = main(["run", str(arch), str(SAMPLE), "--weights", str(weights), "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    report = json.loads(out, parse_constant=refuse_constant)
    assert report["layer_stats"][1]["mean"] is None


def test_train_json_is_strict(capsys, tmp_path):
    result = TrainResult(  # the real record: a field added later gets its default
        request_id=0,
        state_dict={},
        test_accuracy=float("nan"),
        best_val_accuracy=float("inf"),
        epochs_run=1,
        seconds=0.5,
        cancelled=False,
    )
    args = SimpleNamespace(json=True, dataset="digits", seed=0)
    train_command._report(result, tmp_path / "w.safetensors", args, replaced=False)
    out = capsys.readouterr().out
    record = json.loads(out, parse_constant=refuse_constant)
    assert record["test_accuracy"] is None and record["best_val_accuracy"] is None


# -- weights that are pickled objects ---------------------------------------------


def test_a_pickled_model_is_refused_with_what_to_do(capsys, tmp_path):
    path = tmp_path / "model.pt"
    torch.save(torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 3)), path)
    arch = tmp_path / "tiny.json"
    arch.write_text(HEADER.replace("}]", '}, {"type": "Linear", "out_features": 3}]') + "}")
    line = one_line(capsys, "run", arch, SAMPLE, "--weights", path)
    assert line.startswith(
        "cnnviz run: error: model.pt: holds Python objects (torch.nn.modules.container."
        "Sequential) that cnnviz will not unpickle (unsafe); save a state dict instead: "
    )
    assert "weights_only" not in line
