"""Datasets a stack can be trained on, as the network sees them.

``digits`` ships with cnnviz (``resources/datasets/digits.npz``: scikit-learn's
copy of the UCI optdigits test set, 1797 grey 8×8 images, CC BY 4.0, see
``resources/datasets/LICENSES.md``), so training works offline. Each 8×8
value counts the inked pixels of a 4×4 block of the writer's original 32×32
bitmap; :func:`rebuild_bitmaps` draws a 32×32 bitmap with exactly those counts
(smoothly placed), which looks like pen strokes rather than a blurred 8×8
mosaic and makes networks read digits drawn on the pad. MNIST,
Fashion-MNIST and CIFAR-10 are fetched once into the user's cache folder by
``cnnviz.compute.downloads`` (checksums verified).

Images are kept as uint8 at their native size and converted per batch by
:func:`to_network_input`: values scaled to [0, 1] (white digit on black, like
the drawing pad), bilinear resize to the input's (H, W), grey replicated to the
input's channels. Keeping uint8 keeps 60000 MNIST images at 47 MB instead of
hundreds of megabytes of float32 at the network's size.
"""

from __future__ import annotations

import gzip
import logging
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from cnnviz.compute import downloads
from cnnviz.core.analysis import analyze
from cnnviz.core.architecture import Architecture
from cnnviz.core.resources import resource_path

log = logging.getLogger(__name__)

DIGIT_CLASSES = tuple(str(d) for d in range(10))
FASHION_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
CIFAR10_CLASSES = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)

# The digits have no official split: a fixed shuffle holds out the same 20 %
# as the test set for every seed, so test accuracies stay comparable.
DIGITS_TEST_FRACTION = 0.2
DIGITS_SPLIT_SEED = 20240


class DatasetError(ValueError):
    """A dataset that cannot be used; the message says why in one line."""


@dataclass(frozen=True)
class DatasetInfo:
    key: str
    title: str
    classes: tuple[str, ...]
    channels: int  # native: 1 grey, 3 colour
    size: tuple[int, int]  # native (H, W)
    bundled: bool  # False: downloaded once into the cache

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def label(self) -> str:
        """Human-readable name for menus, e.g. 'MNIST (download, 28×28 grey)'."""
        colour = "grey" if self.channels == 1 else "colour"
        where = "bundled" if self.bundled else "download"
        return f"{self.title} ({where}, {self.size[0]}×{self.size[1]} {colour})"


DATASETS: dict[str, DatasetInfo] = {
    # Stored as 8×8 ink counts, served as the 32×32 bitmaps they summarise.
    "digits": DatasetInfo("digits", "Digits", DIGIT_CLASSES, 1, (32, 32), True),
    "mnist": DatasetInfo("mnist", "MNIST", DIGIT_CLASSES, 1, (28, 28), False),
    "fashion-mnist": DatasetInfo(
        "fashion-mnist", "Fashion-MNIST", FASHION_CLASSES, 1, (28, 28), False
    ),
    "cifar10": DatasetInfo("cifar10", "CIFAR-10", CIFAR10_CLASSES, 3, (32, 32), False),
}


def dataset_info(name: str) -> DatasetInfo:
    """The dataset called `name` (case, '-' and '_' are ignored), or DatasetError."""
    wanted = name.lower().replace("_", "").replace("-", "")
    for key, info in DATASETS.items():
        if key.replace("-", "") == wanted:
            return info
    raise DatasetError(f"unknown dataset {name!r} (datasets: {', '.join(DATASETS)})")


@dataclass(frozen=True)
class Dataset:
    """Images as uint8 (N, C, H, W) at native size; labels as int64 (N,)."""

    info: DatasetInfo
    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    max_value: int  # the value of full white (255)


ProgressCallback = Callable[[str, int, int | None], None]


def load_dataset(
    name: str, *, download: bool = True, progress: ProgressCallback | None = None
) -> Dataset:
    """The dataset called `name`; downloads it into the cache first if allowed.

    DatasetError (or downloads.DownloadError) with a one-line message if the
    data is missing, cannot be fetched or is damaged.
    """
    info = dataset_info(name)
    if info.key == "digits":
        return load_digits()
    remote = downloads.REMOTE_DATASETS[info.key]
    if not downloads.is_cached(remote):
        if not download:
            raise DatasetError(
                f"{info.title} is not downloaded yet "
                f"(it goes to {downloads.dataset_dir(remote)}); allow the download"
            )
        downloads.fetch(remote, progress=progress)
    folder = downloads.dataset_dir(remote)
    try:
        if info.key == "cifar10":
            return _load_cifar10(info, folder / "cifar-10-binary.tar.gz")
        return _load_idx_dataset(info, folder)
    except (OSError, EOFError, ValueError, tarfile.TarError) as exc:
        raise DatasetError(f"{info.title} files in {folder} are damaged: {exc}") from None


def load_digits() -> Dataset:
    """The bundled digits as 32×32 bitmaps, with their fixed 80/20 train/test split."""
    path = resource_path("datasets", "digits.npz")
    try:
        with np.load(path, allow_pickle=False) as data:
            images = data["images"].astype(np.uint8)
            labels = data["labels"].astype(np.int64)
            max_value = int(data["max_value"])
    except (OSError, KeyError, ValueError) as exc:
        raise DatasetError(f"bundled digits ({path}) cannot be read: {exc}") from None
    order = np.random.default_rng(DIGITS_SPLIT_SEED).permutation(len(images))
    n_test = round(len(images) * DIGITS_TEST_FRACTION)
    test, train = order[:n_test], order[n_test:]
    bitmaps = rebuild_bitmaps(images[:, None, :, :], max_value)
    return Dataset(
        DATASETS["digits"], bitmaps[train], labels[train], bitmaps[test], labels[test], 255
    )


def rebuild_bitmaps(counts: np.ndarray, max_value: int, factor: int = 4) -> np.ndarray:
    """Binary bitmaps (0/255), `factor` times larger, whose blocks hold the given ink counts.

    counts: uint8 (N, C, h, w), each the number of inked pixels (0..max_value)
    of a factor×factor block. Within a block the pixels lit are those where a
    bicubic upscaling of the counts is brightest, so strokes run smoothly
    across blocks; every block keeps exactly its count (scaled to factor²).
    """
    x = torch.as_tensor(counts).to(torch.float32)
    n, c, h, w = x.shape
    smooth = F.interpolate(x / max_value, scale_factor=factor, mode="bicubic", align_corners=False)
    cells = factor * factor
    blocks = smooth.view(n, c, h, factor, w, factor).permute(0, 1, 2, 4, 3, 5)
    blocks = blocks.reshape(n, c, h, w, cells)
    rank = blocks.argsort(dim=-1, descending=True, stable=True).argsort(dim=-1)
    lit = torch.round(x * (cells / max_value)).long().unsqueeze(-1)
    on = (rank < lit).to(torch.uint8) * 255
    on = on.view(n, c, h, w, factor, factor).permute(0, 1, 2, 4, 3, 5)
    return on.reshape(n, c, h * factor, w * factor).numpy().copy()


def _read_idx(path: Path, expected_dims: int) -> np.ndarray:
    """An IDX file (gzip-compressed, as LeCun and Zalando publish them) as uint8."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise ValueError(f"{path.name} is not an unsigned-byte IDX file")
    dims = raw[3]
    if dims != expected_dims:
        raise ValueError(f"{path.name} has {dims} dimensions, expected {expected_dims}")
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(dims))
    start = 4 + 4 * dims
    count = int(np.prod(shape))
    if len(raw) - start != count:
        raise ValueError(f"{path.name} is truncated")
    # A copy: frombuffer views are read-only, which torch.from_numpy warns about.
    return np.frombuffer(raw, dtype=np.uint8, offset=start).reshape(shape).copy()


def _load_idx_dataset(info: DatasetInfo, folder: Path) -> Dataset:
    def pair(prefix: str) -> tuple[np.ndarray, np.ndarray]:
        images = _read_idx(folder / f"{prefix}-images-idx3-ubyte.gz", 3)
        labels = _read_idx(folder / f"{prefix}-labels-idx1-ubyte.gz", 1).astype(np.int64)
        if len(images) != len(labels):
            raise ValueError(f"{prefix}: {len(images)} images but {len(labels)} labels")
        return images[:, None, :, :], labels

    train_images, train_labels = pair("train")
    test_images, test_labels = pair("t10k")
    return Dataset(info, train_images, train_labels, test_images, test_labels, 255)


_CIFAR_RECORD = 1 + 3 * 32 * 32  # label byte, then R, G, B planes of 32×32


def _load_cifar10(info: DatasetInfo, archive: Path) -> Dataset:
    """CIFAR-10's binary version: fixed-size records, no pickle to trust."""
    parts: dict[str, bytes] = {}
    with tarfile.open(archive, "r:gz") as tar:
        for member in tar.getmembers():
            name = Path(member.name).name
            if member.isfile() and name.endswith(".bin"):
                parts[name] = tar.extractfile(member).read()

    def records(names: list[str]) -> tuple[np.ndarray, np.ndarray]:
        missing = [n for n in names if n not in parts]
        if missing:
            raise ValueError(f"archive lacks {', '.join(missing)}")
        raw = b"".join(parts[n] for n in names)
        if len(raw) % _CIFAR_RECORD:
            raise ValueError("a batch file is truncated")
        table = np.frombuffer(raw, dtype=np.uint8).reshape(-1, _CIFAR_RECORD)
        return table[:, 1:].reshape(-1, 3, 32, 32).copy(), table[:, 0].astype(np.int64)

    train_images, train_labels = records([f"data_batch_{i}.bin" for i in range(1, 6)])
    test_images, test_labels = records(["test_batch.bin"])
    return Dataset(info, train_images, train_labels, test_images, test_labels, 255)


def to_network_input(
    images: np.ndarray | torch.Tensor, max_value: int, shape: tuple[int, int, int]
) -> torch.Tensor:
    """uint8 (N, c, h, w) → float32 (N, C, H, W) in [0, 1], as the network takes it.

    Bilinear resize (antialiased when shrinking, so thin strokes do not
    vanish); grey images are replicated to C channels.
    """
    batch = torch.as_tensor(images).to(torch.float32) / float(max_value)
    channels, height, width = shape
    if batch.shape[-2:] != (height, width):
        shrinking = height < batch.shape[-2] or width < batch.shape[-1]
        batch = F.interpolate(
            batch, size=(height, width), mode="bilinear", align_corners=False, antialias=shrinking
        ).clamp_(0.0, 1.0)
    if batch.shape[1] != channels:
        if batch.shape[1] != 1:
            raise DatasetError(f"cannot turn {batch.shape[1]}-channel images into {channels}")
        batch = batch.expand(-1, channels, -1, -1)
    return batch.contiguous()


def check_trainable(arch: Architecture, dataset: str | DatasetInfo) -> str | None:
    """None if the stack can learn `dataset`, else one line saying what to change."""
    info = dataset if isinstance(dataset, DatasetInfo) else dataset_info(dataset)
    n = info.num_classes
    if not arch.layers:
        return f"the stack is empty: add layers ending in Flatten and Linear({n})"
    if info.channels == 3 and arch.input.channels != 3:
        return (
            f"{info.title} has colour images (3 channels) but the input has "
            f"{arch.input.channels}: set the input channels to 3"
        )
    analysis = analyze(arch)
    bad = analysis.first_error
    if bad is not None:
        return f"the stack is not valid: {bad.error}"
    if analysis.total_params == 0:
        return f"the stack has nothing to learn: add a Conv2d or a Linear({n}) layer"
    return _output_problem(arch, analysis.output_shape, info)


def _output_problem(arch: Architecture, out: tuple[int, ...], info: DatasetInfo) -> str | None:
    n = info.num_classes
    shown = "×".join(str(s) for s in out)
    if len(out) == 3 and out[0] == n and out[1:] == (1, 1):
        return f"the network ends with a {shown} map: add Flatten at the end"
    if len(out) != 1:
        return (
            f"the network ends with a {shown} map but {info.title} needs {n} class "
            f"scores: add Flatten and Linear({n}) at the end"
        )
    if out[0] != n:
        linear = [layer for layer in arch.layers if layer.type == "Linear"]
        fix = (
            f"set out_features of the last Linear to {n}"
            if linear
            else f"add Linear({n}) at the end"
        )
        return f"the network gives {out[0]} outputs but {info.title} has {n} classes: {fix}"
    return None
