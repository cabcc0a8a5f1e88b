"""Files the user names are read within limits: FIFOs and devices are refused
before they are opened (a FIFO would block open(), /dev/zero never ends), and
no more than the limit is ever read."""

from __future__ import annotations

import os

import pytest

from cnnviz.core import safe_files
from cnnviz.core.architecture import ArchitectureError, load
from cnnviz.core.conv_text import MatrixFileError, read_matrices
from cnnviz.core.images import ImageError, load_image, looks_like_image_file
from cnnviz.core.safe_files import UnreadableFile
from tests.special_files import DEV_ZERO, make_fifo, needs_dev_zero, needs_fifo, within


@pytest.fixture
def fifo(tmp_path):
    return make_fifo(tmp_path)


def test_regular_files_are_read_up_to_the_limit(tmp_path):
    path = tmp_path / "a.txt"
    path.write_bytes(b"12345")
    assert safe_files.read_bytes(path, 5) == b"12345"
    with pytest.raises(UnreadableFile, match=r"^a\.txt: file too large for x \(more than 4 bytes"):
        safe_files.read_bytes(path, 4, "x")
    with pytest.raises(UnreadableFile, match="No such file"):
        safe_files.read_bytes(tmp_path / "missing", 5)
    with pytest.raises(UnreadableFile, match="is a folder, not a regular file"):
        safe_files.read_bytes(tmp_path, 5)
    path.write_bytes(b"\xff\xfe")
    with pytest.raises(UnreadableFile, match="not a text file"):
        safe_files.read_text(path, 5)


@needs_fifo
def test_a_fifo_is_refused_without_blocking(fifo):
    with pytest.raises(UnreadableFile, match=r"pipe\.json: is a named pipe \(FIFO\)"):
        within(10, lambda: safe_files.read_bytes(fifo, 100), fifo)
    with pytest.raises(UnreadableFile, match="named pipe"):
        within(10, lambda: safe_files.open_regular(fifo), fifo)


@needs_dev_zero
def test_dev_zero_is_refused_not_read_forever():
    with pytest.raises(UnreadableFile, match="^/dev/zero: is a character device"):
        safe_files.read_text(DEV_ZERO, 100)


@needs_fifo
def test_every_reader_refuses_a_fifo(fifo):
    with pytest.raises(ArchitectureError, match="named pipe"):
        within(10, lambda: load(fifo), fifo)
    with pytest.raises(MatrixFileError, match="named pipe"):
        within(10, lambda: read_matrices(fifo), fifo)
    with pytest.raises(ImageError, match="pipe or device, not an image file"):
        within(10, lambda: load_image(fifo), fifo)
    image_named = fifo.with_name("pipe")
    os.rename(fifo, image_named)  # no image extension: looks_like_image_file reads it
    assert within(10, lambda: looks_like_image_file(image_named), image_named) is False


@needs_dev_zero
def test_every_reader_refuses_dev_zero():
    with pytest.raises(ArchitectureError, match="character device"):
        load(DEV_ZERO)
    with pytest.raises(MatrixFileError, match="character device"):
        read_matrices(DEV_ZERO)
    with pytest.raises(ImageError, match="pipe or device"):
        load_image(DEV_ZERO)
    assert looks_like_image_file(DEV_ZERO) is False
