"""A corpus of awkward image files, generated on the spot (nothing downloaded).

    from tests.image_corpus import write_corpus, CORPUS_ERRORS
    files = write_corpus(tmp_path)          # {name: Path}
    for name, path in files.items():
        if name in CORPUS_ERRORS:           # must give a one-line error whose
            ...                             # reason contains CORPUS_ERRORS[name]
        else:
            ...                             # must load; EXPECTED_SHAPES gives (H, W)

Every decodable file has known pixel values (documented next to its writer)
so a loader can be checked by values, not just by "it did not crash".
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

# name → a phrase the error reason must contain (case-insensitive).
CORPUS_ERRORS: dict[str, str] = {
    "truncated_png": "truncated",
    "truncated_png_header": "truncated",
    "truncated_jpeg": "truncated",
    "empty": "empty",
    "text_named_png": "text file",
    "bomb_png": "decompression bomb",
    "bomb_jpeg": "decompression bomb",
    "zero_width_png": "png",
    "float_rgb_tiff": "pixel format",
    "random_bytes": "not an image format",
}

# name → (height, width) that load_image must return (before any network resize).
EXPECTED_SHAPES: dict[str, tuple[int, int]] = {
    "cmyk_jpeg": (16, 16),
    "grey16_png": (4, 3),
    "grey16_tiff": (4, 3),
    "rgba_png": (2, 2),
    "la_png": (2, 2),
    "palette_transparent_png": (2, 2),
    "animated_gif": (8, 8),
    "exif_rotated_jpeg": (64, 48),  # stored 48 tall × 64 wide, orientation 6
    "one_pixel_png": (1, 1),
    "strip_1x5000_png": (2048, 1),  # 5000 tall: reduced to MAX_SIDE (2048)
    "bilevel_png": (2, 4),
    "png_named_jpg": (3, 5),
    "large_jpeg": (1536, 2048),  # 4000 × 3000, reduced (draft mode + resize)
}

RGBA_RED_HALF = (255, 0, 0, 128)  # on white → (1, 127/255, 127/255)
CMYK_RED = (0, 255, 255, 0)  # → RGB (1, 0, 0)
ANIMATION_COLOURS = ((255, 0, 0), (0, 255, 0), (0, 0, 255))  # the first frame is red
PIXEL_COLOUR = (10, 200, 30)


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims width × height (8-bit RGB) and whose data is tiny."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", idat)
        + _png_chunk(b"IEND", b"")
    )


def _encoded(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def _noise(width: int = 64, height: int = 48) -> Image.Image:
    """Seeded noise: incompressible, so half of the file really lacks half of the data."""
    rng = np.random.default_rng(5)
    return Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8))


def _half(data: bytes) -> bytes:
    return data[: len(data) // 2]


def _jpeg_with_size(width: int, height: int) -> bytes:
    """A small valid JPEG whose SOF0 header is patched to claim width × height."""
    data = bytearray(_encoded(Image.new("RGB", (16, 16), "grey"), "JPEG"))
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def _tiff_float_rgb(width: int = 2, height: int = 2) -> bytes:
    """A hand-written TIFF with 32-bit float RGB samples: a pixel format Pillow lacks."""
    pixels = struct.pack(f"<{width * height * 3}f", *([0.5] * (width * height * 3)))
    count = 11
    bits_at = 8 + 2 + count * 12 + 4
    format_at, data_at = bits_at + 6, bits_at + 12
    tags = [
        (256, 3, 1, width), (257, 3, 1, height), (258, 3, 3, bits_at), (259, 3, 1, 1),
        (262, 3, 1, 2), (273, 4, 1, data_at), (277, 3, 1, 3), (278, 3, 1, height),
        (279, 4, 1, len(pixels)), (284, 3, 1, 1), (339, 3, 3, format_at),
    ]  # fmt: skip
    out = b"II*\x00" + struct.pack("<IH", 8, count)
    for tag, kind, n, value in tags:
        if kind == 3 and n == 1:  # one SHORT sits inline, padded to four bytes
            out += struct.pack("<HHIHH", tag, kind, n, value, 0)
        else:
            out += struct.pack("<HHII", tag, kind, n, value)
    out += struct.pack("<I", 0) + struct.pack("<3H", 32, 32, 32) + struct.pack("<3H", 3, 3, 3)
    return out + pixels


def _grey16() -> Image.Image:
    """4 × 3, I;16: row 0 = 0, 32768, 65535; other rows 65535."""
    array = np.full((4, 3), 65535, np.uint16)
    array[0] = (0, 32768, 65535)
    return Image.fromarray(array)


def _rgba() -> Image.Image:
    """2 × 2: red at alpha 128, transparent green, opaque blue, opaque black."""
    array = np.array(
        [[RGBA_RED_HALF, (0, 255, 0, 0)], [(0, 0, 255, 255), (0, 0, 0, 255)]], np.uint8
    )
    return Image.fromarray(array, "RGBA")


def _la() -> Image.Image:
    """2 × 2 grey+alpha: black at alpha 128, grey 100 opaque, white transparent, black opaque."""
    array = np.array([[(0, 128), (100, 255)], [(255, 0), (0, 255)]], np.uint8)
    return Image.fromarray(array, "LA")


def _palette_transparent() -> Image.Image:
    """2 × 2 palette image: index 0 (transparent), 1 = red, 2 = blue, 1 = red."""
    image = Image.new("P", (2, 2))
    image.putpalette([0, 255, 0, 255, 0, 0, 0, 0, 255] + [0] * (256 * 3 - 9))
    image.putdata([0, 1, 2, 1])
    image.info["transparency"] = 0
    return image


def _animated_gif() -> bytes:
    frames = [Image.new("RGB", (8, 8), colour) for colour in ANIMATION_COLOURS]
    return _encoded(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100)


def exif_pattern() -> np.ndarray:
    """The stored pixels of exif_rotated_jpeg: 48 × 64, white block top-left, grey top-right."""
    array = np.zeros((48, 64), np.uint8)
    array[:16, :16] = 255
    array[:16, -16:] = 128
    return array


def _exif_rotated() -> bytes:
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    return _encoded(Image.fromarray(exif_pattern()), "JPEG", quality=95, exif=exif)


def _strip() -> Image.Image:
    """1 wide × 5000 tall, a vertical ramp from 0 (top) to 255 (bottom)."""
    ramp = np.round(np.linspace(0, 255, 5000)).astype(np.uint8)
    return Image.fromarray(ramp.reshape(5000, 1))


def _large_jpeg() -> bytes:
    """4000 × 3000: left half white, right half black."""
    array = np.zeros((3000, 4000), np.uint8)
    array[:, :2000] = 255
    return _encoded(Image.fromarray(array), "JPEG", quality=90)


def _bilevel() -> Image.Image:
    """Mode "1", 2 × 4: a checkerboard starting with white."""
    array = (np.indices((2, 4)).sum(axis=0) % 2 == 0).astype(np.uint8) * 255
    return Image.fromarray(array).convert("1")


_WRITERS: dict[str, tuple[str, Callable[[], bytes]]] = {
    "truncated_png": ("truncated.png", lambda: _half(_encoded(_noise(), "PNG"))),
    "truncated_png_header": ("cut_header.png", lambda: _encoded(_noise(), "PNG")[:40]),
    "truncated_jpeg": ("truncated.jpg", lambda: _half(_encoded(_noise(), "JPEG"))),
    "empty": ("empty.png", lambda: b""),
    "text_named_png": ("notes.png", lambda: b"This is not a picture.\nJust text.\n"),
    "bomb_png": ("bomb.png", lambda: _png_header_only(30000, 30000)),
    "bomb_jpeg": ("bomb.jpg", lambda: _jpeg_with_size(65000, 65000)),
    "zero_width_png": ("zero_width.png", lambda: _png_header_only(0, 10)),
    "float_rgb_tiff": ("float_rgb.tif", _tiff_float_rgb),
    "random_bytes": ("random.dat", lambda: bytes(range(256)) * 4),
    "cmyk_jpeg": ("cmyk.jpg", lambda: _encoded(Image.new("CMYK", (16, 16), CMYK_RED), "JPEG")),
    "grey16_png": ("grey16.png", lambda: _encoded(_grey16(), "PNG")),
    "grey16_tiff": ("grey16.tif", lambda: _encoded(_grey16(), "TIFF")),
    "rgba_png": ("rgba.png", lambda: _encoded(_rgba(), "PNG")),
    "la_png": ("la.png", lambda: _encoded(_la(), "PNG")),
    "palette_transparent_png": ("palette.png", lambda: _encoded(_palette_transparent(), "PNG")),
    "animated_gif": ("animated.gif", _animated_gif),
    "exif_rotated_jpeg": ("rotated.jpg", _exif_rotated),
    "one_pixel_png": ("pixel.png", lambda: _encoded(Image.new("RGB", (1, 1), PIXEL_COLOUR), "PNG")),
    "strip_1x5000_png": ("strip.png", lambda: _encoded(_strip(), "PNG")),
    "bilevel_png": ("bilevel.png", lambda: _encoded(_bilevel(), "PNG")),
    "png_named_jpg": ("actually_png.jpg", lambda: _encoded(Image.new("RGB", (5, 3), "red"), "PNG")),
    "large_jpeg": ("large.jpg", _large_jpeg),
}


def write_corpus(folder: str | Path) -> dict[str, Path]:
    """Write every corpus file into `folder`; {name: path}."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, (file_name, make) in _WRITERS.items():
        path = folder / file_name
        path.write_bytes(make())
        paths[name] = path
    return paths
