"""Where torchvision's checkpoints are looked for, found as torch.hub finds them."""

from __future__ import annotations

import pytest
import torch.hub

from cnnviz.core import hub_files
from cnnviz.core.presets import load_preset, weights_path


@pytest.mark.parametrize(
    "env",
    [
        {"TORCH_HOME": "/tmp/th"},
        {"XDG_CACHE_HOME": "/tmp/xdg"},
        {"TORCH_HOME": "~/th", "XDG_CACHE_HOME": "/tmp/xdg"},
        {},
    ],
)
def test_hub_dir_is_torch_hubs(monkeypatch, env):
    for name in ("TORCH_HOME", "XDG_CACHE_HOME"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert str(hub_files.hub_dir()) == torch.hub.get_dir()


def test_names_and_hash_prefixes_follow_torchvision():
    resnet = hub_files.find("ResNet-18")
    assert resnet is hub_files.find("resnet18-f37072fd.pth") is hub_files.find("resnet18")
    assert resnet.url == "https://download.pytorch.org/models/resnet18-f37072fd.pth"
    assert resnet.hash_prefix == "f37072fd"
    assert hub_files.find("alexnet").hash_prefix == "7be5be79"  # alexnet-owt-7be5be79.pth
    with pytest.raises(hub_files.UnknownHubFile, match="no ImageNet weights named 'resnet50'"):
        hub_files.find("resnet50")


@pytest.mark.parametrize("name", ["alexnet", "vgg11", "vgg16", "resnet18", "mobilenet_v2"])
def test_a_preset_uses_its_checkpoint_only_when_the_file_is_there(monkeypatch, tmp_path, name):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    arch = load_preset(name)
    hub_file = hub_files.declared(arch.metadata)
    assert hub_file is hub_files.find(name)
    assert weights_path(arch) is None
    path = tmp_path / "hub" / "checkpoints" / hub_file.file
    path.parent.mkdir(parents=True)
    path.write_bytes(b"")
    assert weights_path(arch) == path


def test_place_by_hand_says_which_file_goes_where(monkeypatch, tmp_path):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    line = hub_files.place_by_hand(hub_files.find("resnet18"))
    assert line == (
        "download https://download.pytorch.org/models/resnet18-f37072fd.pth and place it as "
        f"{tmp_path}/hub/checkpoints/resnet18-f37072fd.pth"
    )
