"""Translation invariance, measured (issue 19): shift the input, compare every layer.

A convolution is *equivariant* to translation: move the input by k pixels and
the map moves by k / stride cells, values unchanged, wherever borders play no
part. Pooling and striding make that move smaller, and the values at a
position change less and less: the network grows *invariant* only
approximately, layer by layer. Two numbers per layer say how far:

* equivariance error: the shifted input's map against the original map moved
  by (dy, dx) / total stride cells, on the *interior*: cells whose receptive
  field lies inside the image both before and after the shift (there the two
  maps see the same pixels, so a conv/pool stack gives 0 to float precision).
  Only defined when the shift is a whole number of cells at the layer; when
  no cell has such a field (fields wider than the image) the overlap of the
  two maps is compared instead, and the row says so;
* invariance error: ‖f(shifted x) − f(x)‖ / ‖f(x)‖ over the whole output, the
  same positions compared (no moving back): what a classifier on top sees.

The shift fills with zeros what enters and loses what leaves (``shift_image``):
zeros of the network input, after its normalisation (black for a 0…1 digit,
the mean colour for a normalised photograph). Numpy only; the two forwards are
cnnviz.compute.translation's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from cnnviz.core.analysis import Analysis, LayerInfo
from cnnviz.core.receptive_field import ReceptiveField

FILL = "zeros"  # what enters the image where the shift moved it away
NOT_WHOLE = "not a whole number of cells at this layer"
NO_GRID = "not a spatial map on a regular grid"
ONE_CELL = "a single cell per channel: nothing to move"
OVERLAP = "fields wider than the image: compared on the overlap of the maps"


def shift_image(image: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """`image` (..., H, W) moved dy pixels down and dx right (negative: up, left).

    What leaves the frame is lost; what enters is zeros (FILL), never wrapped round.
    """
    h, w = image.shape[-2:]
    out = np.zeros_like(image)
    if abs(dy) >= h or abs(dx) >= w:
        return out
    rows_to, rows_from = _spans(dy, h)
    cols_to, cols_from = _spans(dx, w)
    out[..., rows_to, cols_to] = image[..., rows_from, cols_from]
    return out


def _spans(d: int, n: int) -> tuple[slice, slice]:
    """Destination and source slices of a shift by d along an axis of n."""
    return slice(max(d, 0), n + min(d, 0)), slice(max(-d, 0), n - max(d, 0))


def axis_shift(pixels: int, axis: str) -> tuple[int, int]:
    """(dy, dx) for a shift of `pixels` along "x" (right) or "y" (down)."""
    if axis not in ("x", "y"):
        raise ValueError(f"axis must be x or y, not {axis!r}")
    return (pixels, 0) if axis == "y" else (0, pixels)


@dataclass(frozen=True)
class LayerShift:
    """One layer's comparison of the original and the shifted forward."""

    address: str  # "input", or the torch module name ("3", "5")
    type: str
    shape: tuple[int, ...]
    stride: tuple[int, int] | None  # total stride (px per cell); None: no regular grid
    cells: tuple[float, float] | None  # (dy, dx) in cells at this layer
    equivariance: float | None  # relative error; None: not defined (see note)
    invariance: float  # ‖f(shift x) − f(x)‖ / ‖f(x)‖, whole output
    compared: int  # cells compared for equivariance (per channel)
    note: str = ""  # why equivariance is missing, or how its cells were chosen
    pooling: bool = False  # a pooling layer
    downsamples: bool = False  # its total stride is larger than its input's

    def as_dict(self) -> dict:
        return {
            "layer": self.address,
            "type": self.type,
            "shape": list(self.shape),
            "stride": list(self.stride) if self.stride else None,
            "cells": list(self.cells) if self.cells else None,
            "equivariance_error": self.equivariance,
            "invariance_error": self.invariance,
            "cells_compared": self.compared,
            "note": self.note,
            "pooling": self.pooling,
        }


@dataclass(frozen=True)
class PredictionShift:
    """Top-1 class and probability before and after the shift."""

    before: int
    before_probability: float
    after: int
    after_probability: float
    # The original top class's probability after the shift minus before.
    change: float

    @classmethod
    def of(cls, before: np.ndarray, after: np.ndarray) -> PredictionShift:
        first, second = int(np.argmax(before)), int(np.argmax(after))
        return cls(
            first,
            float(before[first]),
            second,
            float(after[second]),
            float(after[first]) - float(before[first]),
        )

    def as_dict(self) -> dict:
        return {
            "before": {"class": self.before, "probability": self.before_probability},
            "after": {"class": self.after, "probability": self.after_probability},
            "probability_change": self.change,
        }


@dataclass(frozen=True)
class TranslationReport:
    dy: int
    dx: int
    layers: tuple[LayerShift, ...]
    prediction: PredictionShift | None

    def as_dict(self) -> dict:
        return {
            "shift": {"dy": self.dy, "dx": self.dx, "fill": FILL},
            "layers": [row.as_dict() for row in self.layers],
            "prediction": self.prediction.as_dict() if self.prediction else None,
        }


def relative_error(moved: np.ndarray, reference: np.ndarray) -> float:
    """‖moved − reference‖ / ‖reference‖ (in float64); the absolute norm when the
    reference is all zeros, so a map that stays zero has error 0."""
    a, b = moved.astype(np.float64).ravel(), reference.astype(np.float64).ravel()
    diff, size = float(np.linalg.norm(a - b)), float(np.linalg.norm(b))
    return diff / size if size > 0 else diff


def _grid(info_rf: ReceptiveField | None, shape: tuple[int, ...]) -> tuple[int, int] | None:
    """The total stride of a spatial map on a regular grid, else None."""
    if info_rf is None or len(shape) != 3:
        return None
    if info_rf.is_global or info_rf.flattened or not info_rf.regular:
        return None
    return (int(info_rf.jump[0]), int(info_rf.jump[1]))


def _inside(rf: ReceptiveField, count: int, axis: int, size: int, shift: int) -> np.ndarray:
    """Per cell along `axis`: its field lies in [0, size) before and after `shift`."""
    lo, hi = [], []
    for i in range(count):
        box = rf.unclipped_box(i, 0) if axis == 0 else rf.unclipped_box(0, i)
        lo.append(box[axis])
        hi.append(box[axis + 2])
    lo, hi = np.array(lo), np.array(hi)
    return (lo >= 0) & (hi <= size) & (lo + shift >= 0) & (hi + shift <= size)


def _moved_pairs(n: int, cells: int, keep: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Original cells i (kept, with i + cells inside the map) and their moved places."""
    i = np.arange(n)
    ok = (i + cells >= 0) & (i + cells < n)
    if keep is not None:
        ok &= keep
    return i[ok], i[ok] + cells


def equivariance(
    original: np.ndarray,
    shifted: np.ndarray,
    rf: ReceptiveField,
    stride: tuple[int, int],
    shift: tuple[int, int],
    input_hw: tuple[int, int],
) -> tuple[float | None, int, str]:
    """(relative error, cells compared, note) of `shifted` against `original`
    moved by `shift` / `stride` cells (maps (C, h, w))."""
    (dy, dx), (sy, sx) = shift, stride
    if dy % sy or dx % sx:
        return None, 0, NOT_WHOLE
    cy, cx = dy // sy, dx // sx
    h, w = original.shape[-2:]
    keep_r = _inside(rf, h, 0, input_hw[0], dy)
    keep_c = _inside(rf, w, 1, input_hw[1], dx)
    note = ""
    rows, rows_to = _moved_pairs(h, cy, keep_r)
    cols, cols_to = _moved_pairs(w, cx, keep_c)
    if rows.size == 0 or cols.size == 0:
        note = OVERLAP
        rows, rows_to = _moved_pairs(h, cy, None)
        cols, cols_to = _moved_pairs(w, cx, None)
    if rows.size == 0 or cols.size == 0:
        return None, 0, "the shift moves the whole map out of the frame"
    reference = original[:, rows[:, None], cols[None, :]]
    moved = shifted[:, rows_to[:, None], cols_to[None, :]]
    return relative_error(moved, reference), int(rows.size * cols.size), note


def _is_pooling(type_name: str) -> bool:
    return "Pool" in type_name


def layer_shift(
    info: LayerInfo | None,
    original: np.ndarray,
    shifted: np.ndarray,
    shift: tuple[int, int],
    input_hw: tuple[int, int],
    previous_stride: tuple[int, int] | None,
) -> LayerShift:
    """The comparison for one layer (`info` None: the input itself, stride 1)."""
    if info is None:
        rf, address, kind = ReceptiveField(), "input", "input"
    else:
        rf, address, kind = info.receptive_field, info.address, info.layer.type
    stride = _grid(rf, original.shape)
    cells, error, compared, note = None, None, 0, NO_GRID
    if stride is not None and original.shape[-2:] == (1, 1):
        # A global pool's output: its "stride" is the whole image, k/stride meaningless.
        stride, note = None, ONE_CELL
    if stride is not None:
        cells = (shift[0] / stride[0], shift[1] / stride[1])
        error, compared, note = equivariance(original, shifted, rf, stride, shift, input_hw)
    grows = (
        stride is not None
        and previous_stride is not None
        and any(a > b for a, b in zip(stride, previous_stride, strict=True))
    )
    return LayerShift(
        address,
        kind,
        tuple(original.shape),
        stride,
        cells,
        error,
        relative_error(shifted, original),
        compared,
        note,
        _is_pooling(kind),
        bool(grows),
    )


def compare_forwards(
    analysis: Analysis,
    image: np.ndarray,
    originals: Sequence[np.ndarray],
    shifteds: Sequence[np.ndarray],
    shift: tuple[int, int],
    probabilities: tuple[np.ndarray, np.ndarray] | None = None,
) -> TranslationReport:
    """Every top-level layer's LayerShift, the input first.

    `image` is the original network input (C, H, W); `originals` and `shifteds`
    each layer's output by flat index (Analysis.layers), without the batch
    axis; `probabilities` the class probabilities of both forwards, if any.
    """
    input_hw = tuple(image.shape[-2:])
    rows = [layer_shift(None, image, shift_image(image, *shift), shift, input_hw, None)]
    for info in analysis.top_level:
        if info.index >= len(originals) or not info.computable:
            break
        previous = rows[-1].stride
        row = layer_shift(
            info, originals[info.index], shifteds[info.index], shift, input_hw, previous
        )
        rows.append(row)
    prediction = PredictionShift.of(*probabilities) if probabilities is not None else None
    return TranslationReport(shift[0], shift[1], tuple(rows), prediction)
