"""`cnnviz weights list | download`: what is in the hub cache, and fetching one offline-safe."""

from __future__ import annotations

import hashlib
import json

import pytest

from cnnviz.cli import main
from cnnviz.core import hub_files
from cnnviz.core.hub_files import HubFile


def cli(capsys, *args):
    code = main(["weights", *args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    return tmp_path / "torch" / "hub" / "checkpoints"


def test_list_says_which_files_are_there_and_their_sizes(capsys, home):
    home.mkdir(parents=True)
    (home / "resnet18-f37072fd.pth").write_bytes(b"x" * 1_500_000)
    code, out, _ = cli(capsys, "list")
    assert code == 0
    assert out.splitlines()[0] == f"torch hub cache: {home}"
    resnet = next(line for line in out.splitlines() if line.strip().startswith("resnet18"))
    assert "resnet18-f37072fd.pth" in resnet and "46.8 MB" in resnet
    assert resnet.endswith("present (1.5 MB)")
    vgg = next(line for line in out.splitlines() if line.strip().startswith("vgg16"))
    assert vgg.endswith("not downloaded")
    code, out, _ = cli(capsys, "list", "--json")
    rows = {row["name"]: row for row in json.loads(out)}
    assert set(rows) == {"alexnet", "vgg11", "vgg16", "resnet18", "mobilenet_v2"}
    assert rows["resnet18"]["present"] is True and rows["resnet18"]["bytes"] == 1_500_000
    assert rows["vgg16"] == {
        "name": "vgg16",
        "network": "VGG-16",
        "file": "vgg16-397923af.pth",
        "size": "553.4 MB",
        "present": False,
        "bytes": None,
        "path": str(home / "vgg16-397923af.pth"),
        "url": "https://download.pytorch.org/models/vgg16-397923af.pth",
    }


def test_download_fetches_into_the_hub_cache(capsys, home, tmp_path, monkeypatch):
    payload = b"checkpoint bytes" * 1000
    prefix = hashlib.sha256(payload).hexdigest()[:8]
    server = tmp_path / "server"
    server.mkdir()
    (server / f"resnet18-{prefix}.pth").write_bytes(payload)
    monkeypatch.setattr(hub_files, "_BASE_URL", server.as_uri() + "/")
    toy = HubFile("resnet18", "ResNet-18", f"resnet18-{prefix}.pth", 0.1)
    monkeypatch.setitem(hub_files.HUB_FILES, "resnet18", toy)
    code, out, err = cli(capsys, "download", "ResNet-18")
    assert code == 0, err
    assert (home / toy.file).read_bytes() == payload
    assert (
        out.splitlines()[-1] == f"saved {home / toy.file}; the ResNet-18 preset uses it from now on"
    )
    code, out, _ = cli(capsys, "download", "resnet18")
    assert code == 0 and out == f"{toy.file} is already in {home}\n"


def test_download_offline_is_one_line_saying_where_to_place_the_file(capsys, home, monkeypatch):
    monkeypatch.setattr(hub_files, "_BASE_URL", "file:///nonexistent/")
    code, _, err = cli(capsys, "download", "mobilenet_v2")
    assert code == 2
    assert err.count("\n") == 1
    assert err.startswith("cnnviz weights: error: could not download mobilenet_v2-b0353104.pth: ")
    assert err.rstrip().endswith(
        "download file:///nonexistent/mobilenet_v2-b0353104.pth and place it as "
        f"{home / 'mobilenet_v2-b0353104.pth'}"
    )
    assert not any(home.iterdir())


def test_an_unknown_name_lists_the_known_ones(capsys, home):
    code, _, err = cli(capsys, "download", "resnet50")
    assert code == 2
    assert err == (
        "cnnviz weights: error: no ImageNet weights named 'resnet50' "
        "(known: mobilenet_v2, resnet18, alexnet, vgg11, vgg16)\n"
    )
