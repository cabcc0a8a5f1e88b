"""From a loaded picture to exactly the tensor the network sees (numpy + Pillow).

    prep = Preprocessing(resize="crop", normalize="imagenet")
    x = to_network_input(image, channels=3, height=224, width=224, prep=prep)
    # x: (3, 224, 224) float32, C-contiguous

`image` is what :func:`cnnviz.core.images.load_image` returns: (H, W, 3)
float32 RGB in [0, 1] (an (H, W) grey array is accepted too). The steps, in
order:

1. channels: 1 → luminance (ITU-R BT.601: 0.299 R + 0.587 G + 0.114 B);
   3 → RGB (a grey picture gives three equal channels); any other count →
   the luminance repeated in every channel;
2. ``invert`` → 1 − value (dark-on-light photos of digits become white on
   black, the convention of the bundled digits and the drawing pad);
3. resize to (height, width): ``stretch`` (aspect ignored), ``crop`` (scale
   to cover, cut the centre) or ``letterbox`` (scale to fit, pad with
   ``fill``); Pillow's filters, antialiased when shrinking. ``crop_fraction``
   below 1 cuts a smaller centre: torchvision's ImageNet evaluation (resize the
   short side to 256, cut the centre 224×224) is ``crop`` with 224/256 = 0.875;
4. normalise: ``none`` (values stay in [0, 1]), ``imagenet`` (mean
   0.485/0.456/0.406, std 0.229/0.224/0.225; for other channel counts their
   averages) or ``mean_std`` (``mean`` and ``std``, one value or one per channel).

`Preprocessing` is frozen and JSON-friendly (``to_json``/``from_json``) so a
project file can store it, and an architecture file can declare the one its
network was trained with (``"preprocessing": {...}``, see :func:`declared`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from PIL import Image

RESIZE_POLICIES = ("stretch", "crop", "letterbox")
NORMALIZATIONS = ("none", "imagenet", "mean_std")
INTERPOLATIONS = ("bilinear", "bicubic", "nearest")
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
LUMA_WEIGHTS = (0.299, 0.587, 0.114)
MAX_INPUT_VALUES = 64 * 1024 * 1024  # C·H·W; far beyond any network this app can draw

_RESAMPLE = {
    "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC,
    "nearest": Image.Resampling.NEAREST,
}


def _float_tuple(name: str, values: Any) -> tuple[float, ...]:
    if isinstance(values, int | float):
        values = (values,)
    try:
        result = tuple(float(v) for v in values)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number or a list of numbers, not {values!r}") from None
    if not result or not all(math.isfinite(v) for v in result):
        raise ValueError(f"{name} must be one or more finite numbers, not {values!r}")
    return result


def _check_choice(name: str, value: Any, choices: Sequence[str]) -> None:
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}; got {value!r}")


@dataclass(frozen=True)
class Preprocessing:
    """How a picture becomes the network input (see the module docstring)."""

    resize: str = "stretch"  # stretch | crop | letterbox
    normalize: str = "none"  # none | imagenet | mean_std
    invert: bool = False
    mean: tuple[float, ...] = (0.5,)  # used by normalize="mean_std"
    std: tuple[float, ...] = (0.5,)
    fill: float = 0.0  # letterbox border, in [0, 1] before normalisation
    interpolation: str = "bilinear"  # bilinear | bicubic | nearest
    crop_fraction: float = 1.0  # resize="crop": the share of the covered side kept

    def __post_init__(self) -> None:
        _check_choice("resize", self.resize, RESIZE_POLICIES)
        _check_choice("normalize", self.normalize, NORMALIZATIONS)
        _check_choice("interpolation", self.interpolation, INTERPOLATIONS)
        mean = _float_tuple("mean", self.mean)
        std = _float_tuple("std", self.std)
        if any(s <= 0 for s in std):
            raise ValueError(f"std must be positive, not {self.std!r}")
        fill = float(self.fill)
        if not 0.0 <= fill <= 1.0:
            raise ValueError(f"fill must lie in [0, 1], not {self.fill!r}")
        fraction = _float_tuple("crop_fraction", self.crop_fraction)
        if len(fraction) != 1 or not 0.05 <= fraction[0] <= 1.0:
            raise ValueError(f"crop_fraction must lie in [0.05, 1], not {self.crop_fraction!r}")
        # Frozen: normalise lists from JSON into tuples so instances compare and hash.
        object.__setattr__(self, "mean", mean)
        object.__setattr__(self, "std", std)
        object.__setattr__(self, "fill", fill)
        object.__setattr__(self, "crop_fraction", fraction[0])
        object.__setattr__(self, "invert", bool(self.invert))

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["mean"] = list(self.mean)
        data["std"] = list(self.std)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Preprocessing:
        """From ``to_json`` output; ValueError with a one-line reason if invalid."""
        if not isinstance(data, Mapping):
            raise ValueError(f"preprocessing must be a JSON object, not {type(data).__name__}")
        known = cls.__dataclass_fields__
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise ValueError(f"preprocessing has unknown keys: {', '.join(unknown)}")
        return cls(**dict(data))

    def describe(self, height: int | None = None, width: int | None = None) -> str:
        """A short human line, e.g. ``crop · ImageNet mean/std · inverted``; with the
        input size, a partial crop reads as torchvision's ``resize 256 · crop 224``."""
        parts = [self._describe_resize(height, width)]
        if self.normalize == "imagenet":
            parts.append("ImageNet mean/std")
        elif self.normalize == "mean_std":
            parts.append(f"mean {_fmt(self.mean)} std {_fmt(self.std)}")
        if self.invert:
            parts.append("inverted")
        return " · ".join(parts)

    def _describe_resize(self, height: int | None, width: int | None) -> str:
        if self.resize != "crop" or self.crop_fraction == 1.0:
            return self.resize
        if height is None or width is None:
            return f"crop {self.crop_fraction:.1%} of the centre"
        short = round(min(height, width) / self.crop_fraction)
        size = f"{height}" if height == width else f"{height}×{width}"
        return f"resize {short} · centre crop {size}"


def declared(metadata: Mapping[str, Any]) -> Preprocessing | None:
    """The preprocessing an architecture's metadata declares (None if it declares none);
    ValueError with a one-line reason for an unusable declaration."""
    value = metadata.get("preprocessing")
    if value is None:
        return None
    try:
        return Preprocessing.from_json(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f'"preprocessing": {exc}') from None


def declared_settings(metadata: Mapping[str, Any]) -> dict[str, Any]:
    """The declared preprocessing as a project's settings; {} (the defaults) when none."""
    prep = declared(metadata)
    return prep.to_json() if prep is not None else {}


def _fmt(values: tuple[float, ...]) -> str:
    return "/".join(f"{v:g}" for v in values)


def resize_plane(
    plane: np.ndarray,
    height: int,
    width: int,
    interpolation: str = "bilinear",
    box: tuple[float, float, float, float] | None = None,
) -> np.ndarray:
    """One (H, W) float32 plane resized to (height, width) with Pillow's "F" mode.

    `box` (left, upper, right, lower) in source pixels selects the region to
    scale; Pillow widens its filter when shrinking, so this is antialiased.
    """
    source = Image.fromarray(np.ascontiguousarray(plane, dtype=np.float32))
    if box is None and source.size == (width, height):
        return np.array(plane, dtype=np.float32)
    resized = source.resize((width, height), _RESAMPLE[interpolation], box=box)
    return np.asarray(resized, dtype=np.float32)


def _as_rgb(image: np.ndarray) -> np.ndarray:
    array = np.asarray(image)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim == 2:
        array = np.repeat(array[:, :, None], 3, axis=2)
    if array.ndim != 3 or array.shape[2] != 3 or array.shape[0] < 1 or array.shape[1] < 1:
        raise ValueError(f"expected an (H, W, 3) or (H, W) image, got shape {array.shape}")
    if array.dtype == np.uint8:
        return array.astype(np.float32) / 255.0
    return array.astype(np.float32, copy=False)


def _source_planes(rgb: np.ndarray, channels: int) -> list[np.ndarray]:
    """The distinct planes to resize: 3 for RGB, else one luminance plane."""
    if channels == 3:
        return [rgb[:, :, c] for c in range(3)]
    r, g, b = LUMA_WEIGHTS
    return [r * rgb[:, :, 0] + g * rgb[:, :, 1] + b * rgb[:, :, 2]]


def _crop_box(
    h0: int, w0: int, height: int, width: int, fraction: float = 1.0
) -> tuple[float, float, float, float]:
    """The centred region of the source with the target's aspect ratio, `fraction`
    of the largest such region on each side."""
    target_aspect = width / height
    if w0 / h0 > target_aspect:
        crop_h = float(h0) * fraction
        crop_w = crop_h * target_aspect
    else:
        crop_w = float(w0) * fraction
        crop_h = crop_w / target_aspect
    left, top = (w0 - crop_w) / 2, (h0 - crop_h) / 2
    return (left, top, left + crop_w, top + crop_h)


def _resize(plane: np.ndarray, height: int, width: int, prep: Preprocessing) -> np.ndarray:
    h0, w0 = plane.shape
    if prep.resize == "stretch":
        return resize_plane(plane, height, width, prep.interpolation)
    if prep.resize == "crop":
        box = _crop_box(h0, w0, height, width, prep.crop_fraction)
        return resize_plane(plane, height, width, prep.interpolation, box=box)
    scale = min(height / h0, width / w0)
    fit_h = min(height, max(1, round(h0 * scale)))
    fit_w = min(width, max(1, round(w0 * scale)))
    canvas = np.full((height, width), prep.fill, dtype=np.float32)
    top, left = (height - fit_h) // 2, (width - fit_w) // 2
    canvas[top : top + fit_h, left : left + fit_w] = resize_plane(
        plane, fit_h, fit_w, prep.interpolation
    )
    return canvas


def _mean_std(prep: Preprocessing, channels: int) -> tuple[np.ndarray, np.ndarray] | None:
    if prep.normalize == "none":
        return None
    if prep.normalize == "imagenet":
        if channels == 3:
            mean, std = IMAGENET_MEAN, IMAGENET_STD
        else:  # grey planes: the averages, as is usual for 1-channel ImageNet inputs
            mean, std = (sum(IMAGENET_MEAN) / 3,), (sum(IMAGENET_STD) / 3,)
    else:
        mean, std = prep.mean, prep.std
        for name, values in (("mean", mean), ("std", std)):
            if len(values) not in (1, channels):
                raise ValueError(
                    f"normalisation {name} has {len(values)} values but the network input "
                    f"has {channels} channel(s); give 1 value or {channels}"
                )
    shape = (-1, 1, 1)
    mean_arr = np.broadcast_to(np.asarray(mean, np.float32).reshape(shape), (channels, 1, 1))
    std_arr = np.broadcast_to(np.asarray(std, np.float32).reshape(shape), (channels, 1, 1))
    return mean_arr, std_arr


def to_network_input(
    image: np.ndarray,
    channels: int,
    height: int,
    width: int,
    prep: Preprocessing | None = None,
) -> np.ndarray:
    """`image` as the (channels, height, width) float32 C-contiguous network input.

    ValueError (one line) for an unusable shape or a normalisation that does
    not fit the channel count.
    """
    prep = prep or Preprocessing()
    for name, value in (("channels", channels), ("height", height), ("width", width)):
        if not isinstance(value, int | np.integer) or value < 1:
            raise ValueError(f"the network input {name} must be a positive integer, not {value!r}")
    if channels * height * width > MAX_INPUT_VALUES:
        raise ValueError(f"a {channels}×{height}×{width} network input is too large")
    mean_std = _mean_std(prep, channels)  # first: a bad mean/std fails before any work
    rgb = _as_rgb(image)
    planes = _source_planes(rgb, channels)
    if prep.invert:
        planes = [1.0 - p for p in planes]
    # Clipped because bicubic rings slightly past the [0, 1] the image lives in.
    resized = [np.clip(_resize(p, height, width, prep), 0.0, 1.0) for p in planes]
    if len(resized) == channels:
        out = np.stack(resized)
    else:
        out = np.repeat(resized[0][None], channels, axis=0)
    if mean_std is not None:
        mean, std = mean_std
        out = (out - mean) / std
    return np.ascontiguousarray(out, dtype=np.float32)
