"""Architecture files: round trip, and a clear error for every kind of bad file."""

from __future__ import annotations

import json

import pytest

from cnnviz.core.architecture import Architecture, ArchitectureError, Layer, load, loads, save
from cnnviz.core.catalogue import CATALOGUE, GROUPS, by_group
from cnnviz.core.presets import PRESETS, load_preset


def arch_json(**overrides):
    data = {
        "format": "cnnviz-architecture",
        "version": 1,
        "name": "t",
        "input": {"channels": 1, "height": 28, "width": 28},
        "layers": [{"type": "Conv2d", "out_channels": 4, "kernel_size": [3, 5]}],
    }
    data.update(overrides)
    return json.dumps(data)


@pytest.mark.parametrize("name", list(PRESETS))
def test_presets_round_trip(tmp_path, name):
    arch = load_preset(name)
    save(arch, tmp_path / "a.json")
    assert load(tmp_path / "a.json") == arch


def test_pairs_from_json_become_tuples_and_compare_equal():
    layer = loads(arch_json()).layers[0]
    assert layer.get("kernel_size") == (3, 5)
    assert layer == Layer.make("Conv2d", out_channels=4, kernel_size=(3, 5))


def test_defaults_are_torchs():
    conv = Layer.make("Conv2d", out_channels=1, kernel_size=3)
    assert conv.all_params() == {
        "out_channels": 1,
        "kernel_size": 3,
        "stride": 1,
        "padding": 0,
        "dilation": 1,
        "groups": 1,
        "bias": True,
        "padding_mode": "zeros",
    }
    assert Layer.make("MaxPool2d", kernel_size=2).get("stride") is None
    assert Layer.make("LeakyReLU").get("negative_slope") == 0.01


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "not valid JSON"),
        ("[]", "must hold a JSON object"),
        (arch_json(format="something"), "not a cnnviz architecture"),
        (arch_json(version=99), "newer cnnviz"),
        (arch_json(layers=[{"type": "Conv3d"}]), "layer 0: unknown layer type 'Conv3d'"),
        (
            arch_json(layers=[{"type": "Conv2d", "out_channels": 4}]),
            "Conv2d: kernel_size is required",
        ),
        (
            arch_json(layers=[{"type": "Conv2d", "out_channels": 4, "kernal_size": 3}]),
            "kernal_size is not a parameter of Conv2d",
        ),
        (
            arch_json(layers=[{"type": "Conv2d", "out_channels": 0, "kernel_size": 3}]),
            "out_channels must be at least 1",
        ),
        (
            arch_json(layers=[{"type": "MaxPool2d", "kernel_size": [2, 2, 2]}]),
            "kernel_size must be one number or (height, width)",
        ),
        (
            arch_json(
                layers=[{"type": "Conv2d", "out_channels": 4, "kernel_size": 3, "padding": "full"}]
            ),
            "'same' or 'valid'",
        ),
        (arch_json(layers=[{"type": "Dropout", "p": 1.5}]), "p must be at most 1"),
        (arch_json(layers=[{"type": "ReLU", "inplace": "yes"}]), "must be true or false"),
        (arch_json(input={"channels": 3, "height": 0, "width": 5}), "input height"),
        (arch_json(layers={}), '"layers" must be a list'),
    ],
)
def test_bad_files_name_the_problem(text, message):
    with pytest.raises(ArchitectureError) as info:
        loads(text)
    assert message in str(info.value)


def test_load_names_the_file(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text("{", encoding="utf-8")
    with pytest.raises(ArchitectureError, match="broken.json: not valid JSON"):
        load(path)
    with pytest.raises(ArchitectureError, match="missing.json"):
        load(tmp_path / "missing.json")
    (tmp_path / "bin.json").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ArchitectureError, match="bin.json"):
        load(tmp_path / "bin.json")


def test_save_is_atomic_and_keeps_metadata(tmp_path):
    arch = load_preset("tinyvgg")
    target = tmp_path / "tiny.json"
    save(arch, target)
    assert not list(tmp_path.glob("*.tmp"))
    assert load(target).classes == arch.classes and arch.classes[0] == "lifeboat"


def test_catalogue_covers_the_required_layers_with_explanations():
    required = {
        "Conv2d",
        "MaxPool2d",
        "AvgPool2d",
        "AdaptiveAvgPool2d",
        "BatchNorm2d",
        "Dropout",
        "Dropout2d",
        "LocalResponseNorm",
        "Flatten",
        "Linear",
        "ReLU",
        "LeakyReLU",
        "ELU",
        "GELU",
        "Sigmoid",
        "Tanh",
        "Softmax",
    }
    assert required <= set(CATALOGUE)
    for spec in CATALOGUE.values():
        assert spec.group in GROUPS
        assert len(spec.explanation) > 80, spec.name
    assert sum(len(v) for v in by_group().values()) == len(CATALOGUE)


def test_describe_shows_key_parameters():
    conv = Layer.make("Conv2d", out_channels=64, kernel_size=3, padding=1, stride=2)
    assert conv.describe() == "64, k3, s2, p1"
    assert Layer.make("MaxPool2d", kernel_size=(2, 3)).describe() == "k2×3"
    # ZeroPad2d's four sides, in torch's order (left, right, top, bottom), all shown
    assert Layer.make("ZeroPad2d", padding=(0, 1, 2, 3)).describe() == "p0,1,2,3"


def test_with_params_checks_values():
    conv = Layer.make("Conv2d", out_channels=8, kernel_size=3)
    assert conv.with_params(stride=2).get("stride") == 2
    with pytest.raises(ArchitectureError, match="stride"):
        conv.with_params(stride=0)


def test_architecture_equality_is_by_value():
    a = load_preset("lenet5")
    b = Architecture(
        a.name, a.input, tuple(Layer(x.type, dict(x.params)) for x in a.layers), dict(a.metadata)
    )
    assert a == b
