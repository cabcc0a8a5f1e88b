"""Image loading and preprocessing speed: figures printed, nothing asserted.

    python tests/benchmarks/bench_images.py

Side by side in one run:
* a 48-megapixel phone-sized JPEG: cnnviz's load_image (draft mode, bounded
  to 2048 px) against a plain full-size Pillow decode to float;
* to_network_input from a 2048×1536 picture to 3×224×224 (each resize policy);
* the drawing pad's live path: canvas → array → 1×28×28 network input.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from cnnviz.core.images import array_to_image, load_image
from cnnviz.core.preprocess import Preprocessing, to_network_input


def best_ms(action: Callable[[], object], repeats: int = 5) -> tuple[float, float]:
    """(best, median) wall time in milliseconds over `repeats` runs."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        times.append((time.perf_counter() - start) * 1000)
    return min(times), statistics.median(times)


def photo(width: int, height: int) -> Image.Image:
    """A photo-like picture: smooth gradients plus fine texture (JPEG-realistic)."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    rng = np.random.default_rng(0)
    texture = rng.normal(0, 12, (height // 8 + 1, width // 8 + 1)).astype(np.float32)
    texture = np.kron(texture, np.ones((8, 8), np.float32))[:height, :width]
    channels = [
        128 + 100 * np.sin(x / 300) + texture,
        128 + 100 * np.cos(y / 250) + texture,
        128 + 60 * np.sin((x + y) / 500) + texture,
    ]
    return Image.fromarray(np.clip(np.stack(channels, axis=2), 0, 255).astype(np.uint8))


def plain_pillow(path: Path) -> np.ndarray:
    with Image.open(path) as img:
        return np.asarray(img.convert("RGB"), dtype=np.float32) / 255.0


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "phone.jpg"
        photo(8000, 6000).save(path, quality=90)
        size_mb = path.stat().st_size / 2**20
        ours = best_ms(lambda: load_image(path), repeats=3)
        plain = best_ms(lambda: plain_pillow(path), repeats=3)
        shape = load_image(path).shape
    print(f"48 MP JPEG ({size_mb:.1f} MB) → load_image {shape}: best {ours[0]:.0f} ms")
    print(f"   plain Pillow full decode to float (6000, 8000, 3): best {plain[0]:.0f} ms")
    print(f"   ratio plain / load_image: {plain[0] / ours[0]:.1f}×")

    picture = np.asarray(photo(2048, 1536), dtype=np.float32) / 255.0
    for policy in ("stretch", "crop", "letterbox"):
        prep = Preprocessing(resize=policy, normalize="imagenet")
        best, median = best_ms(lambda p=prep: to_network_input(picture, 3, 224, 224, p), 10)
        print(f"to_network_input 2048×1536 → 3×224×224 {policy:9s}: best {best:.1f} ms, "
              f"median {median:.1f} ms")  # fmt: skip

    drawing = np.zeros((280, 280), np.float32)
    drawing[100:180, 60:220] = 1.0
    best, median = best_ms(lambda: to_network_input(array_to_image(drawing), 1, 28, 28), 50)
    print(f"pad 280×280 → 1×28×28 input: best {best:.2f} ms, median {median:.2f} ms")


if __name__ == "__main__":
    main()
