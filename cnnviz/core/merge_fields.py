"""The receptive field of a merge: the union of its paths' fields.

Where paths meet (a residual add, a concat or add of branches) an output value
depends on what every path saw at that position, so its field is the union of
theirs. Regular fields with one jump stay regular (the union of two centred
windows is the larger window, or a window covering both); anything else is
kept as spans, position by position.
"""

from __future__ import annotations

from dataclasses import replace

from cnnviz.core.receptive_field import ReceptiveField, _from_spans, _spans_of


def union(fields: list[ReceptiveField], out_hw: tuple[int, int] | None) -> ReceptiveField:
    """The field of a merged output whose paths' outputs have `fields`.

    `out_hw` is the merged output's height and width (None for vectors).
    """
    first = fields[0]
    if len(fields) == 1 or all(f == first for f in fields):
        return first
    if any(f.is_global for f in fields):
        return replace(next(f for f in fields if f.is_global))
    if out_hw is None:
        # Vectors: each value keeps the field of its position only while every
        # path does the same (all flattened); otherwise it has mixed everything.
        if all(f.flattened for f in fields):
            return _regular_union(fields) or replace(first, is_global=True)
        return replace(first, is_global=True)
    return _regular_union(fields) or _spans_union(fields, out_hw)


def _regular_union(fields: list[ReceptiveField]) -> ReceptiveField | None:
    if any(not f.regular or f.jump != fields[0].jump for f in fields):
        return None
    size, start = [], []
    for a in range(2):
        lo = min(f.start[a] - (f.size[a] - 1) / 2 for f in fields)
        hi = max(f.start[a] + (f.size[a] - 1) / 2 for f in fields)
        size.append(round(hi - lo) + 1)
        start.append((lo + hi) / 2)
    return replace(fields[0], size=tuple(size), start=tuple(start))


def _spans_union(fields: list[ReceptiveField], out_hw: tuple[int, int]) -> ReceptiveField:
    per_field = [_spans_of(f, out_hw) for f in fields]
    axes = []
    for a in range(2):
        axes.append(
            tuple(
                (min(s[a][i][0] for s in per_field), max(s[a][i][1] for s in per_field))
                for i in range(out_hw[a])
            )
        )
    return _from_spans(tuple(axes))
