"""What the Why panel shows of an Explanation, in numbers and words (numpy only).

The overlay is the attribution map divided by ``m``, the 99.5th percentile
of its magnitudes (``CLIP_PERCENTILE``), and clipped to ±1: pixel-level maps
(integrated gradients, guided backprop) put a few extreme values among many
small ones, and scaled by their largest value almost everything would be
drawn as zero. For a smooth map such as Grad-CAM, ``m`` is about its maximum.

- A map with no negative value (Grad-CAM after its ReLU, saliency's
  magnitudes): the overlay is in [0, 1], drawn with a sequential colormap.
- A signed map (a pixel raised or lowered the class score: integrated
  gradients, guided backprop, occlusion): the overlay is in [-1, 1], drawn
  with a diverging colormap whose middle is zero.

The colour bar is labelled in the map's own units, (0, m) or (-m, m), and the
hovered value is the map's own value at that pixel, never the scaled one.
A map that is zero everywhere (a dead layer) stays zero (m is taken as 1);
one whose values are almost all zero is scaled by its largest value.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cnnviz.core.analysis import Analysis
from cnnviz.core.blocks import is_block
from cnnviz.core.explain_jobs import AUTO_STEPS, METHODS

TITLES = {
    "gradcam": "Grad-CAM",
    "guided-backprop": "Guided Backprop",
    "guided-gradcam": "Guided Grad-CAM",
    "saliency": "Saliency (gradient)",
    "integrated-gradients": "Integrated Gradients",
    "occlusion": "Occlusion",
}
assert set(TITLES) == set(METHODS)
CLIP_PERCENTILE = 99.5
LAYER_METHODS = ("gradcam", "guided-gradcam")  # the ones that read a conv layer
SLOW_METHODS = ("integrated-gradients", "occlusion")  # progress and Cancel

WHAT_IT_SHOWS = {
    "gradcam": "where the chosen conv layer's features raise the class score "
    "(gradient-weighted channels, ReLU, upsampled)",
    "guided-backprop": "the gradient of the class score with negative gradients "
    "stopped at every ReLU (only ReLU, as captum: ReLU6 and the others pass their "
    "gradient): fine edges that excite the class",
    "guided-gradcam": "Guided Backprop times Grad-CAM: fine detail, only where Grad-CAM points",
    "saliency": "how much a small change of each pixel would move the class score "
    "(the gradient's magnitude)",
    "integrated-gradients": "each pixel's share of the score change from the baseline "
    "to the image (the shares add up to it)",
    "occlusion": "how much the class score drops when a window of the input is set to 0 "
    "(mean grey for a normalised input) over each place, summed over the input's "
    "channels like every map here (so a colour image shows 3× the drop)",
}


@dataclass(frozen=True)
class ExplainChoice:
    """What the Why panel asks for: the request's fields the person chooses (the
    network, image and weights come from the document)."""

    method: str
    layer: int | None = None  # a conv's flat index (layer methods only; None otherwise)
    target: int | None = None  # None: the top prediction
    baseline: str = "black"
    steps: int = AUTO_STEPS  # integrated gradients: N, or refined until the gap is < 1 %
    window: int = 16
    stride: int = 8


@dataclass(frozen=True)
class Overlay:
    picture: np.ndarray  # (H, W) float32, map / scale
    levels: tuple[float, float]  # of `picture`: (0, 1) or (-1, 1)
    bar: tuple[float, float]  # the colour bar, in the map's units: (0, m) or (-m, m)
    signed: bool
    scale: float  # m
    peak: float  # the largest magnitude (drawn as m when it is beyond)


def overlay(attribution: np.ndarray) -> Overlay:
    """The map scaled and clipped as the module says; signed when it holds a negative value."""
    values = np.asarray(attribution, dtype=np.float32)
    finite = np.nan_to_num(values, nan=0.0, posinf=0.0, neginf=0.0)
    magnitudes = np.abs(finite)
    peak = float(magnitudes.max()) if finite.size else 0.0
    scale = float(np.percentile(magnitudes, CLIP_PERCENTILE)) if finite.size else 0.0
    if scale <= 0.0:
        scale = peak if peak > 0.0 else 1.0
    picture = np.clip(finite / np.float32(scale), -1.0, 1.0).astype(np.float32)
    signed = bool(finite.size and finite.min() < 0.0)
    if signed:
        return Overlay(picture, (-1.0, 1.0), (-scale, scale), True, scale, peak)
    return Overlay(picture, (0.0, 1.0), (0.0, scale), False, scale, peak)


def input_picture(tensor: np.ndarray) -> np.ndarray:
    """The network input as (H, W) grey or (H, W, 3) RGB in [0, 1] (its range stretched
    when it was normalised, e.g. ImageNet's mean/std), for drawing under the map."""
    array = np.asarray(tensor, dtype=np.float32)
    low, high = float(array.min()), float(array.max())
    if not (low >= 0.0 and high <= 1.0):
        array = (array - low) / (high - low if high > low else 1.0)
    if array.shape[0] == 3:
        return np.ascontiguousarray(array.transpose(1, 2, 0))
    return np.ascontiguousarray(array.mean(axis=0))


def conv_layers(analysis: Analysis) -> list[tuple[int, str]]:
    """(flat index, "layer 3.body.0 · Conv2d 64, k3") of every layer Grad-CAM reads
    here: each computable Conv2d, inside blocks too, and each block whose merged
    output has maps (Residual, Parallel), in stack order."""
    found = []
    for info in analysis.layers:
        kind = info.layer.type
        maps = info.computable and len(info.output_shape) == 3
        if maps and (kind == "Conv2d" or is_block(kind)):
            described = info.layer.describe() if kind == "Conv2d" else "output"
            found.append((info.index, f"{info.name} · {kind} {described}".rstrip()))
    return found


def default_layer(analysis: Analysis, selected: int | None) -> int | None:
    """The selected layer when Grad-CAM can read it, else compute's default
    (cnnviz.compute.explain.default_layer): the last Conv2d, or when it sits in a
    block, the top-level block holding it (its output is what the classifier
    reads; inside a ResNet block the last conv is the 1x1 shortcut). None: no conv."""
    if selected in {index for index, _title in conv_layers(analysis)}:
        return selected
    convs = [info for info in analysis.layers if info.layer.type == "Conv2d" and info.computable]
    if not convs:
        return None
    last = convs[-1]
    return last.index if last.parent is None else analysis.top_level[last.top].index


def class_name(target: int, classes: tuple[str, ...] | None) -> str:
    if classes is not None and 0 <= target < len(classes):
        return f"{classes[target]} (class {target})"
    return f"class {target}"


def completeness_text(attribution: np.ndarray, delta: float) -> str:
    """Integrated gradients' check in words: the attributions should add up to
    F(x) − F(baseline); `delta` is Σattr − (F(x) − F(baseline))."""
    total = float(np.sum(np.asarray(attribution, dtype=np.float64)))
    change = total - float(delta)
    share = abs(delta) / abs(change) if change != 0 else float("inf")
    verdict = (
        "the attributions account for the score change"
        if share < 0.01
        else "more steps would close the gap"
    )
    percent = f"{share:.2%}" if np.isfinite(share) else "—"
    return (
        f"Completeness: Σ attributions = {total:.4g}, F(image) − F(baseline) = {change:.4g}; "
        f"gap {delta:.3g} ({percent} of the change): {verdict}."
    )
