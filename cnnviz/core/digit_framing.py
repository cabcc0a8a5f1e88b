"""Frame a digit drawn on the pad the way the training digits were framed.

The bundled digits (UCI optdigits) were normalised by their writers' software
before they were counted: every digit's ink runs from the top row of its
32×32 bitmap to the bottom row (all 1797 of them), the width following the
digit's own proportions, centred left to right. Training then shows the
network copies shrunk to 45–100 % of that height (cnnviz.compute.augment), so
the digits a bundled network has seen most are about 70–100 % of the frame.
A digit drawn small in a corner of the pad looks like none of them and is
misread. So the strokes themselves are moved and scaled until their ink
spans FILL of the frame's height (or of its width, for a digit wider than
tall), centred, then drawn again with the brush they were drawn with: the
strokes keep the pad's brush width instead of being fattened by the scaling.

Measured on the synthetic drawings of tests/drawn_digits.py (10 digits, 5
sizes from a quarter to 85 % of the pad, 5 places, 3 brushes): unframed, the
bundled LeNet-5 reads 59 % and the interview net 57 %; framed with FILL 0.8,
93 % and 100 % (FILL 1.0: 80 % and 97 %).

Pure geometry on point lists; the pad (cnnviz.qt.inputs.draw_pad) does the drawing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

# However small a scribble, it is enlarged at most this much: a dot stays a dot.
MAX_SCALE = 8.0
FILL = 0.8  # of the frame's side that the ink spans, brush included


@dataclass(frozen=True)
class Framing:
    """canvas point p goes to p·scale + (dx, dy); the brush width is unchanged."""

    scale: float = 1.0
    dx: float = 0.0
    dy: float = 0.0

    def apply(self, points: np.ndarray) -> np.ndarray:
        """(N, 2) x, y canvas points, moved and scaled."""
        return np.asarray(points, dtype=np.float64) * self.scale + (self.dx, self.dy)


IDENTITY = Framing()


def frame_strokes(strokes: Sequence[tuple[np.ndarray, float]], size: int) -> Framing:
    """How to move `strokes` ((N, 2) x, y points and brush width each) so their ink,
    brush included, spans FILL of a size×size frame's height (or width), centred."""
    drawn = [(np.asarray(p, dtype=np.float64).reshape(-1, 2), w / 2) for p, w in strokes if len(p)]
    if not drawn:
        return IDENTITY
    target = FILL * size
    if _ink_box(drawn, 0.0)[2] > target:
        return IDENTITY  # the brush alone is wider than the frame: nothing to fit
    scale = _scale_for(drawn, target)
    low, high, _ = _ink_box(drawn, scale)
    dx, dy = size / 2 - (low + high) / 2
    return Framing(scale, float(dx), float(dy))


def _ink_box(drawn: list[tuple[np.ndarray, float]], scale: float):
    """Low and high corners of the ink at `scale` (each stroke widened by its own
    brush radius, which scaling leaves alone) and the longer side's length."""
    low = np.min([p.min(axis=0) * scale - r for p, r in drawn], axis=0)
    high = np.max([p.max(axis=0) * scale + r for p, r in drawn], axis=0)
    return low, high, float((high - low).max())


def _scale_for(drawn: list[tuple[np.ndarray, float]], target: float) -> float:
    """The scale at which the ink's longer side is `target` long (at most MAX_SCALE).
    That length grows with the scale, piecewise linearly (strokes of different
    brushes take turns at the edge), so halving the interval finds it."""
    if _ink_box(drawn, MAX_SCALE)[2] <= target:
        return MAX_SCALE
    low, high = 0.0, MAX_SCALE
    for _ in range(60):  # 8 / 2**60: exact to float precision
        middle = (low + high) / 2
        low, high = (middle, high) if _ink_box(drawn, middle)[2] < target else (low, middle)
    return low
