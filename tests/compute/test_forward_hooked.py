"""The hooked forward against plain torch: same activations, real copies, true stats."""

from __future__ import annotations

import itertools
from unittest import mock

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from torch import nn

from cnnviz.compute import forward as forward_module
from cnnviz.compute.caches import BufferPool
from cnnviz.compute.forward import (
    Cancelled,
    LayerFailure,
    class_probabilities,
    layer_outputs,
    record_forward,
)
from cnnviz.compute.model import build_model
from cnnviz.core.analysis import analyze
from cnnviz.core.architecture import Architecture, InputShape, Layer
from cnnviz.core.jobs import LayerActivation
from cnnviz.core.presets import load_preset
from tests.torch_modules import torch_module


def plain_sequential(arch: Architecture) -> nn.Sequential:
    """The stack built with torch alone: sizes from running torch, not from cnnviz."""
    x = torch.zeros(1, *arch.input.as_tuple())
    modules = []
    for layer in arch.layers:
        module = torch_module(layer, x).eval()
        with torch.no_grad():
            x = module(x)
        modules.append(module)
    return nn.Sequential(*modules).eval()


def randomize(model: nn.Module, seed: int) -> None:
    """Every parameter and batch-norm statistic random, so no layer is an identity."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if tensor.is_floating_point():
                values = torch.rand(tensor.shape, generator=gen) * 0.6 - 0.3
                if name.endswith("running_var"):
                    values = values.abs() + 0.5
                tensor.copy_(values)


def plain_activations(plain: nn.Sequential, image: np.ndarray) -> list[np.ndarray]:
    outputs = []
    hooks = [
        m.register_forward_hook(lambda _m, _i, out: outputs.append(out.detach().clone()))
        for m in plain
    ]
    with torch.no_grad():
        plain(torch.from_numpy(image).unsqueeze(0))
    for hook in hooks:
        hook.remove()
    return [o[0].numpy() for o in outputs]


def hooked(model: nn.Sequential, image: np.ndarray, sizes=None):
    """record_forward; with ``sizes`` each output is copied as it is made."""
    model.eval()
    x = torch.from_numpy(image.copy()).unsqueeze(0)
    return record_forward(model, x, image, sizes=sizes)


@pytest.fixture(params=["recorded", "copied as made"])
def path(request, monkeypatch):
    """Both ways of recording: small nets use the first, large ones the second."""
    if request.param == "copied as made":
        monkeypatch.setattr(forward_module, "COPY_AS_MADE_FROM", 0)
    return request.param


def output_sizes(model: nn.Sequential, image: np.ndarray) -> list[int]:
    """Each layer's output size, measured with torch itself."""
    sizes = []
    with torch.no_grad():
        h = torch.from_numpy(image.copy()).unsqueeze(0)
        for module in model:
            h = module(h).clone()
            sizes.append(h[0].numel())
    return sizes


def assert_same_as_plain(arch: Architecture, seed: int, path: str = "recorded") -> None:
    model = build_model(arch, seed)
    randomize(model, seed)
    plain = plain_sequential(arch)
    plain.load_state_dict(model.state_dict())
    image = np.random.default_rng(seed).random(arch.input.as_tuple(), dtype=np.float32)
    sizes = output_sizes(plain, image) if path == "copied as made" else None
    layers = hooked(model, image, sizes)
    expected = plain_activations(plain, image)
    assert len(layers) == len(expected) == len(arch.layers)
    for layer, want in zip(layers, expected, strict=True):
        assert layer.type == arch.layers[layer.index].type
        assert layer.output.dtype == np.float32
        assert layer.output.shape == want.shape
        np.testing.assert_allclose(layer.output, want, rtol=1e-5, atol=1e-6)
        assert layer.stats.minimum == pytest.approx(float(want.min()), abs=1e-6)
        assert layer.stats.maximum == pytest.approx(float(want.max()), abs=1e-6)
        mean = float(want.astype(np.float64).mean())
        assert layer.stats.mean == pytest.approx(mean, rel=1e-6, abs=1e-6)
        assert layer.stats.zero_fraction == pytest.approx(float(np.mean(want == 0)), abs=1e-9)


@pytest.mark.parametrize(
    "name, size",
    [("lenet5", None), ("interview", None), ("tinyvgg", (3, 24, 24)), ("alexnet", (3, 67, 67))],
)
def test_presets_match_plain_torch(name, size, path):
    arch = load_preset(name)
    if size is not None:
        arch = arch.with_input(InputShape(*size))
    if name == "alexnet":  # keep the dense layers small: only the shapes matter here
        layers = list(arch.layers)
        for i, layer in enumerate(layers):
            if layer.type == "Linear" and i != len(layers) - 1:
                layers[i] = layer.with_params(out_features=16)
        arch = arch.with_layers(layers)
    assert_same_as_plain(arch, seed=3, path=path)


_ACTIVATIONS = st.sampled_from(
    [
        Layer.make("ReLU"),
        Layer.make("LeakyReLU", negative_slope=0.2),
        Layer.make("Tanh"),
        Layer.make("Sigmoid"),
        Layer.make("ELU"),
        Layer.make("GELU"),
        Layer.make("ReLU6"),
        Layer.make("SiLU"),
        Layer.make("Hardswish"),
    ]
)
# Types with no fast-path entry in layer_calls: they run through their modules.
_RESIZERS = st.sampled_from(
    [
        Layer.make("ConvTranspose2d", out_channels=3, kernel_size=3, stride=2, output_padding=1),
        Layer.make("ConvTranspose2d", out_channels=2, kernel_size=2, stride=2, padding=1),
        Layer.make("Upsample", scale_factor=2.0),
        Layer.make("Upsample", size=(7, 9), mode="bilinear", align_corners=True),
        Layer.make("Upsample", scale_factor=0.7, mode="bilinear"),
        Layer.make("ZeroPad2d", padding=(1, 0, 2, -1)),
        Layer.make("AdaptiveMaxPool2d", output_size=(3, 2)),
        Layer.make("GroupNorm", num_groups=1),
        Layer.make("Identity"),
    ]
)


@st.composite
def small_stacks(draw) -> Architecture:
    layers = []
    for _ in range(draw(st.integers(1, 4))):
        layers.append(
            Layer.make(
                "Conv2d",
                out_channels=draw(st.integers(1, 5)),
                kernel_size=draw(st.integers(1, 3)),
                stride=draw(st.integers(1, 2)),
                padding=draw(st.integers(0, 1)),
                dilation=draw(st.integers(1, 2)),
                padding_mode=draw(st.sampled_from(["zeros", "reflect", "circular"])),
            )
        )
        extra = draw(
            st.sampled_from(["act", "bn", "maxpool", "avgpool", "lrn", "drop", "new", "none"])
        )
        if extra == "new":
            layers.append(draw(_RESIZERS))
        elif extra == "act":
            layers.append(draw(_ACTIVATIONS))
        elif extra == "bn":
            layers.append(Layer.make("BatchNorm2d"))
        elif extra == "maxpool":
            layers.append(Layer.make("MaxPool2d", kernel_size=2, stride=draw(st.integers(1, 2))))
        elif extra == "avgpool":
            layers.append(Layer.make("AvgPool2d", kernel_size=2))
        elif extra == "lrn":
            layers.append(Layer.make("LocalResponseNorm", size=2))
        elif extra == "drop":
            layers.append(Layer.make("Dropout2d", p=0.5))
    if draw(st.booleans()):
        layers += [
            Layer.make("Flatten"),
            Layer.make("Linear", out_features=draw(st.integers(2, 6))),
        ]
        if draw(st.booleans()):
            layers.append(Layer.make("Softmax"))
    shape = InputShape(draw(st.integers(1, 3)), draw(st.integers(5, 16)), draw(st.integers(5, 16)))
    return Architecture("random", shape, tuple(layers))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(arch=small_stacks(), seed=st.integers(0, 1000), copy_as_made=st.booleans())
def test_random_stacks_match_plain_torch(arch, seed, copy_as_made):
    assume(analyze(arch).valid)
    with mock.patch.object(forward_module, "COPY_AS_MADE_FROM", 0):
        assert_same_as_plain(arch, seed, "copied as made" if copy_as_made else "recorded")


def test_outputs_are_copies_an_inplace_layer_cannot_overwrite(path):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(inplace=True), nn.Flatten()).eval()
    image = np.random.default_rng(1).standard_normal((1, 6, 6)).astype(np.float32)
    with torch.no_grad():
        conv_alone = model[0](torch.from_numpy(image)[None])[0].numpy().copy()
    layers = hooked(model, image, [32, 32, 32] if path == "copied as made" else None)
    np.testing.assert_array_equal(layers[2].output, np.maximum(conv_alone, 0).reshape(-1))
    assert conv_alone.min() < 0  # the case that matters: ReLU would have zeroed these
    np.testing.assert_array_equal(layers[0].output, conv_alone)
    np.testing.assert_array_equal(layers[1].output, np.maximum(conv_alone, 0))
    assert layers[0].stats.minimum == pytest.approx(float(conv_alone.min()))
    assert not np.shares_memory(layers[0].output, layers[1].output)


def test_arrays_share_no_memory_with_the_model_or_the_image_and_outlive_its_changes():
    model = build_model(load_preset("lenet5"), 0).eval()
    image = np.random.default_rng(2).random((1, 32, 32), dtype=np.float32)
    original = image.copy()
    x = torch.from_numpy(image).unsqueeze(0)  # no copy, as the runner does
    layers = record_forward(model, x, image)
    values = [layer.output.copy() for layer in layers]
    np.testing.assert_array_equal(image, original)  # the forward only read the image
    tensors = [t.detach().numpy() for t in itertools.chain(model.parameters(), model.buffers())]
    for layer in layers:
        assert not np.shares_memory(layer.output, image)
        assert not any(np.shares_memory(layer.output, t) for t in tensors)
    with torch.no_grad():  # what training does to the model, then another forward
        for parameter in model.parameters():
            parameter.mul_(-2.0)
    record_forward(model, torch.from_numpy(image).unsqueeze(0), image)
    for layer, before in zip(layers, values, strict=True):
        np.testing.assert_array_equal(layer.output, before)


def test_sizes_that_do_not_match_fall_back_to_recording(monkeypatch):
    monkeypatch.setattr(forward_module, "COPY_AS_MADE_FROM", 0)
    model = build_model(load_preset("lenet5"), 0).eval()
    image = np.random.default_rng(4).random((1, 32, 32), dtype=np.float32)
    wrong = [1] * len(model)  # far too small: the analysis and torch disagree
    layers = hooked(model, image, wrong)
    expected = plain_activations(model, image)
    for layer, want in zip(layers, expected, strict=True):
        np.testing.assert_array_equal(layer.output, want)


def test_results_held_elsewhere_are_never_overwritten_by_later_forwards():
    model = build_model(load_preset("lenet5"), 0).eval()
    pool = BufferPool()
    images = [np.random.default_rng(i).random((1, 32, 32), dtype=np.float32) for i in range(4)]
    held = []
    for image in images:
        x = torch.from_numpy(image.copy()).unsqueeze(0)
        held.append(record_forward(model, x, image, pool=pool))
    for image, layers in zip(images, held, strict=True):
        for layer, want in zip(layers, plain_activations(model, image), strict=True):
            np.testing.assert_array_equal(layer.output, want)


def test_each_layer_input_is_the_previous_output_object():
    model = build_model(load_preset("interview"), 0).eval()
    image = np.random.default_rng(3).random((1, 28, 28), dtype=np.float32)
    layers = hooked(model, image)
    assert layers[0].input is image
    for before, layer in itertools.pairwise(layers):
        assert layer.input is before.output


def test_cancelled_between_layers():
    model = build_model(load_preset("lenet5"), 0).eval()
    asked = []

    def cancel_at_third_check():
        asked.append(True)
        return len(asked) == 3

    with pytest.raises(Cancelled):
        layer_outputs(model, torch.zeros(1, 1, 32, 32), should_cancel=cancel_at_third_check)
    assert len(asked) == 3  # checked once before each layer, stopped before layer 2


def test_a_failing_layer_is_named():
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Linear(5, 3))  # 4 features, not 5
    with pytest.raises(LayerFailure, match=r"^layer 1 Linear failed: "):
        layer_outputs(model, torch.zeros(1, 1, 6, 6))


def scores_of(layer_type: str, values) -> LayerActivation:
    return LayerActivation(0, layer_type, np.asarray(values, dtype=np.float32))


def test_probabilities_are_torch_softmax_of_the_scores():
    scores = np.array([2.0, -1.0, 0.5, 3.0], dtype=np.float32)
    expected = torch.softmax(torch.from_numpy(scores), dim=0).numpy()
    probabilities = class_probabilities(scores_of("Linear", scores))
    np.testing.assert_allclose(probabilities, expected, rtol=1e-6)


def test_probabilities_of_a_softmax_layer_are_its_output():
    probs = np.array([0.2, 0.8], dtype=np.float32)
    np.testing.assert_array_equal(class_probabilities(scores_of("Softmax", probs)), probs)


def test_no_probabilities_for_feature_maps_a_single_value_or_scores_that_are_not_numbers():
    assert class_probabilities(scores_of("Conv2d", np.zeros((1, 4, 4)))) is None
    assert class_probabilities(scores_of("Linear", [0.0])) is None
    assert class_probabilities(scores_of("Linear", [1.0, np.nan, 0.0])) is None
    assert class_probabilities(scores_of("Linear", [1.0, np.inf, 0.0])) is None


def test_a_buffer_is_reused_only_once_nothing_refers_to_it():
    pool = BufferPool()
    first = pool.take(1000)
    view = first[10:20].reshape(2, 5)
    del first
    second = pool.take(1000)
    assert not np.shares_memory(view, second)  # the view still holds the first buffer
    del view
    third = pool.take(1000)
    assert np.shares_memory(third, pool._buffers[0]) or np.shares_memory(third, pool._buffers[1])
    assert not np.shares_memory(third, second)


def test_equal_shapes_with_different_sharing_keep_their_own_layouts():
    """Eval dropout passes its input on (one shared segment), train dropout makes
    a new tensor (its own segment): same shapes, so the cached layouts must be
    told apart by sharing, whichever was seen first."""
    torch.manual_seed(3)
    model = nn.Sequential(nn.Linear(6, 8), nn.Dropout(0.5), nn.ReLU(), nn.Flatten())
    image = np.random.default_rng(3).random(6, dtype=np.float32)
    x = torch.from_numpy(image).unsqueeze(0)
    for training in (False, True, False, True):
        model.train(training)
        layers = record_forward(model, x, image, seed=11)
        torch.manual_seed(11)  # what record_forward seeds dropout with
        with torch.no_grad():
            expected = list(itertools.accumulate(model, lambda h, m: m(h), initial=x))[1:]
        for layer, want in zip(layers, expected, strict=True):
            np.testing.assert_array_equal(layer.output, want[0].numpy())
            assert layer.stats.maximum == want.max().item()
            assert layer.stats.zero_fraction == (want == 0).float().mean().item()
        dropped = (layers[1].output == 0) & (layers[0].output != 0)
        assert dropped.any() == training  # train mode did drop values
