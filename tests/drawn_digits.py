"""Digits drawn like a person draws them on the pad: thick white strokes on black.

Rendered with Pillow from hand-made stroke paths (points in a unit box, y
down), at the pad's resolution, then shrunk to the network's input size the
way the input panel stretches the pad. Used to check that the bundled weights
read real drawings, not only the dataset they were trained on.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw

from cnnviz.core.preprocess import to_network_input

PAD_SIZE = 280  # cnnviz.qt.inputs.draw_pad's canvas


def _arc(cx, cy, rx, ry, start_deg, end_deg, n=24):
    return [
        (
            cx + rx * math.cos(math.radians(a)),
            cy + ry * math.sin(math.radians(a)),
        )
        for a in np.linspace(start_deg, end_deg, n)
    ]


# Each digit: a list of strokes; each stroke a list of (x, y) in [0, 1].
STROKES = {
    0: [_arc(0.5, 0.5, 0.27, 0.38, 0, 360, 40)],
    1: [[(0.38, 0.24), (0.53, 0.1), (0.53, 0.9)]],
    2: [[*_arc(0.5, 0.32, 0.24, 0.2, 200, 380), (0.26, 0.88), (0.78, 0.88)]],
    3: [_arc(0.48, 0.3, 0.22, 0.18, 210, 450) + _arc(0.48, 0.68, 0.25, 0.2, 270, 510)[1:]],
    4: [[(0.62, 0.9), (0.62, 0.1), (0.2, 0.64), (0.8, 0.64)]],
    5: [[(0.74, 0.12), (0.32, 0.12), (0.3, 0.45), *_arc(0.5, 0.64, 0.24, 0.23, 230, 500)[2:]]],
    6: [[(0.68, 0.1), (0.45, 0.3), (0.3, 0.6), *_arc(0.5, 0.68, 0.21, 0.2, 180, 540)]],
    7: [[(0.22, 0.12), (0.78, 0.12), (0.42, 0.9)]],
    8: [_arc(0.5, 0.29, 0.18, 0.18, 90, 450), _arc(0.5, 0.69, 0.22, 0.21, -90, 270)],
    9: [_arc(0.5, 0.32, 0.2, 0.2, 0, 360), [(0.7, 0.32), (0.64, 0.9)]],
}


def digit_strokes(
    digit: int, *, scale: float = 0.7, offset: tuple[float, float] = (0.0, 0.0)
) -> list[np.ndarray]:
    """The digit's strokes as (N, 2) x, y points on the pad's canvas."""
    margin = (1 - scale) / 2
    return [
        (margin + np.asarray(offset) + scale * np.asarray(stroke)) * PAD_SIZE
        for stroke in STROKES[digit]
    ]


def render_strokes(strokes: list[np.ndarray], brush: int) -> np.ndarray:
    """(PAD_SIZE, PAD_SIZE) float32 in [0, 1]: the strokes drawn with a round brush."""
    pad = Image.new("L", (PAD_SIZE, PAD_SIZE), 0)
    draw = ImageDraw.Draw(pad)
    for stroke in strokes:
        points = [(float(x), float(y)) for x, y in stroke]
        draw.line(points, fill=255, width=brush, joint="curve")
        for x, y in (points[0], points[-1]):  # round pen ends, like a brush
            r = brush / 2
            draw.ellipse((x - r, y - r, x + r, y + r), fill=255)
    return np.asarray(pad, dtype=np.float32) / 255.0


def draw_digit(
    digit: int,
    *,
    scale: float = 0.7,
    offset: tuple[float, float] = (0.0, 0.0),
    brush: int = 22,
) -> np.ndarray:
    """(PAD_SIZE, PAD_SIZE) float32 in [0, 1]: the digit drawn on the pad."""
    return render_strokes(digit_strokes(digit, scale=scale, offset=offset), brush)


def to_input(pad: np.ndarray, size: int) -> np.ndarray:
    """(1, size, size): the pad as the app hands it to the network (default preprocessing)."""
    return to_network_input(pad, 1, size, size)


VARIANTS = [
    {"scale": 0.7, "brush": 26},  # the pad's default brush
    {"scale": 0.85, "brush": 26},
    {"scale": 0.6, "offset": (0.06, -0.04), "brush": 18},
    {"scale": 0.75, "offset": (-0.05, 0.05), "brush": 30},
]


def drawn_set(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Every digit in every variant: images (N, 1, size, size) and labels (N,)."""
    images, labels = [], []
    for variant in VARIANTS:
        for digit in range(10):
            images.append(to_input(draw_digit(digit, **variant), size))
            labels.append(digit)
    return np.stack(images), np.array(labels)
