"""Presets > Download ImageNet Weights…: torchvision's checkpoints into the torch hub cache.

The dialog lists each checkpoint with its size and whether it is there, so
the size is seen before anything is fetched; Download shows progress and
becomes Cancel. A finished download that the network on screen declares is
used at once (an undoable "Load weights"); a failure is one line that says
which file to place where.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from cnnviz.core import hub_files
from cnnviz.core.architecture import Architecture
from cnnviz.qt.bridge.compute_download import WeightsDownload

if TYPE_CHECKING:
    from cnnviz.qt.window.main_window import MainWindow

log = logging.getLogger(__name__)


def item_text(hub_file: hub_files.HubFile) -> str:
    there = hub_files.checkpoint_path(hub_file).is_file()
    state = "downloaded" if there else "not downloaded"
    return f"{hub_file.title} — {hub_file.file} — {hub_file.size_text} — {state}"


class WeightsDownloadDialog(QDialog):
    """Pick a checkpoint, see its size, download it with progress and cancel."""

    def __init__(self, wanted: str | None = None, parent: QWidget | None = None, opener=None):
        super().__init__(parent)
        self.setWindowTitle("Download ImageNet Weights")
        self._opener = opener
        self.job: WeightsDownload | None = None
        self.downloaded: str | None = None
        intro = QLabel(
            "torchvision's ImageNet weights for the classic presets, saved where torch keeps "
            f"them ({hub_files.hub_dir() / 'checkpoints'}). A preset uses its file whenever "
            "it is there."
        )
        intro.setWordWrap(True)
        self.list = QListWidget()
        for hub_file in hub_files.HUB_FILES.values():
            item = QListWidgetItem(item_text(hub_file))
            item.setData(Qt.ItemDataRole.UserRole, hub_file.key)
            self.list.addItem(item)
            if hub_file.key == wanted:
                self.list.setCurrentItem(item)
        if self.list.currentItem() is None:
            self.list.setCurrentRow(0)
        self.bar = QProgressBar()
        self.bar.setVisible(False)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.download_button = QPushButton("Download")
        self.download_button.clicked.connect(self._download_or_cancel)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.addButton(self.download_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.reject)
        self.list.currentItemChanged.connect(self._selection_changed)
        layout = QVBoxLayout(self)
        for widget in (intro, self.list, self.bar, self.status, buttons):
            layout.addWidget(widget)
        self.resize(620, 320)
        self._selection_changed()

    def selected(self) -> hub_files.HubFile:
        return hub_files.HUB_FILES[self.list.currentItem().data(Qt.ItemDataRole.UserRole)]

    def _selection_changed(self, *_args) -> None:
        if self.job is not None:
            return
        hub_file = self.selected()
        there = hub_files.checkpoint_path(hub_file).is_file()
        self.download_button.setEnabled(not there)
        self.download_button.setText(f"Download {hub_file.size_text}")
        self.status.setText("Already downloaded." if there else "")

    def _download_or_cancel(self) -> None:
        if self.job is not None:
            self.job.cancel()
            self.download_button.setEnabled(False)
            return
        hub_file = self.selected()
        self.job = WeightsDownload(hub_file, opener=self._opener)
        self.job.progress.connect(self._progress)
        self.job.finished_file.connect(self._finished)
        self.job.failed.connect(self._failed)
        self.job.cancelled.connect(self._cancelled)
        self.job.finished.connect(self._job_ended)
        self.list.setEnabled(False)
        self.bar.setVisible(True)
        self.bar.setRange(0, 0)  # busy until the size is known
        self.download_button.setText("Cancel")
        self.status.setText(f"Downloading {hub_file.file} from {hub_file.url}…")
        self.job.start()

    def _progress(self, done: int, total: int) -> None:
        if total > 0:
            self.bar.setRange(0, 1000)
            self.bar.setValue(round(1000 * done / total))
            self.bar.setFormat(f"{done / 1e6:.1f} of {total / 1e6:.1f} MB")
        else:
            self.bar.setFormat(f"{done / 1e6:.1f} MB")

    def _finished(self, path: str) -> None:
        self.downloaded = path
        self.status.setText(f"Saved {path}")

    def _failed(self, message: str) -> None:
        self.status.setText(message)

    def _cancelled(self) -> None:
        self.status.setText("Cancelled; nothing was kept.")

    def _job_ended(self) -> None:
        self.job = None
        self.bar.setVisible(False)
        self.list.setEnabled(True)
        current = self.list.currentItem()
        current.setText(item_text(self.selected()))
        message = self.status.text()
        self._selection_changed()
        self.status.setText(message)

    def reject(self) -> None:
        """Close (or Escape) while downloading cancels it and waits for the thread."""
        if self.job is not None:
            self.job.cancel()
            self.job.wait()
        super().reject()


def show_dialog(window: MainWindow) -> WeightsDownloadDialog:
    """Open the dialog for the network on screen, then use what it downloaded."""
    declared = hub_files.declared(window.doc.architecture.metadata)
    dialog = WeightsDownloadDialog(declared.key if declared else None, window)
    dialog.exec()
    use_download(window, dialog.downloaded)
    return dialog


def use_download(window: MainWindow, path: str | None) -> bool:
    """A downloaded checkpoint that the network on screen declares, and that has no
    weights file yet, is used at once (an undoable "Load weights")."""
    declared = hub_files.declared(window.doc.architecture.metadata)
    if not path or declared is None or Path(path).name != declared.file:
        return False
    return window.doc.weights_path is None and window.files.use_weights(path)


def weights_note(arch: Architecture, weights: str | None) -> str:
    """How a preset came, for the status bar: with trained weights, or random ones
    and where to get its own."""
    if weights:
        return " with trained weights"
    hub_file = hub_files.declared(arch.metadata)
    if hub_file is None or hub_file.key not in hub_files.HUB_FILES:
        return ""
    return (
        f", random weights: Presets > Download ImageNet Weights… gets its own "
        f"({hub_file.size_text})"
    )
