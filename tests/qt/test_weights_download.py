"""Presets > Download ImageNet Weights…: size first, progress, cancel, hash check; no network.

The checkpoint is served from a file:// URL (or a stand-in that hands out its
bytes only when the test says), under a name whose hash prefix fits them or not.
"""

from __future__ import annotations

import hashlib
import io
import threading

import pytest
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMessageBox

from cnnviz.core import hub_files
from cnnviz.core.hub_files import HubFile
from cnnviz.core.presets import load_preset
from cnnviz.core.project import Project
from cnnviz.qt.window.main_window import MainWindow
from cnnviz.qt.window.weights_download import WeightsDownloadDialog, use_download
from tests.qt.fake_compute import FakeCompute

PAYLOAD = bytes(range(256)) * 1024


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    return tmp_path / "torch" / "hub" / "checkpoints"


def serve_as_resnet18(tmp_path, monkeypatch, payload: bytes, claimed: bytes) -> HubFile:
    """The resnet18 entry, pointed at `payload` under the hash prefix of `claimed`."""
    prefix = hashlib.sha256(claimed).hexdigest()[:8]
    toy = HubFile("resnet18", "ResNet-18", f"resnet18-{prefix}.pth", 0.25)
    server = tmp_path / "server"
    server.mkdir(exist_ok=True)
    (server / toy.file).write_bytes(payload)
    monkeypatch.setattr(hub_files, "_BASE_URL", server.as_uri() + "/")
    monkeypatch.setitem(hub_files.HUB_FILES, "resnet18", toy)
    return toy


def download(qtbot, dialog: WeightsDownloadDialog) -> None:
    dialog.download_button.click()
    job = dialog.job
    assert job is not None and dialog.download_button.text() == "Cancel"
    qtbot.waitUntil(lambda: dialog.job is None, timeout=10000)
    assert job.wait(5000)


def test_each_checkpoint_is_listed_with_its_size_before_any_download(qtbot, cache):
    cache.mkdir(parents=True)
    (cache / "alexnet-owt-7be5be79.pth").write_bytes(b"there")
    dialog = WeightsDownloadDialog("vgg16")
    qtbot.addWidget(dialog)
    texts = [dialog.list.item(i).text() for i in range(dialog.list.count())]
    assert "VGG-16 — vgg16-397923af.pth — 553.4 MB — not downloaded" in texts
    assert "AlexNet — alexnet-owt-7be5be79.pth — 244.4 MB — downloaded" in texts
    assert dialog.selected().key == "vgg16"
    assert dialog.download_button.text() == "Download 553.4 MB"
    assert dialog.download_button.isEnabled()
    dialog.list.setCurrentRow(texts.index(next(t for t in texts if t.startswith("AlexNet"))))
    assert not dialog.download_button.isEnabled()
    assert dialog.status.text() == "Already downloaded."


def test_download_arrives_checked_with_progress(qtbot, cache, tmp_path, monkeypatch):
    toy = serve_as_resnet18(tmp_path, monkeypatch, PAYLOAD, PAYLOAD)
    dialog = WeightsDownloadDialog("resnet18")
    qtbot.addWidget(dialog)
    seen = []
    dialog.download_button.clicked.connect(lambda: dialog.job.progress.connect(
        lambda done, total: seen.append((done, total))))  # fmt: skip
    download(qtbot, dialog)
    assert (cache / toy.file).read_bytes() == PAYLOAD
    assert dialog.downloaded == str(cache / toy.file)
    assert dialog.status.text() == f"Saved {cache / toy.file}"
    assert dialog.list.currentItem().text().endswith("— downloaded")
    assert seen and seen[-1] == (len(PAYLOAD), len(PAYLOAD))
    assert not dialog.download_button.isEnabled() and dialog.list.isEnabled()


def test_a_wrong_hash_is_one_line_saying_where_to_place_the_file(
    qtbot, cache, tmp_path, monkeypatch
):
    toy = serve_as_resnet18(tmp_path, monkeypatch, b"something else", PAYLOAD)
    dialog = WeightsDownloadDialog("resnet18")
    qtbot.addWidget(dialog)
    download(qtbot, dialog)
    message = dialog.status.text()
    assert "checksum mismatch" in message and "\n" not in message
    assert message.endswith(f"place it as {cache / toy.file}")
    assert dialog.downloaded is None
    assert list(cache.iterdir()) == []  # no file, no partial file
    assert dialog.download_button.isEnabled()  # it can be tried again


class SlowResponse(io.BytesIO):
    """Hands out one chunk each time the test releases it."""

    def __init__(self, release: threading.Event):
        super().__init__(PAYLOAD)
        self.headers = {"Content-Length": str(len(PAYLOAD))}
        self.release = release

    def read(self, size=-1):
        assert self.release.wait(10)
        return super().read(size)


def test_cancel_stops_the_download_and_keeps_nothing(qtbot, cache, tmp_path, monkeypatch):
    serve_as_resnet18(tmp_path, monkeypatch, PAYLOAD, PAYLOAD)
    release = threading.Event()
    dialog = WeightsDownloadDialog("resnet18", opener=lambda url: SlowResponse(release))
    qtbot.addWidget(dialog)
    dialog.download_button.click()
    job = dialog.job
    with qtbot.waitSignal(job.progress, timeout=5000):
        pass
    dialog.download_button.click()  # Cancel
    release.set()
    qtbot.waitUntil(lambda: dialog.job is None, timeout=10000)
    assert job.wait(5000)
    assert dialog.status.text() == "Cancelled; nothing was kept."
    assert dialog.downloaded is None and list(cache.iterdir()) == []


@pytest.fixture
def window(qtbot):
    win = MainWindow(FakeCompute(), start_compute=False)
    qtbot.addWidget(win)
    win.files.ask_to_save = lambda: QMessageBox.StandardButton.Discard
    yield win
    win.shutdown()


def test_the_presets_menu_offers_the_download(window):
    action = window.findChild(QAction, "download_weights")
    assert action is not None and action in window.presets_menu.actions()


def test_a_download_the_network_declares_is_used_at_once(window, cache):
    window.open_preset("alexnet")
    path = cache / "alexnet-owt-7be5be79.pth"
    assert not use_download(window, str(cache / "vgg16-397923af.pth"))  # not this network's
    assert window.doc.weights_path is None
    assert use_download(window, str(path))
    assert window.doc.weights_path == str(path)
    window.doc.undo_stack.undo()  # an ordinary, undoable "Load weights"
    assert window.doc.weights_path is None


def test_the_status_bar_says_where_a_presets_imagenet_weights_come_from(window, cache):
    window.doc.reset(Project(load_preset("lenet5")), None)
    assert window.load_preset("resnet18")
    assert window.statusbar.problem.text() == (
        "Preset ResNet-18, random weights: Presets > Download ImageNet Weights… gets its own "
        "(46.8 MB)"
    )
    cache.mkdir(parents=True)
    (cache / "mobilenet_v2-b0353104.pth").write_bytes(b"stand-in")  # not loaded: no forward
    assert window.load_preset("mobilenet_v2")
    assert window.doc.weights_path == str(cache / "mobilenet_v2-b0353104.pth")
    assert window.statusbar.problem.text() == "Preset MobileNetV2 with trained weights"
    assert window.load_preset("tinyvgg")
    assert window.statusbar.problem.text() == "Preset TinyVGG"
