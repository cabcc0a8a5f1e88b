"""The step-through panel's "Real layer" source (numpy only, no widgets).

A Conv2d of the stack with its real weights, applied to a patch of the image
that layer received. The patch is named by the output cells it produces:
feature-map rows ``row0 … row0+rows-1`` and columns ``col0 … col0+cols-1`` of
one output channel. Output cell ``(r, c)`` reads image rows
``r·stride − pad_top + dilation·k`` (k = 0 … kh−1), columns likewise; rows
outside the image are the layer's padding. The walkthrough is computed on the
whole padded image, so each stepped value is exactly ``feature_map[o, r, c]``
(up to float32 rounding in torch, which :meth:`RealLayer.compare` reports).
"The image that layer received" is what it really received: for a Conv2d
inside a block, the output of the layer before it in its path or the block's
input (:func:`real_layer_arguments`), not the layer one index back.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, replace

import numpy as np

from cnnviz.core.conv_steps import (
    INPUT,
    PADDING,
    ConvConfig,
    StepError,
    Walkthrough,
    conv_walkthrough,
    normalize_padding,
)
from cnnviz.core.conv_text import conv_formula
from cnnviz.core.layer_flow import NETWORK_INPUT, feeding_index
from cnnviz.core.shapes import as_pair, same_padding

MAX_PATCH = 12  # input cells per side of a real-layer patch, so values stay readable


def real_padding(padding, kernel: tuple[int, int], dilation: tuple[int, int]):
    """A Conv2d's padding argument (number, pair, 'same', 'valid') as ((top, bottom), (l, r))."""
    if padding == "same":
        return same_padding(kernel, dilation)
    if padding == "valid" or padding is None:
        return (0, 0), (0, 0)
    return normalize_padding(as_pair(tuple(padding) if isinstance(padding, list) else padding))


def _source_index(lo: int, hi: int, before: int, size: int, mode: str):
    """For padded positions lo…hi-1 of one axis: the image position each shows (as
    torch pads in `mode`), and whether it is inside the image (else zero padding)."""
    i = np.arange(lo, hi) - before
    inside = (i >= 0) & (i < size)
    if mode == "reflect":  # padding < size, so one reflection is enough
        i = np.abs(i)
        return np.where(i >= size, 2 * (size - 1) - i, i), inside
    if mode == "circular":
        return i % size, inside
    return np.clip(i, 0, size - 1), inside  # replicate; zeros are masked by `inside`


class PaddedWindow:
    """The padded input read only where the windows of one walkthrough fall:
    indexed like the whole padded array ([:, r0:r1, c0:c1], [c, r0:r1, c0:c1]) inside
    that box. A 64×224×224 layer keeps 64×12×12 values, not a float64 copy of all."""

    def __init__(self, values: np.ndarray, origin: tuple[int, int], shape: tuple[int, ...]):
        self.values, self.origin, self.shape = values, origin, shape
        self.ndim, self.nbytes = len(shape), values.nbytes

    def __getitem__(self, key):
        channel, rows, cols = key
        return self.values[channel, self._shift(rows, 0), self._shift(cols, 1)]

    def _shift(self, part: slice, axis: int) -> slice:
        lo, hi = part.start or 0, self.shape[1 + axis] if part.stop is None else part.stop
        box = self.values.shape[1 + axis]
        start, stop = lo - self.origin[axis], hi - self.origin[axis]
        if part.step not in (None, 1) or start < 0 or stop > box:
            raise IndexError(f"padded cells {lo}…{hi - 1} lie outside the cells this step reads")
        return slice(start, stop)


def _view_config(config: ConvConfig, image: np.ndarray) -> ConvConfig:
    """`config` holding the image as given instead of its float64 copy."""
    view = copy.copy(config)
    object.__setattr__(view, "input", image)
    return view


@dataclass
class RealLayer:
    """A Conv2d of the stack with its weights and its real input and output.

    Holds the arrays it was given (float32 views of the result), never a copy of
    the whole input: a walkthrough reads only the patch its windows cover."""

    config: ConvConfig  # the whole image (as given): values equal the real feature map
    layer_index: int
    feature_map: np.ndarray | None  # (O, H', W') as torch computed it
    out_channel: int = 0
    region: tuple[int, int, int, int] = (0, 0, 1, 1)  # row0, col0, rows, cols
    name: str = ""  # as a person reads it: "layer 4", "layer 3.body.0"

    @classmethod
    def from_layer(cls, weight, bias, image, stride, padding, dilation, groups, padding_mode,
                   layer_index, feature_map, name=None) -> RealLayer:  # fmt: skip
        weight = np.asarray(weight)
        dilation = as_pair(dilation if dilation is not None else 1)
        pads = real_padding(padding, weight.shape[2:], dilation)
        config = ConvConfig(
            image, weight, bias, as_pair(stride if stride is not None else 1), pads, dilation,
            int(groups or 1), padding_mode or "zeros",
        )  # fmt: skip
        # Checked on the float64 copy above, kept as the float32 array given.
        config = _view_config(config, np.asarray(image))
        if feature_map is not None and np.shape(feature_map) != config.output_shape:
            raise StepError(
                f"the feature map has shape {np.shape(feature_map)} but this layer makes "
                f"{config.output_shape}"
            )
        layer = cls(config, layer_index, feature_map, name=name or f"layer {layer_index}")
        layer.region = layer.default_region()
        return layer

    def max_region(self) -> tuple[int, int]:
        """The most output rows and columns whose input patch stays ≤ MAX_PATCH per side
        (but at least 3, whatever the kernel)."""
        sizes = []
        for axis in (0, 1):
            k, s = self.config.kernel_size[axis], self.config.stride[axis]
            span = self.config.dilation[axis] * (k - 1) + 1
            # At least 3 cells: big kernels (AlexNet's 11x11) are only shaded anyway.
            most = max(3, (MAX_PATCH - span) // s + 1)
            sizes.append(min(most, self.config.output_shape[1 + axis]))
        return sizes[0], sizes[1]

    def default_region(self) -> tuple[int, int, int, int]:
        """Up to 4x4 output cells in the middle of the feature map."""
        most_rows, most_cols = self.max_region()
        rows, cols = min(4, most_rows), min(4, most_cols)
        _, out_h, out_w = self.config.output_shape
        return (out_h - rows) // 2, (out_w - cols) // 2, rows, cols

    def clamp_region(self, row0: int, col0: int, rows: int, cols: int):
        most_rows, most_cols = self.max_region()
        rows, cols = max(1, min(rows, most_rows)), max(1, min(cols, most_cols))
        _, out_h, out_w = self.config.output_shape
        row0, col0 = max(0, min(row0, out_h - rows)), max(0, min(col0, out_w - cols))
        return row0, col0, rows, cols

    def walkthrough(self) -> Walkthrough:
        """The steps of the region, computed on the padded patch its windows read and
        given back in the whole layer's coordinates."""
        patch, origin, _ = self.patch()
        small = replace(self.config, input=patch, padding=0)  # the patch is padded already
        walk = conv_walkthrough(small, [self.out_channel], (0, 0, *self.region[2:]))
        return self._in_layer(walk, patch, origin)

    def patch(self):
        """(the padded patch the region's windows read (C, h, w) float64, its origin in
        padded coordinates, (rows_in, cols_in): which of its rows/columns are image)."""
        config, (row0, col0, rows, cols) = self.config, self.region
        height, width = config.input.shape[1:]
        top, left = config.padding[0][0], config.padding[1][0]
        box, src = [], []
        for axis, (first, count, before, size) in enumerate(
            ((row0, rows, top, height), (col0, cols, left, width))
        ):
            k, s, d = config.kernel_size[axis], config.stride[axis], config.dilation[axis]
            lo, hi = first * s, (first + count - 1) * s + d * (k - 1) + 1
            box.append(lo)
            src.append(_source_index(lo, hi, before, size, config.padding_mode))
        (rows_from, rows_in), (cols_from, cols_in) = src
        patch = np.asarray(config.input[:, rows_from][:, :, cols_from], dtype=np.float64)
        if config.padding_mode == "zeros":
            patch *= rows_in[:, None] & cols_in[None, :]
        return patch, (box[0], box[1]), (rows_in, cols_in)

    def _in_layer(self, walk: Walkthrough, patch: np.ndarray, origin) -> Walkthrough:
        config, (row0, col0, _, _) = self.config, self.region
        (top, bottom), (left, right) = config.padding
        height, width = config.input.shape[1:]
        padded_hw = (height + top + bottom, width + left + right)
        kinds = np.full(padded_hw, PADDING, dtype=np.int8)
        kinds[top : top + height, left : left + width] = INPUT
        steps = tuple(
            replace(step, out=(step.out[0], step.out[1] + row0, step.out[2] + col0),
                    rows=step.rows + origin[0], cols=step.cols + origin[1])
            for step in walk.steps
        )  # fmt: skip
        formula = conv_formula(
            (height, width), config.kernel_size, config.stride, config.padding, config.dilation
        )
        return replace(
            walk, config=config, padded=PaddedWindow(patch, origin, (patch.shape[0], *padded_hw)),
            cell_kind=kinds, pad_before=(top, left), output_shape=config.output_shape,
            region=self.region, steps=steps, formula=formula,
        )  # fmt: skip

    def compare(self, walk: Walkthrough) -> tuple[float, bool] | None:
        """(largest |stepped − real|, equal within float32 rounding) or None without a map."""
        if self.feature_map is None:
            return None
        row0, col0, rows, cols = walk.region
        real = np.asarray(self.feature_map, dtype=np.float64)[
            self.out_channel, row0 : row0 + rows, col0 : col0 + cols
        ]
        ours = walk.output()[0]
        # float32 (or TF32 on a GPU) rounding grows with the size of the terms summed.
        magnitude = np.array([np.abs(s.products).sum() + abs(s.bias) for s in walk.steps])
        tolerance = 2e-3 * magnitude.reshape(rows, cols) + 1e-6
        difference = np.abs(ours - real)
        return float(difference.max()), bool((difference <= tolerance).all())

    def patch_text(self, walk: Walkthrough) -> str:
        """Which image rows/columns feed which feature-map cells."""
        box = walk.window_box()
        top, left = walk.pad_before
        h, w = self.config.input.shape[1:]
        row0, col0, rows, cols = walk.region
        image_rows = f"{box[0] - top}–{box[1] - 1 - top}"
        image_cols = f"{box[2] - left}–{box[3] - 1 - left}"
        text = (
            f"feature map rows {row0}–{row0 + rows - 1}, cols {col0}–{col0 + cols - 1} "
            f"← image rows {image_rows}, cols {image_cols}"
        )
        if box[0] < top or box[2] < left or box[1] - top > h or box[3] - left > w:
            text += f" (outside 0–{h - 1} × 0–{w - 1}: padding)"
        return text


def real_layer_arguments(result, analysis, index: int) -> dict | None:
    """The arguments of ``RealLayer.from_layer`` (and the panel's ``set_real_layer``)
    for Conv2d `index` of a forward `result` (core.jobs.ForwardResult) of the
    stack `analysis` describes; None when it is not a computed Conv2d.

    Its input is the one recorded with its output, else the output of the layer
    that feeds it (inside a block: the one before it in its path, or the
    block's input), else the network input."""
    if not 0 <= index < len(analysis.layers) or index not in result.filters:
        return None
    info = analysis.layers[index]
    if info.layer.type != "Conv2d":
        return None
    outputs = {layer.index: layer for layer in result.layers}
    own = outputs.get(index)
    image = own.input if own is not None else None
    if image is None:
        source = feeding_index(analysis, index)
        if source == NETWORK_INPUT:
            image = result.input
        elif source in outputs:
            image = outputs[source].output
    if image is None:
        return None
    weight, bias = result.filters[index]
    layer = info.layer
    return dict(
        weight=weight, bias=bias, image=image, stride=layer.get("stride"),
        padding=layer.get("padding"), dilation=layer.get("dilation"),
        groups=layer.get("groups"), padding_mode=layer.get("padding_mode"),
        layer_index=index, feature_map=None if own is None else own.output, name=info.name,
    )  # fmt: skip
