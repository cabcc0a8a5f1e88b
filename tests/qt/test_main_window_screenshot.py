"""`cnnviz --open FILE --screenshot OUT.png`: the real program, in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from cnnviz.core.presets import preset_path


def run_cnnviz(tmp_path, *args: str) -> subprocess.CompletedProcess:
    home = tmp_path / "home"
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / "config"),
        "XDG_DATA_HOME": str(home / "data"),
        "XDG_CACHE_HOME": str(home / "cache"),
        "XDG_RUNTIME_DIR": str(tmp_path),
    }
    return subprocess.run(
        [sys.executable, "-m", "cnnviz", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
    )


def test_screenshot_after_the_first_compute(qapp, tmp_path):
    out = tmp_path / "window.png"
    done = run_cnnviz(
        tmp_path, "--open", str(preset_path("interview")), "--select-layer", "4",
        "--screenshot", str(out),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    picture = np.asarray(Image.open(out).convert("RGB"))
    # The default 1800×1050 window in device pixels: the program runs in this
    # environment, so its screen has this process's scale (QT_SCALE_FACTOR...).
    ratio = qapp.primaryScreen().devicePixelRatio()
    assert picture.shape == (round(1050 * ratio), round(1800 * ratio), 3)
    # Something was drawn across the window: many distinct colours, not a blank.
    assert len(np.unique(picture.reshape(-1, 3), axis=0)) > 500


def test_preset_name_opens_too(tmp_path):
    out = tmp_path / "lenet.png"
    done = run_cnnviz(tmp_path, "lenet5", "--screenshot", str(out))
    assert done.returncode == 0, done.stderr
    assert out.stat().st_size > 10_000


def test_missing_file_exits_2_with_one_line(tmp_path):
    done = run_cnnviz(tmp_path, str(tmp_path / "nope.cnnviz"), "--screenshot", "x.png")
    assert done.returncode == 2
    lines = [line for line in done.stderr.splitlines() if line.startswith("cnnviz: error")]
    assert lines == ["cnnviz: error: nope.cnnviz: No such file or directory"]
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("layer", ["99", "z", "1.body.0"])
def test_a_layer_that_is_not_there_exits_2(tmp_path, layer):
    done = run_cnnviz(
        tmp_path, str(preset_path("lenet5")), "--select-layer", layer, "--screenshot",
        str(tmp_path / "x.png"),
    )  # fmt: skip
    assert done.returncode == 2
    assert f"--select-layer {layer}: no such layer; the stack has layers 0 to" in done.stderr
