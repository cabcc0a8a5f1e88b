"""ForwardRunner: requests in, results out; kernel edits, weights files, train mode."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from cnnviz.compute.model import build_model
from cnnviz.compute.runner import ComputeError, ForwardRunner
from cnnviz.compute.weights import save_weights
from cnnviz.core.architecture import Architecture, InputShape, Layer
from cnnviz.core.jobs import ForwardRequest, KernelEdit
from cnnviz.core.presets import load_preset

SOBEL_X = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=np.float32)


def tinyvgg():
    return load_preset("tinyvgg").with_input(InputShape(3, 20, 20))


def request(arch=None, request_id=1, **changes) -> ForwardRequest:
    arch = arch or tinyvgg()
    image = np.random.default_rng(request_id).random(arch.input.as_tuple(), dtype=np.float32)
    return ForwardRequest(request_id=request_id, architecture=arch, image=image, **changes)


def test_result_carries_the_request_and_everything_the_panels_need():
    req = request(request_id=42)
    result = ForwardRunner().run(req)
    assert result.request_id == 42
    np.testing.assert_array_equal(result.input, req.image)
    assert [layer.index for layer in result.layers] == list(range(len(req.architecture.layers)))
    assert sorted(result.filters) == [0, 2, 5, 7]
    weight, bias = result.filters[0]
    assert weight.shape == (10, 3, 3, 3) and bias.shape == (10,)
    assert result.probabilities.shape == (10,)
    assert result.probabilities.sum() == pytest.approx(1.0, abs=1e-6)
    assert result.device == "CPU" and result.notice is None and result.elapsed_ms > 0


def test_kernel_edit_shows_its_own_feature_map_and_is_undone_afterwards():
    runner = ForwardRunner()
    plain = runner.run(request())
    original = plain.filters[0][0][3].copy()
    sobel = np.stack([SOBEL_X] * 3)  # the same edge detector on R, G and B
    edited = runner.run(request(kernel_edits=(KernelEdit(0, 3, sobel, bias=0.0),)))
    image = torch.from_numpy(edited.input).unsqueeze(0)
    expected = F.conv2d(image, torch.from_numpy(sobel)[None])[0, 0].numpy()
    np.testing.assert_allclose(edited.layers[0].output[3], expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(edited.filters[0][0][3], sobel)
    assert edited.filters[0][1][3] == 0.0
    # Other channels untouched.
    np.testing.assert_array_equal(edited.layers[0].output[2], plain.layers[0].output[2])
    again = runner.run(request())
    np.testing.assert_array_equal(again.filters[0][0][3], original)
    np.testing.assert_array_equal(again.layers[0].output, plain.layers[0].output)


def test_a_kernel_edit_that_does_not_fit_is_ignored_with_a_notice():
    bad = KernelEdit(0, 3, np.zeros((3, 5, 5), np.float32))
    not_conv = KernelEdit(1, 0, np.zeros((3, 3, 3), np.float32))
    result = ForwardRunner().run(request(kernel_edits=(bad, not_conv)))
    assert "kernel edit on layer 0 ignored: the kernel is 3×5×5 but the layer needs 3×3×3" in (
        result.notice
    )
    assert "kernel edit on layer 1 ignored: it is not a Conv2d layer" in result.notice
    assert len(result.layers) == len(tinyvgg().layers)


def test_an_image_of_the_wrong_shape_is_a_clear_error():
    req = request()
    wrong = ForwardRequest(1, req.architecture, np.zeros((1, 20, 20), np.float32))
    with pytest.raises(ComputeError, match=r"the image is 1×20×20 but the network takes 3×20×20"):
        ForwardRunner().run(wrong)


def test_weights_file_is_used_and_survives_an_unrelated_edit(tmp_path):
    arch = tinyvgg()
    source = build_model(arch, seed=99)
    path = tmp_path / "w.safetensors"
    save_weights(source, path)
    runner = ForwardRunner()
    result = runner.run(request(arch, weights_path=str(path)))
    np.testing.assert_array_equal(result.filters[7][0], source[7].weight.detach().numpy())
    layers = list(arch.layers)
    layers[9] = layers[9].with_params(kernel_size=3)  # the last pool, after every conv
    edited = runner.run(request(arch.with_layers(layers), weights_path=str(path)))
    for index in (0, 2, 5, 7):  # before the edit: still the file's weights
        np.testing.assert_array_equal(
            edited.filters[index][0], source[index].weight.detach().numpy()
        )


def test_a_file_that_does_not_fit_names_the_first_mismatch_and_keeps_the_model(tmp_path):
    arch = tinyvgg()
    runner = ForwardRunner()
    trained = {k: v + 1.0 for k, v in build_model(arch, 5).state_dict().items()}
    runner.install_state(arch, trained)
    lenet_path = tmp_path / "lenet.safetensors"
    save_weights(build_model(load_preset("lenet5"), 0), lenet_path)
    with pytest.raises(ComputeError, match=r"^lenet.safetensors do not fit the stack: '0\.weight'"):
        runner.run(request(arch, weights_path=str(lenet_path)))
    kept = runner.run(request(arch))
    np.testing.assert_array_equal(kept.filters[0][0], trained["0.weight"].numpy())


def test_a_missing_weights_file_is_a_clear_error(tmp_path):
    with pytest.raises(ComputeError, match="no such weights file"):
        ForwardRunner().run(request(weights_path=str(tmp_path / "gone.safetensors")))


def test_a_rewritten_weights_file_is_read_again(tmp_path):
    arch = tinyvgg()
    path = tmp_path / "w.safetensors"
    save_weights(build_model(arch, 1), path)
    runner = ForwardRunner()
    runner.run(request(arch, weights_path=str(path)))
    newer = build_model(arch, 2)
    save_weights(newer, path)
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    result = runner.run(request(arch, weights_path=str(path)))
    np.testing.assert_array_equal(result.filters[0][0], newer[0].weight.detach().numpy())


def test_a_new_seed_keeps_the_file_weights_where_they_fit(tmp_path):
    arch = tinyvgg()
    source = build_model(arch, 7)
    path = tmp_path / "w.safetensors"
    save_weights(source, path)
    runner = ForwardRunner()
    runner.run(request(arch, weights_path=str(path), seed=0))
    result = runner.run(request(arch, weights_path=str(path), seed=1))
    np.testing.assert_array_equal(result.filters[0][0], source[0].weight.detach().numpy())


def test_installed_weights_are_used_and_survive_inserting_a_layer():
    arch = tinyvgg()
    runner = ForwardRunner()
    state = {k: torch.full_like(v, 0.01) for k, v in build_model(arch, 0).state_dict().items()}
    runner.install_state(arch, state)
    layers = list(arch.layers)
    inserted = arch.with_layers([layers[0], layers[1], *layers[1:]])  # a second ReLU
    result = runner.run(request(inserted))
    for old_index in (0, 2, 5, 7):
        new_index = old_index if old_index < 1 else old_index + 1
        assert np.all(result.filters[new_index][0] == np.float32(0.01))


def test_train_mode_shows_dropout_and_leaves_batch_norm_statistics_alone():
    arch = load_preset("interview")  # 1 BatchNorm, ..., 9 Dropout(p=0.25)
    runner = ForwardRunner()
    evaluated = runner.run(request(arch))
    drop_in = evaluated.layers[9].input
    np.testing.assert_array_equal(evaluated.layers[9].output, drop_in)  # eval: identity
    model = runner.keeper.model
    stats_before = model[1].running_mean.clone(), model[1].running_var.clone()
    trained = runner.run(request(arch, train_mode=True))
    out, given = trained.layers[9].output, trained.layers[9].input
    kept = out != 0
    np.testing.assert_allclose(out[kept], given[kept] / 0.75, rtol=1e-6)
    dropped = (~kept & (given != 0)).mean()
    assert 0.1 < dropped < 0.4  # about a quarter of the values dropped
    assert torch.equal(model[1].running_mean, stats_before[0])
    assert torch.equal(model[1].running_var, stats_before[1])
    again = runner.run(request(arch, train_mode=True))  # same seed: the same dropout mask
    np.testing.assert_array_equal(again.layers[9].output, out)


def test_a_layer_that_fails_at_run_time_is_named():
    layers = (
        Layer.make("Conv2d", out_channels=4, kernel_size=3),
        Layer.make("AdaptiveAvgPool2d", output_size=1),
        Layer.make("BatchNorm2d"),  # one value per channel: no batch statistics in training
    )
    arch = Architecture("one value per channel", InputShape(1, 8, 8), layers)
    with pytest.raises(ComputeError, match=r"^layer 2 BatchNorm2d failed: Expected more than 1"):
        ForwardRunner().run(request(arch, train_mode=True))


@pytest.mark.parametrize("kind", ["writable", "read-only", "float64", "strided"])
def test_the_request_image_is_only_read_whatever_array_it_is(kind, recwarn):
    arch = load_preset("interview")
    base = np.random.default_rng(4).random((1, 28, 56), dtype=np.float32)
    image = {
        "writable": base[:, :, :28].copy(),
        "read-only": base[:, :, :28].copy(),
        "float64": base[:, :, :28].astype(np.float64),
        "strided": base[:, :, ::2],
    }[kind]
    image.flags.writeable = kind != "read-only"
    before = image.copy()
    result = ForwardRunner().run(ForwardRequest(1, arch, image))
    np.testing.assert_array_equal(image, before)
    np.testing.assert_array_equal(result.input, before.astype(np.float32))
    expected = ForwardRunner().run(ForwardRequest(1, arch, before.astype(np.float32)))
    np.testing.assert_array_equal(result.layers[-1].output, expected.layers[-1].output)
    assert not [w for w in recwarn if "writable" in str(w.message)]
