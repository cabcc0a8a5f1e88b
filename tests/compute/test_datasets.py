"""Datasets as the network sees them: bundled digits, IDX/CIFAR readers, resizing, checks."""

from __future__ import annotations

import gzip
import io
import tarfile

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from cnnviz.compute import downloads
from cnnviz.compute.datasets import (
    DATASETS,
    DatasetError,
    check_trainable,
    dataset_info,
    load_dataset,
    load_digits,
    rebuild_bitmaps,
    to_network_input,
)
from cnnviz.core.architecture import Architecture, InputShape, Layer
from cnnviz.core.presets import load_preset
from cnnviz.core.resources import resource_path


def stack(*layers, channels=1, size=8):
    return Architecture("t", InputShape(channels, size, size), tuple(layers))


CLASSIFIER = (
    Layer.make("Conv2d", out_channels=4, kernel_size=3, padding=1),
    Layer.make("ReLU"),
    Layer.make("Flatten"),
    Layer.make("Linear", out_features=10),
)


def test_bundled_digits_keep_every_image_in_a_fixed_split():
    first, second = load_digits(), load_digits()
    with np.load(resource_path("datasets", "digits.npz")) as raw:
        n, labels = len(raw["labels"]), np.sort(raw["labels"])
    assert len(first.train_labels) + len(first.test_labels) == n == 1797
    assert len(first.test_labels) == round(0.2 * n)
    np.testing.assert_array_equal(
        np.sort(np.concatenate([first.train_labels, first.test_labels])), labels
    )
    np.testing.assert_array_equal(first.test_images, second.test_images)
    np.testing.assert_array_equal(first.test_labels, second.test_labels)
    assert set(first.train_labels) == set(first.test_labels) == set(range(10))
    assert first.train_images.shape[1:] == (1, 32, 32) and first.train_images.dtype == np.uint8


def test_bundled_digits_are_white_strokes_on_black():
    data = load_digits()
    x = to_network_input(data.test_images, data.max_value, (1, 32, 32))
    assert float(x.min()) == 0.0 and float(x.max()) == 1.0
    # Corners are background (black) in nearly every image; ink is a minority.
    assert float(x[:, 0, 0, 0].mean()) < 0.05
    assert 0.1 < float(x.mean()) < 0.5


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_rebuilt_bitmaps_hold_exactly_the_ink_counts(seed):
    counts = np.random.default_rng(seed).integers(0, 17, size=(3, 1, 8, 8), dtype=np.uint8)
    bitmaps = rebuild_bitmaps(counts, 16)
    assert bitmaps.shape == (3, 1, 32, 32)
    assert set(np.unique(bitmaps)) <= {0, 255}
    blocks = (bitmaps // 255).reshape(3, 1, 8, 4, 8, 4).sum(axis=(3, 5))
    np.testing.assert_array_equal(blocks, counts)


def test_rebuilt_bitmaps_of_the_stored_digits_match_their_counts():
    with np.load(resource_path("datasets", "digits.npz")) as raw:
        counts = raw["images"][:50, None]
    bitmaps = rebuild_bitmaps(counts, 16)
    np.testing.assert_array_equal(
        (bitmaps // 255).reshape(50, 1, 8, 4, 8, 4).sum(axis=(3, 5)), counts
    )


def test_upscaling_is_bilinear_with_half_pixel_centres():
    # A 1×2 row [0, 255] doubled: output centres sit at input x = -0.25, 0.25,
    # 0.75, 1.25, clamped at the edges → 0, 0.25, 0.75, 1.
    row = np.array([[[[0, 255]]]], dtype=np.uint8)
    out = to_network_input(row, 255, (1, 1, 4))
    np.testing.assert_allclose(out[0, 0, 0].numpy(), [0.0, 0.25, 0.75, 1.0], atol=1e-6)


def test_grey_images_are_replicated_to_the_input_channels():
    images = np.random.default_rng(1).integers(0, 256, size=(2, 1, 8, 8), dtype=np.uint8)
    out = to_network_input(images, 255, (3, 8, 8))
    assert out.shape == (2, 3, 8, 8) and out.is_contiguous()
    np.testing.assert_array_equal(out[:, 0], out[:, 2])
    np.testing.assert_allclose(out[:, 1].numpy(), images[:, 0] / 255.0, atol=1e-7)


def test_shrinking_keeps_thin_strokes_visible():
    images = np.zeros((1, 1, 32, 32), np.uint8)
    images[0, 0, :, 16] = 255  # a one-pixel vertical line
    out = to_network_input(images, 255, (1, 8, 8))
    assert float(out.max()) > 0.1  # antialiased: the line is averaged in, not skipped


def test_dataset_names_are_forgiving_and_unknown_ones_listed():
    assert dataset_info("Fashion_MNIST").key == "fashion-mnist"
    assert dataset_info("CIFAR-10").key == "cifar10"
    with pytest.raises(DatasetError, match="unknown dataset 'imagenet'.*digits, mnist"):
        dataset_info("imagenet")


@pytest.mark.parametrize(
    ("layers", "channels", "dataset", "expected"),
    [
        (CLASSIFIER, 1, "digits", None),
        (CLASSIFIER, 3, "digits", None),  # grey is replicated to 3 channels
        (
            (*CLASSIFIER[:-1], Layer.make("Linear", out_features=7)),
            1,
            "digits",
            "gives 7 outputs but Digits has 10 classes: set out_features of the last Linear to 10",
        ),
        (
            CLASSIFIER[:2],
            1,
            "digits",
            "ends with a 4×8×8 map but Digits needs 10 class scores: "
            "add Flatten and Linear(10) at the end",
        ),
        (
            (*CLASSIFIER[:2], Layer.make("Flatten")),
            1,
            "digits",
            "gives 256 outputs but Digits has 10 classes: add Linear(10) at the end",
        ),
        (
            CLASSIFIER,
            1,
            "cifar10",
            "CIFAR-10 has colour images (3 channels) but the input has 1: "
            "set the input channels to 3",
        ),
        ((Layer.make("ReLU"), Layer.make("Flatten")), 1, "digits", "nothing to learn"),
        ((), 1, "digits", "the stack is empty"),
        (
            (Layer.make("Conv2d", out_channels=4, kernel_size=9), *CLASSIFIER),
            1,
            "digits",
            "the stack is not valid: layer 0 Conv2d",
        ),
    ],
)
def test_untrainable_stacks_are_told_what_to_change(layers, channels, dataset, expected):
    message = check_trainable(stack(*layers, channels=channels), dataset)
    if expected is None:
        assert message is None
    else:
        assert expected in message


def test_a_ten_channel_one_by_one_map_just_needs_a_flatten():
    layers = (Layer.make("Conv2d", out_channels=10, kernel_size=8),)
    assert check_trainable(stack(*layers), "digits") == (
        "the network ends with a 10×1×1 map: add Flatten at the end"
    )


def test_the_presets_that_read_digits_can_be_trained_on_them():
    for name in ("lenet5", "interview"):
        assert check_trainable(load_preset(name), "digits") is None
        assert check_trainable(load_preset(name), "mnist") is None


# -- downloaded datasets, read from files the tests write into a private cache --


def _idx(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(d.to_bytes(4, "big") for d in array.shape)
    return gzip.compress(header + array.astype(np.uint8).tobytes())


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CNNVIZ_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache" / "datasets"


def _write_mnist_like(folder, rng, n_train=5, n_test=3):
    folder.mkdir(parents=True)
    arrays = {
        "train-images-idx3-ubyte.gz": rng.integers(0, 256, (n_train, 28, 28)),
        "train-labels-idx1-ubyte.gz": rng.integers(0, 10, n_train),
        "t10k-images-idx3-ubyte.gz": rng.integers(0, 256, (n_test, 28, 28)),
        "t10k-labels-idx1-ubyte.gz": rng.integers(0, 10, n_test),
    }
    for name, array in arrays.items():
        (folder / name).write_bytes(_idx(array))
    return arrays


def test_mnist_files_in_the_cache_are_read_as_written(cache):
    arrays = _write_mnist_like(cache / "mnist", np.random.default_rng(2))
    data = load_dataset("mnist", download=False)
    np.testing.assert_array_equal(data.train_images[:, 0], arrays["train-images-idx3-ubyte.gz"])
    np.testing.assert_array_equal(data.train_labels, arrays["train-labels-idx1-ubyte.gz"])
    np.testing.assert_array_equal(data.test_images[:, 0], arrays["t10k-images-idx3-ubyte.gz"])
    np.testing.assert_array_equal(data.test_labels, arrays["t10k-labels-idx1-ubyte.gz"])
    assert data.max_value == 255 and data.info.classes == DATASETS["mnist"].classes


def test_a_truncated_idx_file_is_reported_as_damaged(cache):
    _write_mnist_like(cache / "fashion-mnist", np.random.default_rng(3))
    path = cache / "fashion-mnist" / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(gzip.decompress(path.read_bytes())[:-10]))
    with pytest.raises(DatasetError, match="Fashion-MNIST files in .* are damaged: .*truncated"):
        load_dataset("fashion-mnist", download=False)


def test_a_dataset_not_downloaded_says_so_when_downloads_are_off(cache):
    with pytest.raises(DatasetError, match="MNIST is not downloaded yet"):
        load_dataset("mnist", download=False)


def _write_cifar_like(folder, rng, per_batch=2):
    """A cifar-10-binary.tar.gz with `per_batch` records in each of its six batch files."""
    folder.mkdir(parents=True)
    batches = {}
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name in [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]:
            labels = rng.integers(0, 10, per_batch, dtype=np.uint8)
            pixels = rng.integers(0, 256, (per_batch, 3, 32, 32), dtype=np.uint8)
            batches[name] = (labels, pixels)
            raw = b"".join(
                bytes([lab]) + img.tobytes() for lab, img in zip(labels, pixels, strict=True)
            )
            info = tarfile.TarInfo(f"cifar-10-batches-bin/{name}")
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
    (folder / "cifar-10-binary.tar.gz").write_bytes(buffer.getvalue())
    return batches


def test_cifar10_binary_records_are_read_as_written(cache):
    batches = _write_cifar_like(cache / "cifar10", np.random.default_rng(4))
    assert downloads.is_cached(downloads.REMOTE_DATASETS["cifar10"])
    data = load_dataset("cifar10", download=False)
    train = [batches[f"data_batch_{i}.bin"] for i in range(1, 6)]
    np.testing.assert_array_equal(data.train_images, np.concatenate([p for _, p in train]))
    np.testing.assert_array_equal(data.train_labels, np.concatenate([lab for lab, _ in train]))
    np.testing.assert_array_equal(data.test_images, batches["test_batch.bin"][1])
    assert data.train_images.shape == (10, 3, 32, 32)
    x = to_network_input(data.test_images, 255, (3, 32, 32))
    np.testing.assert_allclose(x.numpy(), batches["test_batch.bin"][1] / 255.0, atol=1e-7)
    assert torch.is_tensor(x)
