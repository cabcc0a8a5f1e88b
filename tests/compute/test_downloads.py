"""Downloads: checksums, atomic files, mirrors, progress and a clear error offline.

Every test serves files it wrote itself through file:// URLs or a stand-in
opener; nothing here touches the network.
"""

from __future__ import annotations

import hashlib
import io
import re
import urllib.error
from typing import ClassVar

import pytest

from cnnviz.compute import downloads
from cnnviz.compute.downloads import DownloadError, RemoteDataset, RemoteFile, fetch


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CNNVIZ_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def served(tmp_path, name: str, payload: bytes) -> tuple[str, str]:
    """A file:// URL serving `payload`, and its sha256."""
    source = tmp_path / "server" / name
    source.parent.mkdir(exist_ok=True)
    source.write_bytes(payload)
    return source.as_uri(), hashlib.sha256(payload).hexdigest()


def dataset(*files: RemoteFile) -> RemoteDataset:
    return RemoteDataset("toy", "Toy", files, "https://example.org/toy")


def test_files_arrive_verified_in_the_cache_with_progress(tmp_path, cache):
    payload = bytes(range(256)) * 1000  # several chunks
    url, digest = served(tmp_path, "a.bin", payload)
    calls = []
    paths = fetch(dataset(RemoteFile("a.bin", digest, (url,))), progress=lambda *c: calls.append(c))
    assert paths == [cache / "datasets" / "toy" / "a.bin"]
    assert paths[0].read_bytes() == payload
    assert calls[0] == ("a.bin", 0, len(payload))
    assert calls[-1] == ("a.bin", len(payload), len(payload))
    assert [c[1] for c in calls] == sorted(c[1] for c in calls)
    assert downloads.is_cached(dataset(RemoteFile("a.bin", digest, (url,))))


def test_a_checksum_mismatch_leaves_nothing_behind(tmp_path, cache):
    url, _ = served(tmp_path, "a.bin", b"what the server sends")
    wanted = hashlib.sha256(b"what was published").hexdigest()
    with pytest.raises(DownloadError, match="checksum mismatch") as error:
        fetch(dataset(RemoteFile("a.bin", wanted, (url,))))
    assert "\n" not in str(error.value)
    assert list((cache / "datasets" / "toy").iterdir()) == []  # no file, no .part


def test_the_next_mirror_is_tried_when_one_fails(tmp_path, cache):
    url, digest = served(tmp_path, "a.bin", b"payload")
    missing = (tmp_path / "server" / "gone.bin").as_uri()
    [path] = fetch(dataset(RemoteFile("a.bin", digest, (missing, url))))
    assert path.read_bytes() == b"payload"


def test_offline_gives_one_line_saying_what_to_do(cache):
    def offline(url):
        raise urllib.error.URLError(OSError(101, "Network is unreachable"))

    remote = RemoteFile("a.bin", "0" * 64, ("https://example.org/a.bin",))
    with pytest.raises(DownloadError) as error:
        fetch(dataset(remote), opener=offline)
    message = str(error.value)
    assert message.startswith("could not download Toy (a.bin): Network is unreachable")
    assert "check the network connection" in message
    assert str(cache / "datasets" / "toy") in message
    assert "\n" not in message


def test_a_broken_transfer_does_not_leave_a_partial_file(cache):
    class Broken(io.BytesIO):
        headers: ClassVar[dict] = {"Content-Length": "100"}

        def read(self, size=-1):
            if self.tell() >= 10:
                raise TimeoutError("timed out")
            return super().read(10)

    remote = RemoteFile("a.bin", "0" * 64, ("https://example.org/a.bin",))
    with pytest.raises(DownloadError, match="timed out"):
        fetch(dataset(remote), opener=lambda url: Broken(b"x" * 100))
    assert list((cache / "datasets" / "toy").iterdir()) == []


def test_files_already_in_the_cache_are_not_fetched_again(tmp_path, cache):
    url, digest = served(tmp_path, "a.bin", b"payload")
    remote = RemoteFile("a.bin", digest, (url,))
    fetch(dataset(remote))

    def no_network(url):
        raise AssertionError("the cache should have answered")

    [path] = fetch(dataset(remote), opener=no_network)
    assert path.read_bytes() == b"payload"


def test_cache_folder_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("CNNVIZ_CACHE_DIR", str(tmp_path / "mine"))
    assert downloads.cache_dir() == tmp_path / "mine"
    monkeypatch.delenv("CNNVIZ_CACHE_DIR")
    monkeypatch.setattr(downloads.sys, "platform", "linux")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert downloads.cache_dir() == tmp_path / "xdg" / "cnnviz"


def test_every_published_file_has_a_sha256_and_mirrors():
    assert set(downloads.REMOTE_DATASETS) == {"mnist", "fashion-mnist", "cifar10"}
    for remote in downloads.REMOTE_DATASETS.values():
        assert remote.files
        for f in remote.files:
            assert re.fullmatch("[0-9a-f]{64}", f.sha256)
            assert f.urls and all(u.startswith(("https://", "http://")) for u in f.urls)
            assert all(u.endswith("/" + f.name) for u in f.urls)
    mnist = {f.name for f in downloads.REMOTE_DATASETS["mnist"].files}
    assert mnist == {
        "train-images-idx3-ubyte.gz",
        "train-labels-idx1-ubyte.gz",
        "t10k-images-idx3-ubyte.gz",
        "t10k-labels-idx1-ubyte.gz",
    }
