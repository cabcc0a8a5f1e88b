"""`cnnviz animate`: the classroom maps, GIFs with one frame per output cell, one-line errors."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image, ImageChops

from cnnviz.cli import main


def run_cli(capsys, *args):
    code = main(["animate", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def write_matrix(path, array) -> str:
    blocks = ["\n".join(" ".join(f"{v:g}" for v in row) for row in channel) for channel in array]
    path.write_text("\n\n".join(blocks) + "\n")
    return str(path)


def frames_of(path) -> list[Image.Image]:
    with Image.open(path) as gif:
        frames = []
        for n in range(gif.n_frames):
            gif.seek(n)
            frames.append(gif.convert("RGB"))
        return frames


def test_classroom_convolution_json(capsys):
    code, out, err = run_cli(capsys, "--json")
    data = json.loads(out)
    assert (code, err) == (0, "")
    assert data["output"] == [[4, 3, 4], [2, 4, 3], [2, 3, 4]]
    assert data["output_shape"] == [3, 3]
    assert "⌊(5 + 2·0 − 1·(3−1) − 1) / 1⌋ + 1" in data["formula"]
    assert data["formula"].endswith("= 3")


def test_classroom_max_pooling_json(capsys):
    code, out, _ = run_cli(capsys, "--pool", "max", "--json")
    assert code == 0
    assert json.loads(out)["output"] == [[5, 7], [8, 9]]


def test_padding_stride_dilation_by_hand(capsys):
    # Padded 7x7; windows read rows/cols -1, 1, 3 (then 1, 3, 5): X filter hits 2, 1, 1, 2.
    code, out, _ = run_cli(capsys, "--padding", 1, "--stride", 2, "--dilation", 2, "--json")
    data = json.loads(out)
    assert code == 0 and data["output"] == [[2, 1], [1, 2]]
    assert "⌊(5 + 2·1 − 2·(3−1) − 1) / 2⌋ + 1 = ⌊2 / 2⌋ + 1 = 2" in data["formula"]


@pytest.mark.parametrize(
    ("args", "cells"),
    [((), 9), (("--padding", 1, "--stride", 2, "--dilation", 2), 4), (("--pool", "avg"), 4)],
)
def test_gif_has_one_frame_per_output_cell(capsys, tmp_path, args, cells):
    out_path = tmp_path / "anim.gif"
    code, out, _ = run_cli(capsys, *args, "--out", out_path, "--frame-ms", 100)
    assert code == 0 and f"{cells} frames" in out
    frames = frames_of(out_path)
    assert len(frames) == cells
    assert frames[0].width >= 600  # readable at normal size
    for before, after in itertools.pairwise(frames):
        assert ImageChops.difference(before, after).getbbox() is not None


def test_matrix_files_with_channels_agree_with_torch(capsys, tmp_path):
    rng = np.random.default_rng(7)
    image = rng.integers(-2, 3, size=(2, 5, 6)).astype(np.float64)
    kernel = rng.integers(-1, 2, size=(2, 2, 3)).astype(np.float64)
    code, out, _ = run_cli(
        capsys,
        "--input", write_matrix(tmp_path / "in.txt", image),
        "--kernel", write_matrix(tmp_path / "k.txt", kernel),
        "--padding", "1,0", "--stride", "1,2", "--bias", 0.5, "--json",
    )  # fmt: skip
    expected = F.conv2d(
        torch.from_numpy(image)[None],
        torch.from_numpy(kernel)[None],
        torch.tensor([0.5], dtype=torch.float64),
        stride=(1, 2),
        padding=(1, 0),
    )[0, 0].numpy()
    data = json.loads(out)
    assert code == 0 and data["output_shape"] == list(expected.shape)
    np.testing.assert_allclose(data["output"], expected)


def test_comma_separated_rectangular_input_and_frames(capsys, tmp_path):
    matrix = tmp_path / "m.csv"
    matrix.write_text("1, 2, 3, 4, 5, 6\n6,5,4,3,2,1\n0 1 0 1 0 1\n1,1,1,1,1,1\n")
    gif = tmp_path / "m.gif"
    code, out, _ = run_cli(capsys, "--input", matrix, "--pool", "max", "--out", gif, "--json")
    data = json.loads(out)
    assert code == 0 and data["output"] == [[6, 4, 6], [1, 1, 1]]
    assert data["gif_frames"] == 6 and len(frames_of(gif)) == 6


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("1 2 3\n4 5\n", "line 2 has 2 numbers but the rows above have 3"),
        ("1 2\n3 x\n", "line 2: 'x' is not a number"),
        ("# only a comment\n\n", "no numbers found"),
        ("1 nan\n2 3\n", "'nan' is not a finite number"),
        ("1 2\n3 4\n\n1 2 3\n4 5 6\n", "all channels must have the same size"),
    ],
)
def test_bad_matrix_file_exits_2_with_one_line(capsys, tmp_path, content, message):
    path = tmp_path / "bad.txt"
    path.write_text(content)
    code, out, err = run_cli(capsys, "--input", path, "--json")
    assert code == 2 and out == ""
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--dilation", 3), "the kernel spans 7 on the height"),
        (("--padding", 5, "--padding-mode", "reflect"), "reflect padding 5 must be smaller"),
        (("--pool", "max", "--padding", 2), "at most half the kernel"),
        (("--pool", "max", "--kernel", "k.txt"), "--kernel is for convolution"),
        (("--pool", "avg", "--dilation", 2), "average pooling has no dilation"),
        (("--input", "missing.txt"), "missing.txt: no such file"),
        (("--out", "no/such/folder/a.gif"), "cannot write no/such/folder/a.gif"),
        (("--ceil-mode",), "--ceil-mode is for pooling"),
    ],
)
def test_impossible_parameters_exit_2_with_one_line(capsys, tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    code, _, err = run_cli(capsys, *args)
    assert code == 2 and message in err and err.count("\n") == 1


def test_kernel_channels_must_match_the_input(capsys, tmp_path):
    image = write_matrix(tmp_path / "in.txt", np.ones((3, 4, 4)))
    code, _, err = run_cli(capsys, "--input", image, "--json")
    assert code == 2 and "each filter has 1 channel(s) but the input has 3" in err


def test_without_out_or_json_prints_the_matrix(capsys):
    code, out, _ = run_cli(capsys, "--pool", "avg")
    assert code == 0
    assert "3.75" in out and "5.50" in out and "H_out = W_out" in out
