"""Fetch the datasets cnnviz does not ship, once, into the user's cache folder.

Each file is streamed into a temporary file beside its final place while its
SHA-256 is computed, and renamed into place only when the checksum matches,
so the cache never holds a half-written or altered file: a file that exists
under its final name has been verified. Mirrors are tried in order.

:func:`download_file` is that one downloader, for any URL: the window's
download of torchvision's ImageNet checkpoints uses it too, for what
torch.hub.download_url_to_file lacks (a progress callback and cancelling).

The cache folder is ``$CNNVIZ_CACHE_DIR`` if set, else the platform's user
cache folder (``~/.cache/cnnviz`` on Linux, ``~/Library/Caches/cnnviz`` on
macOS, ``%LOCALAPPDATA%\\cnnviz\\Cache`` on Windows).
"""

from __future__ import annotations

import hashlib
import logging
import os
import sys
import tempfile
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

log = logging.getLogger(__name__)

CHUNK_BYTES = 1 << 16
TIMEOUT_S = 30.0

# progress(file name, bytes done, total bytes or None when the server does not say)
Progress = Callable[[str, int, int | None], None]
Opener = Callable[[str], BinaryIO]


class DownloadError(OSError):
    """A dataset that could not be fetched; the message says why and what to do."""


class DownloadCancelled(Exception):
    """The user stopped a download; nothing was left behind."""


@dataclass(frozen=True)
class RemoteFile:
    name: str
    sha256: str
    urls: tuple[str, ...]


@dataclass(frozen=True)
class RemoteDataset:
    key: str  # also the cache sub-folder
    title: str
    files: tuple[RemoteFile, ...]
    homepage: str


def _mirrored(names_and_sums: dict[str, str], bases: tuple[str, ...]) -> tuple[RemoteFile, ...]:
    return tuple(
        RemoteFile(name, digest, tuple(base + name for base in bases))
        for name, digest in names_and_sums.items()
    )


_MNIST_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)
_FASHION_MIRRORS = ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",)

REMOTE_DATASETS: dict[str, RemoteDataset] = {
    "mnist": RemoteDataset(
        "mnist",
        "MNIST",
        _mirrored(
            {
                "train-images-idx3-ubyte.gz": (
                    "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"
                ),
                "train-labels-idx1-ubyte.gz": (
                    "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"
                ),
                "t10k-images-idx3-ubyte.gz": (
                    "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"
                ),
                "t10k-labels-idx1-ubyte.gz": (
                    "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"
                ),
            },
            _MNIST_MIRRORS,
        ),
        "http://yann.lecun.com/exdb/mnist/",
    ),
    "fashion-mnist": RemoteDataset(
        "fashion-mnist",
        "Fashion-MNIST",
        _mirrored(
            {
                "train-images-idx3-ubyte.gz": (
                    "08dc20ab1689590a0bcd66e874647b6ee8464e2d501b5a3f1f78831db19a3fdc"
                ),
                "train-labels-idx1-ubyte.gz": (
                    "b0197879cbda89f3dc7b894f9fd52b858e68ea4182b6947c9d8c2b67e5f18dcc"
                ),
                "t10k-images-idx3-ubyte.gz": (
                    "78dcbbfb5a27efaf1b6c1d616caca68560be8766c5bffcb2791df9273a534229"
                ),
                "t10k-labels-idx1-ubyte.gz": (
                    "42bd18137a62d5998cdeae52bf3a0676ac6b706f5cf8439b47bb5b151ae3dccf"
                ),
            },
            _FASHION_MIRRORS,
        ),
        "https://github.com/zalandoresearch/fashion-mnist",
    ),
    "cifar10": RemoteDataset(
        "cifar10",
        "CIFAR-10",
        (
            RemoteFile(
                "cifar-10-binary.tar.gz",
                "c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd",
                ("https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz",),
            ),
        ),
        "https://www.cs.toronto.edu/~kriz/cifar.html",
    ),
}


def cache_dir() -> Path:
    """cnnviz's folder in the user's cache (``$CNNVIZ_CACHE_DIR`` overrides)."""
    override = os.environ.get("CNNVIZ_CACHE_DIR")
    if override:
        return Path(override)
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
        return base / "cnnviz" / "Cache"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "cnnviz"
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "cnnviz"


def dataset_dir(dataset: RemoteDataset) -> Path:
    return cache_dir() / "datasets" / dataset.key


def is_cached(dataset: RemoteDataset) -> bool:
    """True when every file is in the cache (present there means verified)."""
    folder = dataset_dir(dataset)
    return all((folder / f.name).is_file() for f in dataset.files)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(CHUNK_BYTES), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _open_url(url: str) -> BinaryIO:
    request = urllib.request.Request(url, headers={"User-Agent": "cnnviz"})
    return urllib.request.urlopen(request, timeout=TIMEOUT_S)


def fetch(
    dataset: RemoteDataset, *, progress: Progress | None = None, opener: Opener | None = None
) -> list[Path]:
    """Every file of `dataset` in the cache, downloading the missing ones."""
    folder = dataset_dir(dataset)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DownloadError(f"cannot create the cache folder {folder}: {exc.strerror}") from None
    paths = []
    for remote in dataset.files:
        target = folder / remote.name
        if not target.is_file():
            _download(dataset, remote, target, progress, opener or _open_url)
        paths.append(target)
    return paths


def _download(
    dataset: RemoteDataset,
    remote: RemoteFile,
    target: Path,
    progress: Progress | None,
    opener: Opener,
) -> None:
    reasons = []
    for url in remote.urls:
        log.info("downloading %s", url)
        try:
            _download_one(url, remote, target, progress, opener)
            return
        except (OSError, ValueError) as exc:  # URLError, HTTPError, timeouts are OSErrors
            reasons.append(reason(exc))
            log.warning("download of %s failed: %s", url, reasons[-1])
    raise DownloadError(
        f"could not download {dataset.title} ({remote.name}): {reasons[-1]}; check the "
        f"network connection, or put the file from {dataset.homepage} into {target.parent}"
    )


def reason(exc: BaseException) -> str:
    inner = getattr(exc, "reason", None)  # URLError wraps the socket error
    if inner is not None and not isinstance(inner, str):
        return reason(inner)
    return str(inner or getattr(exc, "strerror", None) or exc) or type(exc).__name__


def _download_one(
    url: str, remote: RemoteFile, target: Path, progress: Progress | None, opener: Opener
) -> None:
    download_file(url, target, remote.sha256, progress=progress, opener=opener)


def download_file(
    url: str,
    target: Path,
    sha256_prefix: str,
    *,
    progress: Progress | None = None,
    cancel: Callable[[], bool] | None = None,
    opener: Opener | None = None,
) -> None:
    """Stream `url` into a temporary file beside `target`, check that its SHA-256
    starts with `sha256_prefix` (a whole digest, or torch.hub's first digits of
    it), and only then rename it into place. OSError or ValueError say why it
    failed; DownloadCancelled when `cancel()` turned true. Either way, nothing is
    left behind."""
    if len(sha256_prefix) < 8:  # torch.hub's shortest; fewer would check next to nothing
        raise ValueError(f"no checksum to check {target.name} against")
    name = target.name
    fd, tmp_name = tempfile.mkstemp(prefix=f".{name}.", suffix=".part", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        digest = hashlib.sha256()
        with os.fdopen(fd, "wb") as out, (opener or _open_url)(url) as response:
            total = _content_length(response)
            done = 0
            if progress:
                progress(name, done, total)
            for chunk in iter(lambda: response.read(CHUNK_BYTES), b""):
                if cancel is not None and cancel():
                    raise DownloadCancelled(f"the download of {name} was cancelled")
                out.write(chunk)
                digest.update(chunk)
                done += len(chunk)
                if progress:
                    progress(name, done, total)
        if not digest.hexdigest().startswith(sha256_prefix.lower()):
            raise ValueError(
                f"checksum mismatch (got sha256 {digest.hexdigest()[:12]}…, "
                f"expected {sha256_prefix[:12]}…): the file is damaged or not the one published"
            )
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def _content_length(response: object) -> int | None:
    headers = getattr(response, "headers", None)
    value = headers.get("Content-Length") if headers is not None else None
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None
