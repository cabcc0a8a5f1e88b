"""Bring torchvision's ImageNet checkpoints into the torch hub cache.

    path = download(find("resnet18"))                   # the command line
    path = download(find("resnet18"), progress, cancel)  # the window: progress and cancel

Without a callback, torch's own ``torch.hub.download_url_to_file`` does it
(its progress bar on stderr, the hash prefix in the file name checked, a
temporary file renamed into place). With a progress callback or a cancel
check, which torch's has not, cnnviz's shared downloader
(:func:`cnnviz.compute.downloads.download_file`) does it the same way. Every
failure is a DownloadError of one line that says which file to place where.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import torch.hub

from cnnviz.compute import downloads
from cnnviz.compute.downloads import DownloadCancelled, DownloadError, Progress
from cnnviz.core.hub_files import HubFile, place_by_hand

log = logging.getLogger(__name__)

__all__ = ["DownloadCancelled", "DownloadError", "download", "target_path"]


def target_path(hub_file: HubFile) -> Path:
    """Where torch.hub (and so torchvision and cnnviz) keeps this checkpoint."""
    return Path(torch.hub.get_dir()) / "checkpoints" / hub_file.file


def download(
    hub_file: HubFile,
    progress: Progress | None = None,
    cancel: Callable[[], bool] | None = None,
    *,
    opener: downloads.Opener | None = None,
) -> Path:
    """The checkpoint in the hub cache, downloaded unless it is there already."""
    target = target_path(hub_file)
    if target.is_file():
        return target
    if not hub_file.hash_prefix:
        raise DownloadError(f"cnnviz does not know where to get {hub_file.file}")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        log.info("downloading %s to %s", hub_file.url, target)
        if progress is None and cancel is None and opener is None:
            torch.hub.download_url_to_file(
                hub_file.url, str(target), hash_prefix=hub_file.hash_prefix, progress=True
            )
        else:
            downloads.download_file(
                hub_file.url,
                target,
                hub_file.hash_prefix,
                progress=progress,
                cancel=cancel,
                opener=opener,
            )
    except DownloadCancelled:
        raise
    except (OSError, ValueError, RuntimeError) as exc:  # RuntimeError: torch's bad hash
        raise DownloadError(
            f"could not download {hub_file.file}: {_why(exc)}; {place_by_hand(hub_file)}"
        ) from None
    return target


def _why(exc: BaseException) -> str:
    text = downloads.reason(exc)
    if text.startswith("invalid hash value"):  # torch.hub's words
        return f"checksum mismatch ({text}): the file is damaged or not the one published"
    return text
