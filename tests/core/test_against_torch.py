"""The core's shapes and parameter counts agree exactly with torch.

Hypothesis generates random stacks (valid and invalid); each is run through
real torch modules built from the tensor torch actually receives, independent
of the core's shape inference. Every stack the core accepts, torch accepts with
the same shapes and parameter counts; every stack torch rejects, the core
rejects at the same layer.
"""

from __future__ import annotations

import math
import warnings

import pytest
import torch
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from cnnviz.core.analysis import analyze
from cnnviz.core.architecture import Architecture, InputShape, Layer
from cnnviz.core.presets import PRESETS, load_preset
from tests.torch_modules import torch_module

small = st.integers(1, 5)
pair = st.one_of(small, st.tuples(small, small))
pad = st.one_of(st.integers(0, 3), st.tuples(st.integers(0, 3), st.integers(0, 3)))


@st.composite
def conv_layer(draw):
    params = {
        "out_channels": draw(st.integers(1, 6)),
        "kernel_size": draw(pair),
        "stride": draw(
            st.one_of(st.integers(1, 3), st.tuples(st.integers(1, 3), st.integers(1, 3)))
        ),
        "dilation": draw(
            st.one_of(st.integers(1, 3), st.tuples(st.integers(1, 2), st.integers(1, 3)))
        ),
        "padding": draw(st.one_of(pad, st.sampled_from(["same", "valid"]))),
        "groups": draw(st.sampled_from([1, 1, 1, 2, 3])),
        "bias": draw(st.booleans()),
        "padding_mode": draw(
            st.sampled_from(["zeros", "zeros", "reflect", "replicate", "circular"])
        ),
    }
    return Layer.make("Conv2d", **params)


@st.composite
def pool_layer(draw):
    kind = draw(st.sampled_from(["MaxPool2d", "AvgPool2d"]))
    params = {
        "kernel_size": draw(pair),
        "stride": draw(st.one_of(st.none(), pair)),
        "padding": draw(pad),
        "ceil_mode": draw(st.booleans()),
    }
    if kind == "MaxPool2d":
        params["dilation"] = draw(
            st.one_of(st.integers(1, 3), st.tuples(st.integers(1, 2), st.integers(1, 2)))
        )
    else:
        params["count_include_pad"] = draw(st.booleans())
    return Layer.make(kind, **params)


@st.composite
def conv_transpose_layer(draw):
    stride = draw(st.one_of(st.integers(1, 3), st.tuples(st.integers(1, 3), st.integers(1, 3))))
    params = {
        "out_channels": draw(st.integers(1, 6)),
        "kernel_size": draw(pair),
        "stride": stride,
        "padding": draw(pad),
        "output_padding": draw(st.one_of(st.integers(0, 2), st.tuples(*[st.integers(0, 2)] * 2))),
        "dilation": draw(st.one_of(st.integers(1, 3), st.tuples(*[st.integers(1, 2)] * 2))),
        "groups": draw(st.sampled_from([1, 1, 2, 3])),
        "bias": draw(st.booleans()),
    }
    return Layer.make("ConvTranspose2d", **params)


@st.composite
def upsample_layer(draw):
    params = {"mode": draw(st.sampled_from(["nearest", "bilinear"]))}
    which = draw(st.sampled_from(["size", "scale_factor", "size", "scale_factor", "both", "none"]))
    if which in ("size", "both"):
        params["size"] = draw(st.one_of(st.integers(1, 12), st.tuples(*[st.integers(1, 12)] * 2)))
    if which in ("scale_factor", "both"):
        params["scale_factor"] = draw(
            st.one_of(st.sampled_from([0.5, 1.5, 2.0, 3.0]), st.floats(0.05, 4.0))
        )
    if draw(st.integers(0, 3)) == 0:  # refused for nearest, by torch and the core
        params["align_corners"] = draw(st.booleans())
    return Layer.make("Upsample", **params)


pad4 = st.one_of(st.integers(-3, 3), st.tuples(*[st.integers(-4, 3)] * 4))


def simple(type_name, **params):
    return st.just(Layer.make(type_name, **params))


any_layer = st.one_of(
    conv_layer(),
    conv_layer(),
    pool_layer(),
    st.builds(lambda s: Layer.make("AdaptiveAvgPool2d", output_size=s), pair),
    st.builds(
        lambda a, t: Layer.make("BatchNorm2d", affine=a, track_running_stats=t),
        st.booleans(),
        st.booleans(),
    ),
    st.builds(lambda n: Layer.make("LocalResponseNorm", size=n), st.integers(1, 5)),
    st.builds(lambda p: Layer.make("Dropout", p=p), st.floats(0, 1)),
    simple("Dropout2d", p=0.3),
    simple("Flatten"),
    st.builds(
        lambda n, b: Layer.make("Linear", out_features=n, bias=b), st.integers(1, 8), st.booleans()
    ),
    simple("ReLU"),
    simple("LeakyReLU", negative_slope=0.2),
    simple("ELU"),
    simple("GELU", approximate="tanh"),
    simple("Sigmoid"),
    simple("Tanh"),
    simple("ReLU6"),
    simple("SiLU"),
    simple("Hardswish"),
    simple("Identity"),
    conv_transpose_layer(),
    upsample_layer(),
    st.builds(lambda p: Layer.make("ZeroPad2d", padding=p), pad4),
    st.builds(lambda s: Layer.make("AdaptiveMaxPool2d", output_size=s), pair),
    st.builds(
        lambda g, a: Layer.make("GroupNorm", num_groups=g, affine=a),
        st.sampled_from([1, 1, 2, 3, 4, 6]),
        st.booleans(),
    ),
    st.builds(lambda d: Layer.make("Softmax", dim=d), st.sampled_from([None, 1, -1, 2, 3, -3])),
)

stacks = st.builds(
    lambda c, h, w, layers: Architecture("generated", InputShape(c, h, w), tuple(layers)),
    st.integers(1, 6),
    st.integers(1, 20),
    st.integers(1, 20),
    st.lists(any_layer, min_size=1, max_size=6),
)


def run_torch(arch: Architecture):
    """[(output shape without batch, weights, biases)] until torch fails, and the failing index."""
    x = torch.zeros(1, *arch.input.as_tuple())
    results = []
    for index, layer in enumerate(arch.layers):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                module = torch_module(layer, x).eval()
                with torch.no_grad():
                    x = module(x)
        except (RuntimeError, ValueError, IndexError):
            return results, index
        weights = sum(p.numel() for n, p in module.named_parameters() if n == "weight")
        biases = sum(p.numel() for n, p in module.named_parameters() if n == "bias")
        results.append((tuple(x.shape[1:]), weights, biases))
    return results, None


def _crops_everything(layer, shape) -> bool:
    """A ZeroPad2d whose negative padding leaves no row or column: torch gives
    an empty map for exactly 0, which no later layer can use."""
    if layer.type != "ZeroPad2d" or len(shape) != 3:
        return False
    padding = layer.get("padding")
    left, right, top, bottom = padding if isinstance(padding, tuple) else (padding,) * 4
    return shape[1] + top + bottom < 1 or shape[2] + left + right < 1


def _transposed_to_nothing(layer, shape) -> bool:
    """A ConvTranspose2d whose padding crops its output to 0 rows or columns:
    torch on the CPU returns an empty map (its meta device refuses), which no
    later layer can use."""
    if layer.type != "ConvTranspose2d" or len(shape) != 3:
        return False
    pair = lambda v: v if isinstance(v, tuple) else (v, v)  # noqa: E731
    kernel, stride, padding = (
        pair(layer.get("kernel_size")),
        pair(layer.get("stride")),
        pair(layer.get("padding")),
    )
    dilation, extra = pair(layer.get("dilation")), pair(layer.get("output_padding"))
    return any(
        (n - 1) * s - 2 * p + d * (k - 1) + e + 1 < 1
        for n, k, s, p, d, e in zip(
            shape[1:], kernel, stride, padding, dilation, extra, strict=True
        )
    )


def core_is_deliberately_stricter(info) -> bool:
    """Torch accepts Dropout2d on a vector (deprecated, a future error),
    AdaptiveAvgPool2d on a batch of vectors (pooling across the batch as if it
    were height), ZeroPad2d on a vector (it pads the batch axis), and a ZeroPad2d
    or ConvTranspose2d that leaves an empty map; the core rejects these with a
    clear reason."""
    on_vector = len(info.input_shape) == 1
    if info.layer.type in ("Dropout2d", "AdaptiveAvgPool2d", "ZeroPad2d") and on_vector:
        return True
    return _crops_everything(info.layer, info.input_shape) or _transposed_to_nothing(
        info.layer, info.input_shape
    )


def check_against_torch(arch: Architecture) -> None:
    analysis = analyze(arch)
    torch_results, torch_failed_at = run_torch(arch)
    first_error = analysis.first_error
    if first_error is not None and core_is_deliberately_stricter(first_error):
        arch = arch.with_layers(arch.layers[: first_error.index])
        analysis = analyze(arch)
        torch_results = torch_results[: first_error.index]
        torch_failed_at = (
            None
            if torch_failed_at is None or torch_failed_at >= first_error.index
            else torch_failed_at
        )
    core_failed_at = analysis.first_error.index if analysis.first_error else None
    assert core_failed_at == torch_failed_at, (
        f"core fails at {core_failed_at} ({analysis.first_error and analysis.first_error.error}),"
        f" torch at {torch_failed_at}: {arch.layers}"
    )
    for info, (shape, weights, biases) in zip(analysis.layers, torch_results, strict=False):
        assert info.output_shape == shape, (info.index, info.layer)
        assert (info.weights, info.biases) == (weights, biases), (info.index, info.layer)


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stacks)
@example(  # batch statistics of a 1x1 map of one image: one value per channel
    Architecture("bn", InputShape(2, 1, 1), (Layer.make("BatchNorm2d", track_running_stats=False),))
)
@example(  # torch's CPU kernel returns an empty 0×0 map here; the core refuses it
    Architecture(
        "empty",
        InputShape(2, 2, 1),
        (Layer.make("ConvTranspose2d", out_channels=2, kernel_size=(1, 2), padding=1, groups=2),),
    )
)
def test_random_stacks_agree_with_torch(arch):
    check_against_torch(arch)


@pytest.mark.parametrize("tracking", [True, False])
@pytest.mark.parametrize("hw", [(1, 1), (1, 2), (2, 1), (3, 3)])
@pytest.mark.parametrize("before", [(), ("AdaptiveAvgPool2d",)])
def test_batchnorm_needs_two_values_per_channel_without_running_stats(tracking, hw, before):
    """Torch (eval mode, batch 1) refuses batch statistics of one value per channel;
    with running statistics any map size works. The core agrees in every case."""
    layers = [Layer.make(name, output_size=1) for name in before]
    layers.append(Layer.make("BatchNorm2d", track_running_stats=tracking))
    arch = Architecture("bn", InputShape(3, *hw), tuple(layers))
    check_against_torch(arch)
    one_value = not tracking and (before or hw == (1, 1))
    assert analyze(arch).valid is not one_value


@pytest.mark.parametrize("name", ["interview", "lenet5", "tinyvgg"])
def test_small_presets_agree_with_torch(name):
    check_against_torch(load_preset(name))


def parameter_count_of_torch(arch: Architecture) -> int:
    """Build the real modules on the meta device: no memory for VGG's weights."""
    analysis = analyze(arch)
    total = 0
    with torch.device("meta"):
        for info in analysis.layers:
            x = torch.empty(1, *info.input_shape)
            total += sum(p.numel() for p in torch_module(info.layer, x).parameters())
    return total


@pytest.mark.parametrize(
    ("name", "expected"),
    # Known totals of torchvision's models and LeCun's LeNet-5.
    [("vgg16", 138_357_544), ("vgg11", 132_863_336), ("alexnet", 61_100_840), ("lenet5", 61_706)],
)
def test_classic_parameter_counts(name, expected):
    arch = load_preset(name)
    assert analyze(arch).total_params == expected
    assert parameter_count_of_torch(arch) == expected


def test_every_preset_is_valid_and_listed():
    for name in PRESETS:
        analysis = analyze(load_preset(name))
        assert analysis.valid, analysis.first_error
        assert math.prod(analysis.output_shape) >= 10


# The layers whose MACs torch's own flop counter counts (2 FLOPs per MAC).
COUNTED_BY_TORCH = ("Conv2d", "ConvTranspose2d", "Linear")


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stacks)
def test_macs_are_what_torchs_flop_counter_counts(arch):
    from torch.utils.flop_counter import FlopCounterMode

    for info in analyze(arch).layers:
        if not info.computable or info.layer.type not in COUNTED_BY_TORCH:
            continue
        x = torch.zeros(1, *info.input_shape)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            module = torch_module(info.layer, x)
            with FlopCounterMode(display=False) as counter, torch.no_grad():
                module(x)
        assert 2 * info.macs == counter.get_total_flops(), (info.layer, info.input_shape)
