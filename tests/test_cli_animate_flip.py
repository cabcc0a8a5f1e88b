"""`cnnviz animate --flip`: the true convolution (kernel rotated 180°), against numpy."""

from __future__ import annotations

import json

import numpy as np
import torch
import torch.nn.functional as F

from tests.core.test_conv_flip import true_convolution
from tests.test_cli_animate import run_cli, write_matrix


def test_flip_json_is_true_convolution_and_plain_is_torch(capsys, tmp_path):
    rng = np.random.default_rng(5)
    image = rng.integers(-3, 4, size=(1, 6, 6)).astype(float)
    kernel = np.array([[[1.0, 2.0], [0.0, -1.0]]])  # asymmetric
    args = ["--input", write_matrix(tmp_path / "x.txt", image)]
    args += ["--kernel", write_matrix(tmp_path / "k.txt", kernel), "--padding", 1, "--stride", 2]
    code, out, _ = run_cli(capsys, *args, "--flip", "--json")
    assert code == 0
    flipped = json.loads(out)
    expected = true_convolution(image, kernel[np.newaxis], [0.0], 1, (2, 2))
    np.testing.assert_allclose(flipped["output"], expected[0])
    assert flipped["layer"].startswith("true convolution")
    code, out, _ = run_cli(capsys, *args, "--json")
    plain = json.loads(out)
    x, w = torch.from_numpy(image)[None], torch.from_numpy(kernel)[None]
    np.testing.assert_allclose(plain["output"], F.conv2d(x, w, padding=1, stride=2)[0, 0])
    assert not np.allclose(plain["output"], flipped["output"])


def test_flip_with_pool_or_backward_is_one_line(capsys):
    code, _, err = run_cli(capsys, "--flip", "--pool", "max")
    assert code != 0 and "pooling has no kernel to flip" in err and "Traceback" not in err
    code, _, err = run_cli(capsys, "--flip", "--backward")
    assert code != 0 and "forward convolution only" in err and len(err.strip().splitlines()) == 1


def test_flip_text_names_the_convolution(capsys):
    code, out, _ = run_cli(capsys, "--flip")
    assert code == 0 and out.splitlines()[0].startswith("true convolution (kernel rotated 180°)")
