"""The memory estimate's parts are what torch holds, byte for byte; the budget and messages.

Weights against the built model's state dict, kept outputs against the arrays
of a real hooked forward (both ways the forward keeps them), filter copies
and input against the result, on the presets and on generated stacks. The
total against measured peaks is tests/compute/test_memory_measured.py.
"""

from __future__ import annotations

import random
from unittest import mock

import numpy as np
import pytest

from cnnviz.compute import forward as forward_module
from cnnviz.compute.runner import ForwardRunner
from cnnviz.core.analysis import analyze
from cnnviz.core.architecture import Architecture, InputShape, Layer
from cnnviz.core.jobs import ForwardRequest
from cnnviz.core.memory import (
    BUDGET_ENV,
    DEFAULT_LIMIT,
    MemoryBudget,
    available_memory,
    estimate,
    format_bytes,
    is_refusal,
    memory_budget,
    parse_size,
    refusal,
)
from cnnviz.core.presets import PRESETS, load_preset

GiB = 1 << 30


def unique_bytes(layers) -> int:
    """Bytes of the result's outputs, counting once what a layer shares with the one before."""
    total, previous = 0, None
    for layer in layers:
        if previous is None or not np.shares_memory(previous, layer.output):
            total += layer.output.nbytes
        previous = layer.output
    return total


def measured_parts(arch: Architecture, train_mode: bool = False) -> dict[str, int]:
    runner = ForwardRunner()
    image = np.random.default_rng(0).random(arch.input.as_tuple(), dtype=np.float32)
    result = runner.run(ForwardRequest(1, arch, image, train_mode=train_mode))
    state = runner.keeper.model.state_dict().values()
    filters = [a for pair in result.filters.values() for a in pair if a is not None]
    return {
        "weights": sum(t.numel() * t.element_size() for t in state),
        "outputs": unique_bytes(result.layers),
        "filter_copies": sum(a.nbytes for a in filters),
        "input": result.input.nbytes,
    }


def assert_parts_agree(arch: Architecture, train_mode: bool = False) -> None:
    memory = estimate(analyze(arch), train_mode)
    expected = {k: v for k, v in memory.breakdown().items() if k != "working"}
    for copy_as_made in (False, True):  # the forward's two ways of keeping outputs
        threshold = 0 if copy_as_made else 1 << 40
        with mock.patch.object(forward_module, "COPY_AS_MADE_FROM", threshold):
            assert measured_parts(arch, train_mode) == expected, (arch.name, copy_as_made)
    assert memory.total >= memory.weights + memory.outputs + memory.filters + memory.input


@pytest.mark.parametrize("name", [p for p in PRESETS if p not in ("vgg11", "vgg16")])
def test_parts_are_what_torch_holds_for_the_presets(name):
    assert_parts_agree(load_preset(name))


@pytest.mark.slow
@pytest.mark.parametrize("name", ["vgg11", "vgg16"])
def test_parts_are_what_torch_holds_for_the_big_presets(name):
    assert_parts_agree(load_preset(name))


def random_stack(rng: random.Random) -> Architecture:
    """A valid stack of every kind of layer, at a few sizes."""
    side = rng.choice([9, 16, 23, 40])
    channels = rng.choice([1, 3, 4])
    maps = [  # the conv first: its groups divide the input's channels
        Layer.make("Conv2d", out_channels=rng.choice([4, 8]), kernel_size=rng.choice([1, 3]),
                   padding=rng.choice([0, 1]), stride=rng.choice([1, 2]),
                   groups=rng.choice([1, 2]) if channels % 2 == 0 else 1,
                   padding_mode=rng.choice(["zeros", "reflect"])),
        Layer.make("BatchNorm2d", track_running_stats=rng.random() < 0.8,
                   affine=rng.random() < 0.8),
        Layer.make(rng.choice(["ReLU", "LeakyReLU", "ELU", "GELU", "Sigmoid", "Tanh"])),
        Layer.make("MaxPool2d", kernel_size=2, ceil_mode=True),
        Layer.make("LocalResponseNorm", size=3),
        Layer.make("Dropout2d", p=0.3),
        Layer.make("AvgPool2d", kernel_size=2, ceil_mode=True),
        Layer.make("ConvTranspose2d", out_channels=rng.choice([2, 4]),
                   kernel_size=rng.choice([1, 2, 3]), stride=rng.choice([1, 2]),
                   padding=rng.choice([0, 1]), output_padding=rng.choice([0, 1])),
        Layer.make("GroupNorm", num_groups=rng.choice([1, 2]), affine=rng.random() < 0.8),
        Layer.make(rng.choice(["ReLU6", "SiLU", "Hardswish", "Identity"])),
        Layer.make("Upsample", scale_factor=rng.choice([1.0, 2.0, 1.5]),
                   mode=rng.choice(["nearest", "bilinear"])),
        Layer.make("ZeroPad2d", padding=rng.choice([0, 1, (1, 0, 2, -1)])),
    ]  # fmt: skip
    layers = [m for m in maps if rng.random() < 0.7]
    pool = rng.choice(["AdaptiveAvgPool2d", "AdaptiveMaxPool2d"])
    tail = [Layer.make(pool, output_size=rng.choice([1, 3, (2, 5)])), Layer.make("Flatten")]
    tail += [Layer.make("Dropout", p=0.5), Layer.make("Linear", out_features=rng.choice([2, 7]))]
    tail += [Layer.make("Softmax")] if rng.random() < 0.5 else []
    return Architecture("random", InputShape(channels, side, side), tuple(layers + tail))


def test_parts_are_what_torch_holds_for_generated_stacks():
    rng = random.Random(14)
    checked = 0
    while checked < 40:
        arch = random_stack(rng)
        if not analyze(arch).valid:
            continue
        assert_parts_agree(arch, train_mode=checked % 3 == 0)
        checked += 1


def test_what_the_issue_measured():
    vgg16 = load_preset("vgg16")
    for side, outputs_gib in ((2048, 8.9), (4096, 35.7)):
        memory = estimate(analyze(vgg16.with_input(InputShape(3, side, side))))
        assert round(memory.outputs / GiB, 1) == outputs_gib  # the buffer it asked for
    huge = Architecture(
        "huge",
        InputShape(3, 224, 224),
        (Layer.make("Flatten"), Layer.make("Linear", out_features=10**6)),
    )
    memory = estimate(analyze(huge))
    assert memory.weights == (3 * 224 * 224 + 1) * 10**6 * 4
    assert memory.dominant_phrase() == "layer 1 Linear needs 602 GB of weights"


def test_a_big_early_layer_dominates_by_its_output_and_working_memory():
    vgg16 = load_preset("vgg16").with_input(InputShape(3, 2048, 2048))
    memory = estimate(analyze(vgg16))
    assert memory.dominant.index == 2  # the second 64-channel convolution at full size
    assert memory.dominant_phrase().startswith("layer 2 Conv2d needs ")
    assert "for its output" in memory.dominant_phrase()


def test_an_invalid_layer_and_those_after_it_cost_nothing():
    layers = (
        Layer.make("Conv2d", out_channels=2, kernel_size=3),
        Layer.make("MaxPool2d", kernel_size=9),
        Layer.make("Linear", out_features=10**6),
    )
    arch = Architecture("cut", InputShape(1, 8, 8), layers)
    memory = estimate(analyze(arch))
    assert [m.index for m in memory.layers] == [0]


def test_sizes_are_written_and_read_in_plain_units():
    assert format_bytes(812_000) == "812 kB"
    assert format_bytes(65_699_744) == "66 MB"
    assert format_bytes(2.4e9) == "2.4 GB"
    assert format_bytes(12) == "12 bytes"
    assert parse_size("500MB") == 500_000_000
    assert parse_size("2 GiB") == 2 * GiB
    assert parse_size("1.5g") == 1_500_000_000
    assert parse_size("4096") == 4096
    with pytest.raises(ValueError):
        parse_size("lots")


def test_the_budget_is_a_share_of_what_the_system_has_free(tmp_path, monkeypatch):
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal: 16000000 kB\nMemFree: 100 kB\nMemAvailable: 8000000 kB\n")
    assert available_memory(meminfo) == 8_000_000 * 1024
    monkeypatch.setattr("cnnviz.core.memory.available_memory", lambda: 8 * GiB)
    budget = memory_budget({})
    assert budget.free == 8 * GiB and budget.limit == 6 * GiB
    assert memory_budget({BUDGET_ENV: "10MB"}) == MemoryBudget(10_000_000, None, BUDGET_ENV)
    assert memory_budget({BUDGET_ENV: "plenty"}).limit == 6 * GiB  # unreadable: ignored
    monkeypatch.setattr("cnnviz.core.memory.available_memory", lambda: None)
    assert memory_budget({}).limit == DEFAULT_LIMIT


def test_without_proc_meminfo_psutil_or_nothing(tmp_path, monkeypatch):
    missing = tmp_path / "nope"
    fake = mock.Mock()
    fake.virtual_memory.return_value.available = 123_000_000
    monkeypatch.setitem(__import__("sys").modules, "psutil", fake)
    assert available_memory(missing) == 123_000_000
    monkeypatch.setitem(__import__("sys").modules, "psutil", None)  # not installed
    assert available_memory(missing) is None


def test_the_refusal_is_one_line_naming_the_layer_and_what_is_free():
    vgg11 = estimate(analyze(load_preset("vgg11")))
    line = refusal(vgg11, MemoryBudget(3 * GiB, 4 * GiB, "available memory"))
    assert line == (
        "not enough free memory: layer 23 Linear needs 411 MB of weights, the whole run "
        "about 660 MB; about 4.3 GB is free (cnnviz may use 3.2 GB)"
    )
    assert is_refusal(line) and "\n" not in line
    line = refusal(vgg11, MemoryBudget(10_000_000, None, BUDGET_ENV))
    assert line.endswith(f"the memory limit ({BUDGET_ENV}) is 10 MB")
    assert not is_refusal("out of memory: layer 3 Linear could not get 16 GB")


def test_each_type_declares_its_working_memory_in_its_module():
    """The kernels' working memory comes from each type's MemoryRule: a
    transposed convolution's two outputs and weights (one output when 1×1),
    an adaptive max pool's int64 indices, nothing for an Upsample or GroupNorm
    (their sizes measured in tests/compute/test_memory_measured.py)."""

    def working(layer: Layer, shape=(4, 8, 8)) -> int:
        memory = estimate(analyze(Architecture("one", InputShape(*shape), (layer,))))
        return memory.layers[0].workspace

    out = 4 * 16 * 16 * 4  # 4×16×16 float32
    weights = (4 * 4 * 2 * 2 + 4) * 4
    assert working(Layer.make("ConvTranspose2d", out_channels=4, kernel_size=2, stride=2)) == (
        2 * out + weights
    )
    assert working(Layer.make("ConvTranspose2d", out_channels=4, kernel_size=1)) == 4 * 64 * 4
    assert working(Layer.make("AdaptiveMaxPool2d", output_size=3)) == 2 * 4 * 9 * 4
    assert working(Layer.make("Upsample", scale_factor=2.0)) == 0
    assert working(Layer.make("GroupNorm", num_groups=2)) == 0
    identity = estimate(analyze(Architecture("id", InputShape(4, 8, 8), (Layer.make("Identity"),))))
    assert identity.outputs == 0  # torch hands on the input tensor itself
