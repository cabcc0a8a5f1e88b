"""Clipboard, drops and QImage conversion give the loader's (H, W, 3) float32 form."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image
from PySide6 import QtCore, QtGui

from cnnviz.core.images import ImageError
from cnnviz.qt.inputs.image_sources import (
    OPEN_IMAGE_FILTER,
    accepts_image_drop,
    image_from_clipboard,
    paths_from_mime,
    qimage_to_array,
)

Format = QtGui.QImage.Format


def _qimage(rgba: np.ndarray) -> QtGui.QImage:
    height, width = rgba.shape[:2]
    data = np.ascontiguousarray(rgba, dtype=np.uint8)
    return QtGui.QImage(data.data, width, height, width * 4, Format.Format_RGBA8888).copy()


def _pixels(seed: int, height: int, width: int, alpha: bool = False) -> np.ndarray:
    rgba = np.random.default_rng(seed).integers(0, 256, (height, width, 4), dtype=np.uint8)
    if not alpha:
        rgba[:, :, 3] = 255
    return rgba


@pytest.mark.parametrize(
    "fmt", [Format.Format_RGB32, Format.Format_ARGB32, Format.Format_RGB888, Format.Format_RGBA64]
)
def test_qimage_formats_convert_exactly(qapp, fmt):
    rgba = _pixels(1, 3, 5)  # width 5: RGB888 rows are padded to 4 bytes
    image = _qimage(rgba).convertToFormat(fmt)
    np.testing.assert_allclose(qimage_to_array(image), rgba[:, :, :3] / 255.0, atol=1e-6)


def test_grey_and_indexed_qimages(qapp):
    grey = np.arange(15, dtype=np.uint8).reshape(3, 5) * 17
    image = QtGui.QImage(grey.data, 5, 3, 5, Format.Format_Grayscale8).copy()
    expected = np.repeat((grey / 255.0)[:, :, None], 3, axis=2)
    np.testing.assert_allclose(qimage_to_array(image), expected, atol=1e-6)
    indexed = image.convertToFormat(Format.Format_Indexed8)
    np.testing.assert_allclose(qimage_to_array(indexed), expected, atol=1e-6)


def test_transparent_qimage_is_composited_on_white(qapp):
    rgba = np.array([[[255, 0, 0, 128], [0, 0, 0, 0]]], np.uint8)
    got = qimage_to_array(_qimage(rgba).convertToFormat(Format.Format_ARGB32_Premultiplied))
    np.testing.assert_allclose(got[0, 0], (1.0, 1 - 128 / 255, 1 - 128 / 255), atol=2 / 255)
    np.testing.assert_allclose(got[0, 1], (1.0, 1.0, 1.0))


def test_null_qimage_is_refused(qapp):
    with pytest.raises(ValueError, match="empty"):
        qimage_to_array(QtGui.QImage())


@pytest.fixture
def clipboard(qapp):
    board = QtGui.QGuiApplication.clipboard()
    board.clear()
    yield board
    board.clear()


def test_clipboard_image(clipboard):
    rgba = _pixels(2, 4, 6)
    clipboard.setImage(_qimage(rgba))
    np.testing.assert_allclose(image_from_clipboard(clipboard), rgba[:, :, :3] / 255, atol=1e-6)


def test_clipboard_encoded_png_bytes(clipboard):
    buffer = io.BytesIO()
    Image.new("RGB", (3, 2), (0, 0, 255)).save(buffer, "PNG")
    mime = QtCore.QMimeData()
    mime.setData("image/png", QtCore.QByteArray(buffer.getvalue()))
    clipboard.setMimeData(mime)
    got = image_from_clipboard(clipboard)
    np.testing.assert_allclose(got.reshape(-1, 3), np.tile((0.0, 0.0, 1.0), (6, 1)))


def test_clipboard_broken_png_bytes_give_an_image_error(clipboard):
    mime = QtCore.QMimeData()
    mime.setData("image/png", QtCore.QByteArray(b"\x89PNG\r\n\x1a\n broken"))
    clipboard.setMimeData(mime)
    with pytest.raises(ImageError, match=r"^clipboard image: "):
        image_from_clipboard(clipboard)


def test_clipboard_with_text_only_has_no_image(clipboard):
    clipboard.setText("hello")
    assert image_from_clipboard(clipboard) is None


def _png(path):
    Image.new("RGB", (2, 2)).save(path)
    return path


def test_paths_from_mime_keeps_existing_local_files_in_order(tmp_path):
    first, second = _png(tmp_path / "b.png"), _png(tmp_path / "a.png")
    mime = QtCore.QMimeData()
    mime.setUrls(
        [
            QtCore.QUrl.fromLocalFile(str(first)),
            QtCore.QUrl("https://example.org/c.png"),
            QtCore.QUrl.fromLocalFile(str(tmp_path / "missing.png")),
            QtCore.QUrl.fromLocalFile(str(tmp_path)),  # a folder
            QtCore.QUrl.fromLocalFile(str(second)),
        ]
    )
    assert paths_from_mime(mime) == [str(first), str(second)]


def test_paths_from_pasted_text(tmp_path):
    path = _png(tmp_path / "c.png")
    mime = QtCore.QMimeData()
    mime.setText(f"{QtCore.QUrl.fromLocalFile(str(path)).toString()}\n")
    assert paths_from_mime(mime) == [str(path)]
    mime.setText(f"  {path}  ")
    assert paths_from_mime(mime) == [str(path)]
    mime.setText("x" * 5000 + "\nnot\0a path")  # prose, not file names: no error
    assert paths_from_mime(mime) == []
    assert paths_from_mime(None) == []


def test_accepts_image_drop(tmp_path):
    png = _png(tmp_path / "photo.png")
    fake = tmp_path / "notes.png"
    fake.write_text("not an image")  # accepted, so loading can say why it is not one
    text = tmp_path / "notes.txt"
    text.write_text("hello")

    def mime_for(path):
        mime = QtCore.QMimeData()
        mime.setUrls([QtCore.QUrl.fromLocalFile(str(path))])
        return mime

    assert accepts_image_drop(mime_for(png))
    assert accepts_image_drop(mime_for(fake))
    assert not accepts_image_drop(mime_for(text))
    assert not accepts_image_drop(QtCore.QMimeData())
    assert not accepts_image_drop(None)
    with_image = QtCore.QMimeData()
    with_image.setImageData(QtGui.QImage(2, 2, Format.Format_RGB32))
    assert accepts_image_drop(with_image)


def test_open_dialog_filter_lists_the_image_extensions():
    assert OPEN_IMAGE_FILTER.startswith("Images (*.png *.jpg *.jpeg")
    assert OPEN_IMAGE_FILTER.endswith(";;All files (*)")
