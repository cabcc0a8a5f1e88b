"""A download of torchvision's ImageNet weights, off the GUI thread, with progress and cancel.

    job = WeightsDownload(find("resnet18"))
    job.progress.connect(bar.update)     # (bytes done, total bytes or -1)
    job.finished_file.connect(use)       # the checkpoint's path in the torch hub cache
    job.failed.connect(show)             # one line, saying which file to place where
    job.cancelled.connect(close)
    job.start(); ...; job.cancel()

A small thread of its own rather than a compute-thread job: a 500 MB download
must not hold up the forwards, and it needs no torch module of the network.
The work is cnnviz.compute.hub_download's (the shared downloader: temporary
file, the hash prefix torch.hub checks, rename), imported in the thread.
"""

from __future__ import annotations

import logging
import threading
import time

from PySide6.QtCore import QThread, Signal

from cnnviz.core.hub_files import HubFile

log = logging.getLogger(__name__)

PROGRESS_EVERY_S = 0.1  # a progress signal per chunk would be thousands


class WeightsDownload(QThread):
    """Downloads one checkpoint into the torch hub cache; signals come from this thread."""

    progress = Signal(object, object)  # bytes done, total bytes (-1 when the server does not say)
    finished_file = Signal(str)
    failed = Signal(str)
    cancelled = Signal()

    def __init__(self, hub_file: HubFile, opener=None, parent=None):
        super().__init__(parent)
        self.hub_file = hub_file
        self._opener = opener  # tests serve their own bytes
        self._stop = threading.Event()
        self._last = 0.0

    def cancel(self) -> None:
        """Stop at the next chunk; nothing is left behind."""
        self._stop.set()

    def run(self) -> None:
        from cnnviz.compute.hub_download import DownloadCancelled, DownloadError, download

        try:
            path = download(self.hub_file, self._report, self._stop.is_set, opener=self._opener)
        except DownloadCancelled:
            self.cancelled.emit()
        except DownloadError as exc:
            self.failed.emit(str(exc))
        except Exception as exc:  # never a traceback in a thread nobody joins
            log.exception("the download of %s failed", self.hub_file.file)
            self.failed.emit(f"could not download {self.hub_file.file}: {exc}")
        else:
            self.finished_file.emit(str(path))

    def _report(self, _name: str, done: int, total: int | None) -> None:
        now = time.monotonic()
        if now - self._last >= PROGRESS_EVERY_S or done == total:
            self._last = now
            self.progress.emit(done, -1 if total is None else total)
