"""Where pictures come from in the window: clipboard, drops, the Open dialog.

    image = image_from_clipboard(QGuiApplication.clipboard())  # (H, W, 3) or None
    if image is None: paths = paths_from_mime(clipboard.mimeData())  # copied files
    if accepts_image_drop(event.mimeData()): event.acceptProposedAction()
    paths = paths_from_mime(event.mimeData())                 # then load_image(paths[0])
    QFileDialog.getOpenFileName(..., filter=OPEN_IMAGE_FILTER)

Everything returned is the same (H, W, 3) float32 RGB in [0, 1] that
:func:`cnnviz.core.images.load_image` gives, so the rest of the window does
not care where a picture came from. Errors are ``ImageError`` (one line).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from PySide6 import QtCore, QtGui

from cnnviz.core.images import IMAGE_EXTENSIONS, array_to_image, load_image, looks_like_image_file

log = logging.getLogger(__name__)

OPEN_IMAGE_FILTER = (
    "Images (" + " ".join(f"*{ext}" for ext in IMAGE_EXTENSIONS) + ");;All files (*)"
)
# Encoded image formats a clipboard may offer when it has no decoded QImage.
_MAX_TEXT_PATHS = 20  # pasted text: only its first lines can be file names worth trying
_ENCODED_FORMATS = ("image/png", "image/jpeg", "image/bmp", "image/gif", "image/tiff", "image/webp")


def qimage_to_array(image: QtGui.QImage) -> np.ndarray:
    """Any QImage as (H, W, 3) float32 RGB in [0, 1], alpha composited on white."""
    if image.isNull() or image.width() < 1 or image.height() < 1:
        raise ValueError("the image is empty")
    rgba = image.convertToFormat(QtGui.QImage.Format.Format_RGBA8888)
    height, width = rgba.height(), rgba.width()
    buffer = np.frombuffer(rgba.constBits(), np.uint8, rgba.sizeInBytes())
    # Rows may be padded to 4 bytes; slice each row to its pixels.
    pixels = buffer.reshape(height, rgba.bytesPerLine())[:, : width * 4].reshape(height, width, 4)
    return array_to_image(pixels.copy(), name="clipboard image")


def image_from_clipboard(clipboard: QtGui.QClipboard) -> np.ndarray | None:
    """The clipboard's picture as (H, W, 3) float32, or None when it holds no picture.

    A decoded image (a screenshot, "Copy image" in a browser) comes first; then
    encoded bytes (image/png, ...). Copied *files* are not pictures here: use
    :func:`paths_from_mime` on ``clipboard.mimeData()`` for those.
    Raises ImageError when the clipboard's picture cannot be used.
    """
    mime = clipboard.mimeData()
    if mime is None:
        return None
    if mime.hasImage():
        image = clipboard.image()
        if not image.isNull():
            return qimage_to_array(image)
    for fmt in _ENCODED_FORMATS:
        if mime.hasFormat(fmt):
            data = bytes(mime.data(fmt).data())
            if data:
                return load_image(data, name="clipboard image")
    return None


def paths_from_mime(mime: QtCore.QMimeData | None) -> list[str]:
    """Local files named by dropped or copied data (URLs, or a pasted path), in order."""
    if mime is None:
        return []
    candidates: list[str] = []
    if mime.hasUrls():
        candidates = [url.toLocalFile() for url in mime.urls() if url.isLocalFile()]
    elif mime.hasText():
        for line in mime.text().splitlines()[:_MAX_TEXT_PATHS]:
            line = line.strip()
            if line.startswith("file:"):
                line = QtCore.QUrl(line).toLocalFile()
            if line:
                candidates.append(line)
    return [path for path in candidates if _is_file(path)]


def _is_file(path: str) -> bool:
    try:
        return bool(path) and Path(path).is_file()
    except (OSError, ValueError):  # pasted prose: too long for a name, or a NUL inside
        return False


def accepts_image_drop(mime: QtCore.QMimeData | None) -> bool:
    """True when a drop carries a picture: image data, or a local file that looks like one.

    A file that only *claims* to be an image (a text file named .png) is
    accepted, so that loading it can say why it is not one.
    """
    if mime is None:
        return False
    if mime.hasImage():
        return True
    return any(looks_like_image_file(path) for path in paths_from_mime(mime))
