"""Pictures in: bounded decoding with Pillow into one plain RGB array.

    from cnnviz.core.images import ImageError, load_image, to_network_input, Preprocessing
    try:
        image = load_image(path)            # (H, W, 3) float32 RGB in [0, 1]
    except ImageError as exc:               # str(exc): "photo.png: the file is empty (0 bytes)"
        status_bar.showMessage(str(exc))    # and keep the previous image
    x = to_network_input(image, 3, 224, 224, Preprocessing(resize="crop"))

``load_image(source, *, name=None)`` takes a path or the encoded bytes
(clipboard, drop). What it guarantees:

* orientation from EXIF applied; the first frame of animated or multi-page
  files; alpha composited on white; palette, grey, CMYK and 16-bit
  (I;16 → value / 65535) converted to RGB;
* bounded: a file over ``MAX_FILE_BYTES`` or an image over ``MAX_PIXELS``
  is refused before it is decoded (Pillow's DecompressionBombWarning is an
  error here); large JPEGs are decoded at 1/2, 1/4 or 1/8 size (draft mode);
  the result is at most ``MAX_SIDE`` pixels on its longer side (aspect kept);
* anything else (missing, empty, text, truncated, unknown format,
  unsupported mode) raises ``ImageError`` whose one-line message names the
  file and the reason. Nothing else escapes.

``array_to_image(arr)`` gives the same (H, W, 3) float32 form for raw arrays
(clipboard, drawing pad): uint8/uint16/bool/float, (H, W), (H, W, 1|2|3|4).

``to_network_input`` and ``Preprocessing`` live in
:mod:`cnnviz.core.preprocess` and are re-exported here.
"""

from __future__ import annotations

import io
import logging
import os
import re
import stat
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import numpy as np
from PIL import Image, ImageOps, JpegImagePlugin

from cnnviz.core.preprocess import Preprocessing, resize_plane, to_network_input
from cnnviz.core.safe_files import UnreadableFile, open_regular

__all__ = [
    "IMAGE_EXTENSIONS",
    "MAX_FILE_BYTES",
    "MAX_PIXELS",
    "MAX_SIDE",
    "ImageError",
    "Preprocessing",
    "array_to_image",
    "load_image",
    "looks_like_image_file",
    "to_network_input",
]

log = logging.getLogger(__name__)

MAX_FILE_BYTES = 512 * 1024 * 1024
MAX_PIXELS = 64_000_000  # decoded pixels; a 48-megapixel phone photo fits
MAX_SIDE = 2048  # longer side of the returned array; networks here want far less
IMAGE_EXTENSIONS = (
    ".png", ".jpg", ".jpeg", ".jpe", ".jfif", ".gif", ".bmp", ".dib", ".tif", ".tiff",
    ".webp", ".ppm", ".pgm", ".pbm", ".pnm", ".tga", ".ico", ".psd", ".pcx", ".sgi",
)  # fmt: skip
_JPEG_MAGIC = b"\xff\xd8\xff"
_MAGIC_NAMES = {
    b"\x89PNG": "PNG",
    _JPEG_MAGIC: "JPEG",
    b"GIF8": "GIF",
    b"BM": "BMP",
    b"II*\x00": "TIFF",
    b"MM\x00*": "TIFF",
}
_HIGH_DEPTH_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I", "F")
_ALPHA_MODES = ("LA", "La", "PA", "RGBA", "RGBa")


class ImageError(ValueError):
    """A picture that cannot be used; ``str()`` is "<file>: <reason>" on one line.

    ``ImageError(message)`` with one argument (as pickling does) keeps the message.
    """

    def __init__(self, name: str, reason: str | None = None) -> None:
        super().__init__(name if reason is None else f"{name}: {reason}")
        self.name = name if reason is not None else ""
        self.reason = reason if reason is not None else name


def load_image(
    source: str | os.PathLike[str] | bytes | bytearray | memoryview, *, name: str | None = None
) -> np.ndarray:
    """Decode a file path or encoded bytes into (H, W, 3) float32 RGB in [0, 1]."""
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
        label = name or "pasted image"
        _check_byte_count(label, len(data))
        return _decode(io.BytesIO(data), label)
    path = Path(source)
    label = name or path.name or str(path)
    _check_file(path, label)
    try:
        with open_regular(path) as handle:
            return _decode(handle, label)
    except UnreadableFile:  # swapped for a FIFO or device since _check_file
        raise ImageError(label, "is a pipe or device, not an image file") from None
    except OSError as exc:  # reading failed underneath Pillow (permissions, I/O)
        raise ImageError(label, f"cannot be read ({exc.strerror or exc})") from None


def looks_like_image_file(path: str | os.PathLike[str]) -> bool:
    """True for a file with an image extension or image magic bytes (for drops)."""
    path = Path(path)
    if path.suffix.lower() in IMAGE_EXTENSIONS:
        return True
    try:
        # A FIFO would block open() and a device never end; only files are images.
        with open_regular(path) as handle:
            head = handle.read(16)
    except (OSError, UnreadableFile):
        return False
    return _format_from_magic(head) is not None


def _check_file(path: Path, label: str) -> None:
    try:
        info = path.stat()
        if stat.S_ISDIR(info.st_mode):
            raise ImageError(label, "is a folder, not an image file")
        if not stat.S_ISREG(info.st_mode):  # a FIFO would block, /dev/zero never ends
            raise ImageError(label, "is a pipe or device, not an image file")
        size = info.st_size
    except FileNotFoundError:
        raise ImageError(label, "no such file") from None
    except OSError as exc:
        raise ImageError(label, f"cannot be read ({exc.strerror or exc})") from None
    _check_byte_count(label, size)


def _check_byte_count(label: str, size: int) -> None:
    if size == 0:
        raise ImageError(label, "the file is empty (0 bytes)")
    if size > MAX_FILE_BYTES:
        raise ImageError(
            label, f"the file is {size / 2**20:.0f} MB, over the {MAX_FILE_BYTES // 2**20} MB limit"
        )


def _decode(handle: IO[bytes], label: str) -> np.ndarray:
    head = handle.read(1024)  # magic bytes, and the reason when Pillow cannot identify it
    handle.seek(0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        # A bomb warning raised as an error aborts decoding before the big allocation.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        img, stored_size = _guarded(label, "open", lambda: _open(handle, head), head)
        _check_pixels(label, img, stored_size)
        img = _guarded(label, "decode", lambda: _first_frame_loaded(img))
        img = _oriented(img, label)
        array = _guarded(label, "convert", lambda: _to_rgb_array(img, label))
    for warning in caught:
        log.debug("%s: Pillow warned: %s", label, warning.message)
    return array


def _guarded(label: str, step: str, action: Callable[[], Any], head: bytes = b"") -> Any:
    """Run one Pillow step; every failure becomes an ImageError naming the file."""
    try:
        return action()
    except ImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageError(label, _bomb_reason(str(exc))) from None
    except Image.UnidentifiedImageError:
        raise ImageError(label, _unidentified_reason(label, head)) from None
    except MemoryError:
        raise ImageError(label, "too large to decode in the memory available") from None
    except Exception as exc:  # Pillow raises many kinds on damaged data
        log.debug("%s: %s failed", label, step, exc_info=True)
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if "truncated" in detail.lower():
            raise ImageError(label, "the file is truncated (the image data ends early)") from None
        what = "damaged" if step != "convert" else "not convertible to RGB"
        raise ImageError(label, f"the image data is {what} ({detail})") from None


def _format_from_magic(head: bytes) -> str | None:
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "WebP"
    return next((fmt for magic, fmt in _MAGIC_NAMES.items() if head.startswith(magic)), None)


def _unidentified_reason(label: str, head: bytes) -> str:
    if label.lower().endswith(".svg") or b"<svg" in head.lower():
        return "SVG drawings are not supported; export it as PNG first"
    if head and b"\x00" not in head:
        try:
            head.decode("utf-8")
            return "this is a text file, not an image"
        except UnicodeDecodeError as exc:
            if exc.start >= len(head) - 4:  # a character cut at the end of the sample
                return "this is a text file, not an image"
    known = _format_from_magic(head)
    if known:
        return (
            f"a {known} file that is truncated, damaged or in a pixel format that is not supported"
        )
    return "not an image format that can be read (PNG, JPEG, GIF, BMP, TIFF, WebP, ...)"


def _pixel_count(pixels: int) -> str:
    return f"{pixels / 1e6:.0f} megapixels" if pixels >= 10**6 else f"{pixels:,} pixels"


def _bomb_reason(message: str) -> str:
    found = re.search(r"\((\d+) pixels\)", message)
    size = _pixel_count(int(found.group(1))) if found else "the image"
    limit = min(MAX_PIXELS, Image.MAX_IMAGE_PIXELS or MAX_PIXELS)
    return (
        f"{size} is over the safety limit of {_pixel_count(limit)} "
        "(a possible decompression bomb); not loaded"
    )


def _open(handle: IO[bytes], head: bytes) -> tuple[Image.Image, tuple[int, int]]:
    """The opened (not yet decoded) image and the size its header states."""
    if head.startswith(_JPEG_MAGIC):
        # The JPEG plugin directly, without Image.open's pixel check: draft mode can
        # decode a huge JPEG at 1/8 size, and _check_pixels judges the reduced size.
        img = JpegImagePlugin.JpegImageFile(handle)
        stored = img.size
        target = _capped_size(*stored)
        if target is not None:
            img.draft(img.mode, target)  # 1/2, 1/4 or 1/8 while still at least `target`
        return img, stored
    img = Image.open(handle)
    return img, img.size


def _check_pixels(label: str, img: Image.Image, stored: tuple[int, int]) -> None:
    """Refuse before decoding: no pixels, or more than MAX_PIXELS to decode."""
    width, height = stored
    if width < 1 or height < 1:
        raise ImageError(label, f"the image has no pixels ({width}×{height})")
    decoded = img.size[0] * img.size[1]
    if decoded > MAX_PIXELS:
        reduced = "" if img.size == stored else f"; {_pixel_count(decoded)} even at reduced size"
        raise ImageError(
            label,
            f"{width}×{height} pixels ({_pixel_count(width * height)}{reduced}) is over the "
            f"safety limit of {_pixel_count(MAX_PIXELS)} (a possible decompression bomb); "
            "not loaded",
        )


def _first_frame_loaded(img: Image.Image) -> Image.Image:
    # Pillow opens animated and multi-page files at their first frame; asking for
    # n_frames would read a whole GIF, so the frame is simply loaded where it is.
    img.load()
    return img


def _oriented(img: Image.Image, label: str) -> Image.Image:
    """EXIF orientation applied; a broken EXIF block only loses the rotation."""
    try:
        return ImageOps.exif_transpose(img)
    except Exception:  # metadata is optional: the pixels are still good
        log.info("%s: EXIF orientation unreadable, image used as stored", label, exc_info=True)
        return img


def _to_rgb_array(img: Image.Image, label: str) -> np.ndarray:
    mode = img.mode
    if mode in _HIGH_DEPTH_MODES:
        return _cap_float(_high_depth_to_float(img))
    if mode == "1":
        img = img.convert("L")
    elif mode in _ALPHA_MODES or "transparency" in img.info:
        img = img.convert("RGBA")
    elif mode not in ("L", "RGB"):
        try:
            img = img.convert("RGB")
        except ValueError:
            raise ImageError(label, f"colour mode {mode} is not supported") from None
    img = _cap_pillow(img)
    return _composite_on_white(np.asarray(img, dtype=np.float32) / 255.0)


def _capped_size(width: int, height: int) -> tuple[int, int] | None:
    longer = max(width, height)
    if longer <= MAX_SIDE:
        return None
    scale = MAX_SIDE / longer
    return max(1, round(width * scale)), max(1, round(height * scale))


def _cap_pillow(img: Image.Image) -> Image.Image:
    size = _capped_size(*img.size)
    if size is None:
        return img
    # Pillow resizes RGBA premultiplied, so colours under transparency do not bleed.
    return img.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)


def _cap_float(rgb: np.ndarray) -> np.ndarray:
    size = _capped_size(rgb.shape[1], rgb.shape[0])
    if size is None:
        return rgb
    width, height = size
    planes = [resize_plane(rgb[:, :, c], height, width) for c in range(3)]
    return np.ascontiguousarray(np.clip(np.stack(planes, axis=2), 0.0, 1.0))


def _high_depth_to_float(img: Image.Image) -> np.ndarray:
    """16-bit, 32-bit integer and float greyscale → (H, W, 3) in [0, 1]."""
    values = np.asarray(img).astype(np.float32)
    if img.mode.startswith("I;16"):
        grey = values / 65535.0
    elif img.mode == "I" and values.min() >= 0 and values.max() <= 65535:
        grey = values / 65535.0  # 16-bit data that Pillow keeps as 32-bit integers
    elif img.mode == "F" and values.min() >= 0 and values.max() <= 1:
        grey = values
    else:  # an arbitrary range (e.g. scientific data): stretched to [0, 1]
        finite = np.nan_to_num(values, nan=0.0, posinf=0.0, neginf=0.0)
        low, high = float(finite.min()), float(finite.max())
        grey = (finite - low) / (high - low) if high > low else np.zeros_like(finite)
    return np.ascontiguousarray(np.repeat(grey[:, :, None], 3, axis=2), dtype=np.float32)


def _composite_on_white(array: np.ndarray) -> np.ndarray:
    """(H, W), (H, W, 1|2|3|4) float in [0, 1] → (H, W, 3), alpha over white."""
    if array.ndim == 2:
        array = array[:, :, None]
    channels = array.shape[2]
    if channels in (2, 4):
        alpha = array[:, :, -1:]
        colour = array[:, :, :-1]
        array = colour * alpha + (1.0 - alpha)
    if array.shape[2] == 1:
        array = np.repeat(array, 3, axis=2)
    return np.ascontiguousarray(np.clip(array, 0.0, 1.0), dtype=np.float32)


def array_to_image(arr: np.ndarray, *, name: str = "image") -> np.ndarray:
    """A raw pixel array as (H, W, 3) float32 RGB in [0, 1] (alpha over white).

    Accepts uint8 (0-255), uint16 (0-65535), bool, or float already in [0, 1];
    shapes (H, W), (H, W, 1), (H, W, 2) grey+alpha, (H, W, 3), (H, W, 4) RGBA.
    """
    array = np.asarray(arr)
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (1, 2, 3, 4)):
        raise ImageError(name, f"shape {array.shape} is not (H, W) or (H, W, 1-4 channels)")
    height, width = array.shape[:2]
    if height < 1 or width < 1:
        raise ImageError(name, f"the image has no pixels ({width}×{height})")
    if height * width > MAX_PIXELS:
        raise ImageError(
            name, f"{width}×{height} pixels is over the {MAX_PIXELS / 1e6:.0f} MP limit"
        )
    values = _scaled_to_unit(array, name)
    return _cap_float(_composite_on_white(values))


def _scaled_to_unit(array: np.ndarray, name: str) -> np.ndarray:
    if array.dtype == np.uint8:
        return array.astype(np.float32) / 255.0
    if array.dtype == np.uint16:
        return array.astype(np.float32) / 65535.0
    if array.dtype == np.bool_:
        return array.astype(np.float32)
    if np.issubdtype(array.dtype, np.floating):
        values = array.astype(np.float32)
        if not np.isfinite(values).all() or values.min() < 0.0 or values.max() > 1.0:
            raise ImageError(name, "float pixel values must be finite and lie in [0, 1]")
        return values
    raise ImageError(name, f"pixel type {array.dtype} is not supported (use uint8 or float)")
