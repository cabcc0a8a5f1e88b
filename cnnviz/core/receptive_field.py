"""Receptive-field arithmetic: which input pixels one output position can see.

Per spatial axis the standard recurrence (Dumoulin & Visin; Araujo et al.,
"Computing Receptive Fields of Convolutional Neural Networks", Distill 2019)::

    k_eff  = d·(k − 1) + 1
    size   = size_in + (k_eff − 1)·jump_in
    jump   = jump_in · s
    start  = start_in + ((k_eff − 1)/2 − p_before)·jump_in

``start`` is the input coordinate of the centre of output position 0 (it can be
negative or fractional: the field may hang over the padding). After a Flatten
every feature sees the whole input: the field is "global".
"""

from __future__ import annotations

from dataclasses import dataclass

from cnnviz.core.architecture import Layer
from cnnviz.core.shapes import as_pair, conv_padding


@dataclass(frozen=True)
class ReceptiveField:
    size: tuple[int, int] = (1, 1)
    jump: tuple[int, int] = (1, 1)
    start: tuple[float, float] = (0.0, 0.0)
    is_global: bool = False

    def box(self, row: int, col: int, input_hw: tuple[int, int]):
        """Input rows/cols seen by output (row, col): (top, left, bottom, right),
        half-open, clipped to the input. A global field is the whole input."""
        h, w = input_hw
        if self.is_global:
            return (0, 0, h, w)
        top, left = self.unclipped_box(row, col)[:2]
        bottom, right = top + self.size[0], left + self.size[1]
        return (max(0, top), max(0, left), min(h, bottom), min(w, right))

    def unclipped_box(self, row: int, col: int):
        """As box() but not clipped: may extend into the padding (negative)."""
        centre_r = self.start[0] + row * self.jump[0]
        centre_c = self.start[1] + col * self.jump[1]
        top = round(centre_r - (self.size[0] - 1) / 2)
        left = round(centre_c - (self.size[1] - 1) / 2)
        return (top, left, top + self.size[0], left + self.size[1])


def _window(layer: Layer):
    """Kernel, stride, dilation and padding-before of a windowed layer, per axis."""
    kernel = as_pair(layer.get("kernel_size"))
    if layer.type == "Conv2d":
        pads = conv_padding(layer)
        return (
            kernel,
            as_pair(layer.get("stride")),
            as_pair(layer.get("dilation")),
            (
                pads[0][0],
                pads[1][0],
            ),
        )
    stride = layer.get("stride")
    stride = as_pair(stride if stride is not None else kernel)
    dilation = as_pair(layer.get("dilation")) if layer.type == "MaxPool2d" else (1, 1)
    return kernel, stride, dilation, as_pair(layer.get("padding"))


def _adaptive_window(in_hw, out_hw):
    """Adaptive pooling uses windows of varying size; the largest is ceil(in/out)
    and consecutive windows start about in/out apart. We use those (an upper
    bound of the field) so the outline never misses pixels the output sees."""
    kernel = tuple(-(-i // o) for i, o in zip(in_hw, out_hw, strict=True))
    stride = tuple(max(1, i // o) for i, o in zip(in_hw, out_hw, strict=True))
    return kernel, stride, (1, 1), (0, 0)


def step(rf: ReceptiveField, layer: Layer, in_shape, out_shape) -> ReceptiveField:
    """The field after `layer`, given the field before it."""
    if rf.is_global or len(out_shape) != 3 or len(in_shape) != 3:
        return ReceptiveField(rf.size, rf.jump, rf.start, is_global=True)
    if layer.type in ("Conv2d", "MaxPool2d", "AvgPool2d"):
        kernel, stride, dilation, pad = _window(layer)
    elif layer.type == "AdaptiveAvgPool2d":
        kernel, stride, dilation, pad = _adaptive_window(in_shape[1:], out_shape[1:])
    elif layer.type == "Linear":
        # Applied to the last (width) axis of maps: mixes the whole row.
        return ReceptiveField(rf.size, rf.jump, rf.start, is_global=True)
    else:
        return rf
    size, jump, start = [], [], []
    for a in range(2):
        k_eff = dilation[a] * (kernel[a] - 1) + 1
        size.append(rf.size[a] + (k_eff - 1) * rf.jump[a])
        jump.append(rf.jump[a] * stride[a])
        start.append(rf.start[a] + ((k_eff - 1) / 2 - pad[a]) * rf.jump[a])
    return ReceptiveField(tuple(size), tuple(jump), tuple(start))
