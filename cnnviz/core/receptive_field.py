"""Receptive-field arithmetic: which input pixels one output position can see.

Per spatial axis the standard recurrence (Dumoulin & Visin; Araujo et al.,
"Computing Receptive Fields of Convolutional Neural Networks", Distill 2019)::

    k_eff  = d·(k − 1) + 1
    size   = size_in + (k_eff − 1)·jump_in
    jump   = jump_in · s
    start  = start_in + ((k_eff − 1)/2 − p_before)·jump_in

``start`` is the input coordinate of the centre of output position 0 (it can be
negative or fractional: the field may hang over the padding).

Adaptive pooling breaks the regular grid when the output size does not divide
the input size: torch's windows (``pooling_view.adaptive_windows``) differ in
size and overlap unevenly. From there on each output row and column keeps its
own input span, composed window by window, and ``size`` is the largest field.

A Linear applied to maps mixes only the last (width) axis: every output of a row
sees that whole row of its input, not the whole input (a Softmax along dim 3
too; along dim 2 it mixes a whole column). A Flatten only lays
the maps out as a vector: each value is one position of the maps and keeps
that position's field (``flattened``). A Linear or Softmax on the vector mixes
every value, so from there on the field is "global": the whole input.

Which of these a layer does is declared by its type's module
(``cnnviz/core/layers/``, a ``FieldRule``): element-wise, a window (regular,
or as taps per output: uneven adaptive windows, ConvTranspose2d, Upsample),
mixing a vector, mixing the last axis or the height, the whole map (GroupNorm,
BatchNorm2d without running statistics), or flatten; a rule may depend on
the layer's parameters (``FieldRule.pick``).
``step`` only interprets the rule. Where no regular grid exists the field is
computed from spans, exactly: tests compare every box with torch's gradients.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace

from cnnviz.core.architecture import Layer
from cnnviz.core.catalogue import layer_type
from cnnviz.core.layers._common import FieldRule, window_taps

Span = tuple[int, int]  # input coordinates (lo, hi), half-open, not clipped


@dataclass(frozen=True)
class ReceptiveField:
    size: tuple[int, int] = (1, 1)
    jump: tuple[int, int] = (1, 1)
    start: tuple[float, float] = (0.0, 0.0)
    is_global: bool = False
    # A vector (after Flatten) whose values each keep their position's field.
    flattened: bool = False
    # Per axis, every output index's span; None while one size and jump place
    # every field (see the module docstring: uneven adaptive windows, Linear).
    spans: tuple[tuple[Span, ...], tuple[Span, ...]] | None = None

    @property
    def regular(self) -> bool:
        """Whether one size and one jump per axis place every field."""
        return self.spans is None

    def box(self, row: int, col: int, input_hw: tuple[int, int]):
        """Input rows/cols seen by output (row, col): (top, left, bottom, right),
        half-open, clipped to the input. A global field is the whole input."""
        h, w = input_hw
        if self.is_global:
            return (0, 0, h, w)
        top, left, bottom, right = self.unclipped_box(row, col)
        return (max(0, top), max(0, left), min(h, bottom), min(w, right))

    def unclipped_box(self, row: int, col: int):
        """As box() but not clipped: may extend into the padding (negative)."""
        if self.spans is not None:
            (top, bottom), (left, right) = self.spans[0][row], self.spans[1][col]
            return (top, left, bottom, right)
        centre_r = self.start[0] + row * self.jump[0]
        centre_c = self.start[1] + col * self.jump[1]
        top = round(centre_r - (self.size[0] - 1) / 2)
        left = round(centre_c - (self.size[1] - 1) / 2)
        return (top, left, top + self.size[0], left + self.size[1])

    def describe(self) -> str:
        """One line for a learner, e.g. "receptive field: 5×5 input pixels,
        neighbours 1 px apart"; "up to" where fields differ in size."""
        if self.is_global:
            return "receptive field: the whole input"
        if self.flattened:
            return (
                "receptive field: each value is one position of the maps before the "
                f"Flatten and sees up to {self.size[0]}×{self.size[1]} input pixels"
            )
        sizes, steps = self._sizes_and_steps()
        even = all(len(axis) == 1 for axis in sizes)
        text = (
            f"receptive field: {'' if even else 'up to '}{self.size[0]}×{self.size[1]} input pixels"
        )
        if not even:
            text += " (the windows differ in size)"
        if max(steps[0]) == max(steps[1]) == 0:
            return text + ", every output sees the same pixels"
        if steps[0] == steps[1]:
            return text + f", neighbours {_apart(steps[0])}"
        return text + f", neighbours {_apart(steps[0])} down, {_apart(steps[1])} across"

    def _sizes_and_steps(self) -> tuple[list[set[int]], list[set[int]]]:
        """Per axis: the sizes of the (non-empty) fields and the steps between neighbours."""
        if self.spans is None:
            return [{s} for s in self.size], [{j} for j in self.jump]
        sizes = [{hi - lo for lo, hi in axis if hi > lo} or {0} for axis in self.spans]
        steps = [set(_steps(axis)) or {0} for axis in self.spans]
        return sizes, steps


def _steps(spans: tuple[Span, ...]) -> list[int]:
    """How far each field starts from the one before it."""
    return [b[0] - a[0] for a, b in itertools.pairwise(spans)]


def _apart(values: set[int]) -> str:
    """How far apart neighbouring outputs' fields sit along one axis, in words."""
    low, high = min(values), max(values)
    if high == 0:
        return "0 px apart (the same pixels)"
    return f"{low} px apart" if low == high else f"{low}–{high} px apart"


def _spans_of(rf: ReceptiveField, in_hw) -> tuple[tuple[Span, ...], ...]:
    """Every input position's span, from the regular grid or the spans kept."""
    if rf.spans is not None:
        return rf.spans
    result = []
    for axis, n in enumerate(in_hw):
        lows = [rf.unclipped_box(i, i)[axis] for i in range(n)]
        result.append(tuple((lo, lo + rf.size[axis]) for lo in lows))
    return tuple(result)


def _union(spans) -> Span | None:
    """The smallest span holding all non-empty `spans`; None if all are empty.
    Not just first and last: with padding taps left out, spans need not be
    ordered (a border row may see less than the row after it)."""
    seen = [span for span in spans if span[1] > span[0]]
    if not seen:
        return None
    return (min(lo for lo, _ in seen), max(hi for _, hi in seen))


def _compose(spans: tuple[Span, ...], windows) -> tuple[Span, ...]:
    """The span of each window: the union of its real taps' spans. Padding taps
    read no input pixels, so they add nothing."""
    n = len(spans)
    out: list[Span] = []
    for taps in windows:
        union = _union([spans[t] for t in taps if 0 <= t < n])
        if union is None:  # no input pixel: an empty span at the border or after the last
            if len(taps):
                edge = spans[min(max(taps[0], 0), n - 1)][0]
            else:  # no taps at all (a transposed conv's gap): where the last one ended
                edge = out[-1][1] if out else spans[0][0]
            union = (edge, edge)
        out.append(union)
    return tuple(out)


def _from_spans(spans) -> ReceptiveField:
    """A field kept as spans; size is the largest field, jump the widest step."""
    size = tuple(max(hi - lo for lo, hi in axis) for axis in spans)
    jump = tuple(max(_steps(axis), default=0) for axis in spans)
    start = tuple((axis[0][0] + axis[0][1] - 1) / 2 for axis in spans)
    return ReceptiveField(size, jump, start, spans=tuple(spans))


def _whole_axis(rf: ReceptiveField, in_hw, axis: int, out_size: int) -> ReceptiveField:
    """After a Linear on maps (axis 1): each of the `out_size` features of a row
    reads all positions of that row, so along the width the field is their
    union, the same for every feature; a Softmax along the height (axis 0) does
    the same to a column. Kept as spans: a later padded layer's padding taps
    must not borrow the row's pixels, as a jump of 0 would make them."""
    spans = list(_spans_of(rf, in_hw))
    mixed = spans[axis]
    whole = _union(mixed) or (mixed[0][0], mixed[0][0])
    spans[axis] = (whole,) * out_size
    return _from_spans(tuple(spans))


def _whole_map(rf: ReceptiveField, in_hw, out_hw) -> ReceptiveField:
    """Every output reads every position (GroupNorm's statistics): per axis the
    union of all the input's spans, the same for every output."""
    spans = _spans_of(rf, in_hw)
    whole = [_union(axis) or (axis[0][0], axis[0][0]) for axis in spans]
    return _from_spans(tuple((whole[a],) * out_hw[a] for a in range(2)))


def _windowed(rf: ReceptiveField, rule: FieldRule, layer: Layer, in_hw, out_hw):
    """A sliding window: the recurrence while one size and jump place every field
    and the window is regular, else each output's span composed from its taps."""
    window = rule.window(layer, in_hw, out_hw) if rule.window is not None else None
    if rf.spans is None and window is not None:
        kernel, stride, dilation, pad = window
        size, jump, start = [], [], []
        for a in range(2):
            k_eff = dilation[a] * (kernel[a] - 1) + 1
            size.append(rf.size[a] + (k_eff - 1) * rf.jump[a])
            jump.append(rf.jump[a] * stride[a])
            start.append(rf.start[a] + ((k_eff - 1) / 2 - pad[a]) * rf.jump[a])
        return ReceptiveField(tuple(size), tuple(jump), tuple(start))
    spans = _spans_of(rf, in_hw)
    composed = []
    for a in range(2):
        if window is not None:
            taps = window_taps(window, a, out_hw[a])
        else:
            taps = rule.taps(layer, a, in_hw[a], out_hw[a])
        composed.append(_compose(spans[a], taps))
    return _from_spans(tuple(composed))


def step(rf: ReceptiveField, layer: Layer, in_shape, out_shape) -> ReceptiveField:
    """The field after `layer`, given the field before it, by the type's rule."""
    rule: FieldRule | None = layer_type(layer.type).field_rule
    if rf.is_global or rule is None:
        return rf  # a block's field is merged by the analysis (blocks.py)
    rule = rule.resolved(layer, in_shape)
    maps = len(in_shape) == 3 and len(out_shape) == 3
    if rule.kind == "flatten" or not maps:
        # The same values, laid flat; a layer that mixes the whole map (an Opaque
        # module giving a vector) gives a field of the whole input instead.
        if len(in_shape) == 3 and len(out_shape) == 1 and rule.kind != "whole map":
            return replace(rf, flattened=True)
        if rf.flattened and rule.kind in ("element-wise", "flatten"):
            return rf  # element by element (an activation, dropout): each value its own field
        return ReceptiveField(rf.size, rf.jump, rf.start, is_global=True)
    in_hw, out_hw = in_shape[1:], out_shape[1:]
    if rule.kind == "mixes last axis":
        return _whole_axis(rf, in_hw, 1, out_hw[1])
    if rule.kind == "mixes height":
        return _whole_axis(rf, in_hw, 0, out_hw[0])
    if rule.kind == "whole map":
        return _whole_map(rf, in_hw, out_hw)
    if rule.kind == "window":
        return _windowed(rf, rule, layer, in_hw, out_hw)
    return rf  # element-wise, or mixing channels at one position (Softmax along dim 1)
