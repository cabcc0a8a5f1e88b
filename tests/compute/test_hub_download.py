"""Downloading torchvision's checkpoints: hash prefix, progress, cancel, offline; no network.

A stand-in checkpoint is served from a file:// URL, under a file name whose
hash prefix is that of the bytes served (or deliberately not).
"""

from __future__ import annotations

import hashlib

import pytest

from cnnviz.compute import hub_download
from cnnviz.compute.downloads import DownloadCancelled, DownloadError
from cnnviz.core import hub_files
from cnnviz.core.hub_files import HubFile

PAYLOAD = bytes(range(256)) * 2000  # 512 000 bytes: several chunks


@pytest.fixture
def served(tmp_path, monkeypatch):
    """A HubFile whose URL serves PAYLOAD, with the right hash prefix; TORCH_HOME in tmp."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    server = tmp_path / "server"
    server.mkdir()
    monkeypatch.setattr(hub_files, "_BASE_URL", server.as_uri() + "/")

    def serve(payload: bytes = PAYLOAD, claimed: bytes = PAYLOAD) -> HubFile:
        prefix = hashlib.sha256(claimed).hexdigest()[:8]
        hub_file = HubFile("toy", "Toy", f"toy-{prefix}.pth", 0.5)
        (server / hub_file.file).write_bytes(payload)
        return hub_file

    return serve


def checkpoints(tmp_path) -> list[str]:
    folder = tmp_path / "torch" / "hub" / "checkpoints"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


@pytest.mark.parametrize("with_progress", [False, True])
def test_arrives_checked_in_the_hub_cache(tmp_path, served, with_progress):
    hub_file = served()
    calls = []
    progress = (lambda *c: calls.append(c)) if with_progress else None
    path = hub_download.download(hub_file, progress)  # torch's downloader without callbacks
    assert path == tmp_path / "torch" / "hub" / "checkpoints" / hub_file.file
    assert path == hub_files.checkpoint_path(hub_file)
    assert path.read_bytes() == PAYLOAD
    assert checkpoints(tmp_path) == [hub_file.file]
    if with_progress:
        assert calls[0] == (hub_file.file, 0, len(PAYLOAD))
        assert calls[-1] == (hub_file.file, len(PAYLOAD), len(PAYLOAD))
        assert [c[1] for c in calls] == sorted(c[1] for c in calls)


@pytest.mark.parametrize("with_progress", [False, True])
def test_a_wrong_hash_prefix_is_one_line_and_leaves_nothing(tmp_path, served, with_progress):
    hub_file = served(payload=b"not the published file")
    progress = (lambda *c: None) if with_progress else None
    with pytest.raises(DownloadError, match="checksum mismatch") as caught:
        hub_download.download(hub_file, progress)
    message = str(caught.value)
    assert "\n" not in message
    assert f"place it as {hub_files.checkpoint_path(hub_file)}" in message
    assert checkpoints(tmp_path) == []  # no file, no partial file


def test_cancel_stops_and_leaves_nothing(tmp_path, served):
    hub_file = served()
    seen = []
    with pytest.raises(DownloadCancelled):
        hub_download.download(
            hub_file, progress=lambda *c: seen.append(c[1]), cancel=lambda: len(seen) > 2
        )
    assert 0 < seen[-1] < len(PAYLOAD)
    assert checkpoints(tmp_path) == []


def test_offline_says_which_file_to_place_where(tmp_path, served):
    hub_file = HubFile("toy", "Toy", "toy-0123abcd.pth", 0.5)  # nothing served under it
    with pytest.raises(DownloadError) as caught:
        hub_download.download(hub_file)
    message = str(caught.value)
    assert message.startswith("could not download toy-0123abcd.pth: ")
    assert message.endswith(
        f"download {hub_file.url} and place it as {hub_files.checkpoint_path(hub_file)}"
    )
    assert "\n" not in message


def test_a_file_already_there_is_used_as_it_is(tmp_path, served):
    hub_file = served()
    path = hub_files.checkpoint_path(hub_file)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"placed by hand")  # checked on download, not on every use (torch.hub)
    assert hub_download.download(hub_file) == path
    assert path.read_bytes() == b"placed by hand"
