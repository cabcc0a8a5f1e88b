"""`cnnviz animate --backward`: gradients equal autograd, GIFs have one frame per step."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from cnnviz.core.conv_backward import grad_output
from cnnviz.core.conv_steps import CLASSROOM_IMAGE, CLASSROOM_KERNEL, CLASSROOM_POOL_INPUT
from tests.test_cli_animate import run_cli, write_matrix


def conv_autograd(image, kernel, grad, **kwargs):
    x = torch.tensor(image[None], requires_grad=True)
    w = torch.tensor(kernel, requires_grad=True)
    F.conv2d(x, w, **kwargs).backward(torch.from_numpy(grad)[None])
    return x.grad[0].numpy(), w.grad.numpy()


@pytest.mark.parametrize("grad", ["ones", "random"])
def test_classroom_grad_input_and_weight_equal_autograd(capsys, grad):
    shape = (1, 3, 3)  # stride 2, padding 1 on the 5x5 image
    dy = grad_output(shape, grad, 3)
    expected_x, expected_w = conv_autograd(
        CLASSROOM_IMAGE[None], CLASSROOM_KERNEL[None, None], dy, stride=2, padding=1
    )
    common = ("--stride", 2, "--padding", 1, "--grad", grad, "--grad-seed", 3, "--json")
    code, out, err = run_cli(capsys, "--backward", *common)
    data = json.loads(out)
    assert (code, err) == (0, "") and data["steps"] == 25
    np.testing.assert_allclose(data["output"], expected_x[0])
    np.testing.assert_array_equal(data["grad_output"], dy[0])
    code, out, _ = run_cli(capsys, "--backward", "weight", *common)
    data = json.loads(out)
    assert code == 0 and data["steps"] == 9 and "correlation" in data["layer"]
    np.testing.assert_allclose(data["output"], expected_w[0, 0])


def test_channels_and_dilation_from_files(capsys, tmp_path):
    rng = np.random.default_rng(5)
    image = rng.integers(-2, 3, size=(2, 6, 5)).astype(np.float64)
    kernel = rng.integers(-1, 2, size=(2, 2, 3)).astype(np.float64)
    files = ("--input", write_matrix(tmp_path / "x.txt", image),
             "--kernel", write_matrix(tmp_path / "k.txt", kernel))  # fmt: skip
    args = (*files, "--dilation", "2,1", "--padding", "1,0", "--grad", "random", "--json")
    code, out, _ = run_cli(capsys, "--backward", "weight", *args)
    data = json.loads(out)
    dy = np.array(data["grad_output"])[None]
    expected_x, expected_w = conv_autograd(image, kernel[None], dy, dilation=(2, 1),
                                           padding=(1, 0))  # fmt: skip
    assert code == 0
    np.testing.assert_allclose(data["output"], expected_w[0])
    code, out, _ = run_cli(capsys, "--backward", *args)
    np.testing.assert_allclose(json.loads(out)["output"], expected_x)


@pytest.mark.parametrize("mode", ["max", "avg"])
def test_pooling_backward_equals_autograd(capsys, mode):
    code, out, _ = run_cli(capsys, "--pool", mode, "--padding", 1, "--pool-size", 3,
                           "--stride", 2, "--backward", "--grad", "random", "--json")  # fmt: skip
    data = json.loads(out)
    x = torch.tensor(CLASSROOM_POOL_INPUT[None, None], requires_grad=True)
    pool = F.max_pool2d if mode == "max" else F.avg_pool2d
    dy = torch.tensor(data["grad_output"], dtype=torch.float64)[None, None]
    pool(x, 3, 2, 1).backward(dy)
    assert code == 0 and data["steps"] == 4
    np.testing.assert_allclose(data["output"], x.grad[0, 0].numpy())


@pytest.mark.parametrize(
    ("args", "frames"),
    [(("--backward",), 25), (("--backward", "weight", "--stride", 2), 9),
     (("--backward", "--pool", "avg"), 4)],
)  # fmt: skip
def test_gif_has_one_frame_per_backward_step(capsys, tmp_path, args, frames):
    path = tmp_path / "back.gif"
    code, out, _ = run_cli(capsys, *args, "--out", path, "--frame-ms", 50)
    assert code == 0 and f"{frames} frames" in out
    with Image.open(path) as gif:
        assert gif.n_frames == frames and gif.width >= 600


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--backward", "--relu"), "--relu with --backward"),
        (("--backward", "weight", "--pool", "max"), "pooling has no weights"),
        (("--grad", "random"), "--grad and --grad-seed are for --backward"),
        (("--backward", "--padding", 1, "--padding-mode", "reflect"), "zero padding only"),
        (("--backward", "--grad-seed", -1), "must be from 0 to"),
        (("--backward", "sideways"), "invalid choice"),
        (("--backward", "--stride", 0), "must be from 1 to 256"),
    ],
)
def test_impossible_backward_arguments_exit_2_with_one_line(capsys, args, message):
    code, _, err = run_cli(capsys, *args)
    assert code == 2 and message in err and err.count("\n") == 1


def test_backward_is_sized_before_it_is_computed(capsys, tmp_path):
    # 64x64 input, 33x33 kernel: 4,096 input positions of 1,089 products each.
    image = write_matrix(tmp_path / "x.txt", np.ones((1, 64, 64)))
    kernel = write_matrix(tmp_path / "k.txt", np.ones((1, 33, 33)))
    code, _, err = run_cli(capsys, "--input", image, "--kernel", kernel, "--backward")
    assert code == 2 and "at most 4,194,304 values" in err
    code, _, err = run_cli(capsys, "--input", image, "--backward", "--out", tmp_path / "a.gif")
    assert code == 2 and "a GIF of at most 1,024 frames" in err


def test_text_output_names_the_gradient(capsys):
    code, out, _ = run_cli(capsys, "--backward")
    assert code == 0 and "gradient:" in out and "full conv" in out
    # ∂L/∂Y = ones: the centre pixel meets all five taps of the X filter.
    assert out.splitlines()[-3].split() == ["2", "3", "5", "3", "2"]
