"""What a stepped convolution or pooling is made of: its configuration and its steps.

:class:`ConvConfig` and :class:`PoolConfig` hold one layer applied to one input
with torch's meaning for every field and check it on construction (a
:class:`StepError` carries a one-line message for the user). A :class:`Step`
is one output cell: where the window sits in the padded input, the values it
covers, the element-wise products, one partial sum per input channel, the
total, the bias and the value that lands in the output. A
:class:`Walkthrough` is the padded input, its cell kinds and all the steps.
:mod:`cnnviz.core.conv_steps` computes them.

Coordinates: ``padded`` is the input after padding; padded row ``i`` is image
row ``i - pad_top``. Output cell ``(o, r, c)`` reads padded rows
``r*stride + dilation*k`` for ``k`` in ``range(kernel)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cnnviz.core.conv_text import FORWARD, Names, describe_layer, padding_note
from cnnviz.core.shapes import conv_out_size, pool_out_size

Pair = tuple[int, int]
PadPairs = tuple[Pair, Pair]  # ((top, bottom), (left, right))

PADDING_MODES = ("zeros", "reflect", "replicate", "circular")
ACTIVATIONS = ("none", "relu")
POOL_MODES = ("max", "avg")
_NUMPY_PAD_MODE = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}

# Cell kinds of the padded grid.
INPUT, PADDING, OUTSIDE = 0, 1, 2  # OUTSIDE: past the padding (pooling with ceil_mode)

# The classic teaching example: 5x5 binary image, X-shaped 3x3 filter.
CLASSROOM_IMAGE = np.array(
    [[1, 1, 1, 0, 0], [0, 1, 1, 1, 0], [0, 0, 1, 1, 1], [0, 0, 1, 1, 0], [0, 1, 1, 0, 0]],
    dtype=np.float64,
)
CLASSROOM_KERNEL = np.array([[1, 0, 1], [0, 1, 0], [1, 0, 1]], dtype=np.float64)
# Its 2x2 max pooling (stride 2) is [[5, 7], [8, 9]].
CLASSROOM_POOL_INPUT = np.array(
    [[4, 2, 3, 1], [5, 1, 7, 4], [2, 8, 4, 6], [1, 4, 9, 3]], dtype=np.float64
)


class StepError(ValueError):
    """Parameters that cannot make a layer; the message is one line for the user."""


def _pair(value, name: str, minimum: int) -> Pair:
    pair = tuple(value) if isinstance(value, tuple | list) else (value, value)
    if len(pair) != 2 or not all(isinstance(v, int | np.integer) for v in pair):
        raise StepError(f"{name} must be a whole number or a (height, width) pair, got {value!r}")
    if min(pair) < minimum:
        raise StepError(f"{name} must be at least {minimum}, got {value!r}")
    return int(pair[0]), int(pair[1])


def normalize_padding(value) -> PadPairs:
    """``p``, ``(ph, pw)`` or ``((top, bottom), (left, right))`` → the last form."""
    nested = isinstance(value, tuple | list) and len(value) == 2
    if nested and all(isinstance(v, tuple | list) for v in value):
        return _pair(tuple(value[0]), "padding", 0), _pair(tuple(value[1]), "padding", 0)
    ph, pw = _pair(value, "padding", 0)
    return (ph, ph), (pw, pw)


def _as_array(values, ndim: int, name: str) -> np.ndarray:
    array = np.array(values, dtype=np.float64)
    while array.ndim < ndim:
        array = array[np.newaxis]
    if array.ndim != ndim or 0 in array.shape:
        raise StepError(f"{name} must have {ndim} dimensions, got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise StepError(f"{name} contains a value that is not a finite number")
    array.setflags(write=False)
    return array


def pad_input(image: np.ndarray, padding, mode: str = "zeros", value: float = 0.0) -> np.ndarray:
    """``image`` (C, H, W) padded as torch pads it for ``padding_mode=mode``."""
    (top, bottom), (left, right) = normalize_padding(padding)
    widths = ((0, 0), (top, bottom), (left, right))
    if mode == "zeros":
        return np.pad(image, widths, mode="constant", constant_values=value)
    if mode not in _NUMPY_PAD_MODE:
        raise StepError(f"padding mode must be one of {', '.join(PADDING_MODES)}, got {mode!r}")
    return np.pad(image, widths, mode=_NUMPY_PAD_MODE[mode])


def _check_mode_padding(mode: str, pads: PadPairs, hw: Pair) -> None:
    for axis, size, pair in zip(("height", "width"), hw, pads, strict=True):
        biggest = max(pair)
        if mode == "reflect" and biggest >= size:
            raise StepError(
                f"reflect padding {biggest} must be smaller than the input {axis} {size}"
            )
        if mode == "circular" and biggest > size:
            raise StepError(f"circular padding {biggest} must not exceed the input {axis} {size}")


@dataclass(frozen=True, eq=False)
class ConvConfig:
    """A Conv2d applied to one input, with torch's meaning for every field."""

    input: np.ndarray  # (C, H, W); (H, W) is taken as one channel
    kernel: np.ndarray  # (O, C/groups, kh, kw); (kh, kw) is taken as one filter
    bias: np.ndarray | None = None  # (O,) or None for no bias
    stride: Pair = (1, 1)
    padding: PadPairs | Pair | int = 0
    dilation: Pair = (1, 1)
    groups: int = 1
    padding_mode: str = "zeros"
    activation: str = "none"  # applied after the bias, for teaching

    def __post_init__(self) -> None:
        put = object.__setattr__
        put(self, "input", _as_array(self.input, 3, "input"))
        put(self, "kernel", _as_array(self.kernel, 4, "kernel"))
        out_channels = self.kernel.shape[0]
        bias = np.zeros(out_channels) if self.bias is None else np.ravel(self.bias)
        if bias.shape != (out_channels,):
            raise StepError(f"bias needs {out_channels} values (one per filter), got {bias.size}")
        put(self, "bias", _as_array(bias, 1, "bias"))
        put(self, "stride", _pair(self.stride, "stride", 1))
        put(self, "dilation", _pair(self.dilation, "dilation", 1))
        put(self, "padding", normalize_padding(self.padding))
        if self.padding_mode not in PADDING_MODES:
            raise StepError(f"padding mode must be one of {', '.join(PADDING_MODES)}")
        if self.activation not in ACTIVATIONS:
            raise StepError(f"activation must be one of {', '.join(ACTIVATIONS)}")
        self._check_channels()
        _check_mode_padding(self.padding_mode, self.padding, self.input.shape[1:])
        self._check_fits()

    def _check_channels(self) -> None:
        channels, groups = self.input.shape[0], self.groups
        if not isinstance(groups, int) or groups < 1:
            raise StepError(f"groups must be a whole number of at least 1, got {groups!r}")
        if channels % groups:
            raise StepError(f"groups {groups} does not divide the {channels} input channels")
        if self.kernel.shape[0] % groups:
            raise StepError(f"groups {groups} does not divide the {self.kernel.shape[0]} filters")
        if self.kernel.shape[1] != channels // groups:
            raise StepError(
                f"each filter has {self.kernel.shape[1]} channel(s) but the input has "
                f"{channels}"
                + (f" in {groups} groups" if groups > 1 else "")
                + f": filters need {channels // groups}"
            )

    def _check_fits(self) -> None:
        for axis in (0, 1):
            size, pads = self.input.shape[1 + axis], self.padding[axis]
            k, d = self.kernel_size[axis], self.dilation[axis]
            span = d * (k - 1) + 1
            if span > size + sum(pads):
                raise StepError(
                    f"the kernel spans {span} on the {('height', 'width')[axis]} (size {k}, "
                    f"dilation {d}) but the padded input has only {size + sum(pads)}"
                )

    @property
    def kernel_size(self) -> Pair:
        return self.kernel.shape[2], self.kernel.shape[3]

    @property
    def output_shape(self) -> tuple[int, int, int]:
        (h, w), (kh, kw) = self.input.shape[1:], self.kernel_size
        (sh, sw), (dh, dw), ((top, bottom), (left, right)) = (
            self.stride,
            self.dilation,
            self.padding,
        )
        out_h, out_w = (
            conv_out_size(h, kh, sh, top + bottom, dh),
            conv_out_size(w, kw, sw, left + right, dw),
        )
        return self.kernel.shape[0], out_h, out_w


@dataclass(frozen=True, eq=False)
class PoolConfig:
    """A MaxPool2d or AvgPool2d applied to one input, as torch computes it."""

    input: np.ndarray  # (C, H, W); (H, W) is taken as one channel
    mode: str = "max"
    kernel_size: Pair = (2, 2)
    stride: Pair | None = None  # None: the kernel size, as torch
    padding: Pair = (0, 0)
    dilation: Pair = (1, 1)  # MaxPool2d only
    ceil_mode: bool = False
    count_include_pad: bool = True  # AvgPool2d only

    def __post_init__(self) -> None:
        put = object.__setattr__
        if self.mode not in POOL_MODES:
            raise StepError(f"pooling must be one of {', '.join(POOL_MODES)}, got {self.mode!r}")
        put(self, "input", _as_array(self.input, 3, "input"))
        put(self, "kernel_size", _pair(self.kernel_size, "pooling kernel", 1))
        stride = self.kernel_size if self.stride is None else self.stride
        put(self, "stride", _pair(stride, "stride", 1))
        put(self, "padding", _pair(self.padding, "padding", 0))
        put(self, "dilation", _pair(self.dilation, "dilation", 1))
        if self.mode == "avg" and self.dilation != (1, 1):
            raise StepError("average pooling has no dilation (torch's AvgPool2d takes none)")
        for k, p in zip(self.kernel_size, self.padding, strict=True):
            if 2 * p > k:
                raise StepError(
                    f"pooling padding {p} must be at most half the kernel size {k} (torch's rule)"
                )
        if min(self.output_shape[1:]) < 1:
            raise StepError(
                f"the pooling window does not fit in the {self.input.shape[1]}x"
                f"{self.input.shape[2]} input with padding {self.padding[0]}x{self.padding[1]}"
            )

    @property
    def output_shape(self) -> tuple[int, int, int]:
        (h, w), (kh, kw), (sh, sw) = self.input.shape[1:], self.kernel_size, self.stride
        (ph, pw), (dh, dw), ceil = self.padding, self.dilation, self.ceil_mode
        out_h, out_w = (
            pool_out_size(h, kh, sh, ph, dh, ceil),
            pool_out_size(w, kw, sw, pw, dw, ceil),
        )
        return self.input.shape[0], out_h, out_w


@dataclass(frozen=True, eq=False)
class Step:
    """One output cell: what the window covers and how its value comes about."""

    number: int  # position in the sequence, from 0
    out: tuple[int, int, int]  # (output channel, row, col)
    channels: np.ndarray  # (n,) input channels the window reads
    rows: np.ndarray  # (kh,) rows of the padded input
    cols: np.ndarray  # (kw,) columns of the padded input
    window: np.ndarray  # (n, kh, kw) values under the window
    products: np.ndarray | None  # (n, kh, kw) window × kernel; None for pooling
    partial_sums: np.ndarray  # (n,) per channel: Σ products (conv), Σ counted values (avg)
    total: float  # conv: Σ partial sums; max: the maximum; avg: the sum
    bias: float  # conv only
    value: float  # what lands in the output cell (after bias and activation)
    chosen: tuple[int, int] | None = None  # max pooling: (i, j) in the window
    divisor: int = 1  # average pooling: how many cells the sum is divided by

    def indices(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(channel, row, col) index arrays into the padded input, each (n, kh, kw)."""
        return np.ix_(self.channels, self.rows, self.cols)

    @property
    def pre_activation(self) -> float:
        return self.total + self.bias


@dataclass(frozen=True, eq=False)
class Walkthrough:
    """Everything the picture needs: the padded input, the kernel and the steps."""

    kind: str  # "conv" | "max" | "avg"
    config: ConvConfig | PoolConfig
    padded: np.ndarray  # (C, Hp, Wp)
    cell_kind: np.ndarray  # (Hp, Wp) INPUT / PADDING / OUTSIDE
    pad_before: Pair  # (top, left): padded[i, j] is image[i - top, j - left]
    output_shape: tuple[int, int, int]
    out_channels: tuple[int, ...]  # the output channels stepped through
    region: tuple[int, int, int, int]  # (row0, col0, rows, cols) of output cells
    steps: tuple[Step, ...]
    formula: tuple[str, ...]  # the output-size formula with these numbers
    names: Names = FORWARD  # what the grids are called (the backward pass names its own)

    @property
    def kernel(self) -> np.ndarray | None:
        return self.config.kernel if self.kind == "conv" else None

    @property
    def kernel_size(self) -> Pair:
        return self.config.kernel_size

    def description(self) -> str:
        """E.g. "convolution 3×3 · stride 2 · padding 1 · dilation 2"."""
        if self.names.description:
            return self.names.description
        config = self.config
        pads = config.padding if self.kind == "conv" else [(p, p) for p in config.padding]
        mode = config.padding_mode if self.kind == "conv" else "zeros"
        return describe_layer(
            self.kind, self.kernel_size, config.stride, pads, config.dilation, mode
        )

    def padding_note(self) -> str:
        if self.names.note:
            return self.names.note
        return padding_note(self.kind, getattr(self.config, "padding_mode", "zeros"))

    def output(self) -> np.ndarray:
        """(len(out_channels), rows, cols): the stepped output cells."""
        _, _, rows, cols = self.region
        values = np.array([step.value for step in self.steps], dtype=np.float64)
        return values.reshape(len(self.out_channels), rows, cols)

    def window_box(self) -> tuple[int, int, int, int]:
        """(row_lo, row_hi, col_lo, col_hi), hi exclusive: padded cells any window reads."""
        rows = np.concatenate([s.rows for s in self.steps])
        cols = np.concatenate([s.cols for s in self.steps])
        return int(rows.min()), int(rows.max()) + 1, int(cols.min()), int(cols.max()) + 1


def _cell_kinds(input_hw: Pair, pads: PadPairs, padded_hw: Pair) -> np.ndarray:
    # Kept beside INPUT/PADDING/OUTSIDE: the forward and backward walkthroughs both mark grids.
    kinds = np.full(padded_hw, OUTSIDE, dtype=np.int8)
    (top, bottom), (left, right) = pads
    kinds[: input_hw[0] + top + bottom, : input_hw[1] + left + right] = PADDING
    kinds[top : top + input_hw[0], left : left + input_hw[1]] = INPUT
    return kinds
