"""What each row of the stack shows, as plain values (no Qt here).

A `Look` holds every word and flag the delegate draws for one row. The model
computes the looks once per edit and compares them with the last ones, so an
edit repaints only the rows that show something new; the delegate keys its
cache of painted rows on them, so a row that looks as before is copied, not
laid out and drawn again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from cnnviz.core.analysis import Analysis, LayerInfo
from cnnviz.qt.editor.stack_rows import (
    HEADER,
    LAYER,
    Row,
    inner_count,
    merge_label,
    merge_summary,
    path_label,
    path_output,
)

_ERROR_PREFIX = re.compile(r"^layer \S+ \w+: ")


def format_shape(shape) -> str:
    return "×".join(str(s) for s in shape) if shape else "—"


def format_count(count: int) -> str:
    """12,345 / 1.2M / 138M: short enough for a narrow column."""
    if count >= 10_000_000:
        return f"{count / 1e6:.0f}M"
    if count >= 1_000_000:
        return f"{count / 1e6:.1f}M"
    return f"{count:,}"


def short_error(info: LayerInfo) -> str:
    """The reason without the "layer 3.body.0 Conv2d:" prefix the row already shows."""
    return _ERROR_PREFIX.sub("", info.error or "")


@dataclass(frozen=True)
class Look:
    """Everything one row shows; rows that look alike paint alike."""

    kind: str  # stack_rows.LAYER, HEADER or MERGE
    depth: int
    title: str  # a layer's type; a header's path label; a merge's word ("add")
    detail: str = ""  # key parameters ("N layers" for a closed block); a merge's sum
    number: str = ""  # a layer's place in its path; a merge's glyph (⊕, ⧺)
    shape: str = ""  # output shape text, "invalid", "not computable" or "" (none)
    count: str = ""  # parameters ("" none to show)
    reason: str = ""  # the short reason drawn on a second line ("" none)
    invalid: bool = False
    computable: bool = True
    block: bool = False  # a block's own row (has an open/close arrow)
    is_open: bool = False

    @property
    def two_lines(self) -> bool:
        return bool(self.reason)


def look_of(analysis: Analysis, row: Row, is_open: bool) -> Look:
    """The look of `row`; `is_open`: for a block's row, whether it shows its paths."""
    info = row.info
    if row.kind == HEADER:
        shape = path_output(analysis, info, row.path)
        return Look(HEADER, row.depth, path_label(info, row.path), shape=_shape_or_none(shape))
    if row.kind != LAYER:
        return _merge_look(analysis, row)
    return _layer_look(analysis, row, is_open)


def _shape_or_none(shape) -> str:
    return format_shape(shape) if shape else ""


def _merge_look(analysis: Analysis, row: Row) -> Look:
    info = row.info
    glyph, word = merge_label(info).split(" ", 1)
    shown = info.computable or bool(info.error)
    shape = "invalid" if info.error else format_shape(info.output_shape)
    return Look(
        row.kind,
        row.depth,
        word,
        detail=merge_summary(info, analysis),
        number=glyph,
        shape=shape if shown else "",
        reason=short_error(info) if info.error else "",
        invalid=bool(info.error),
        computable=info.computable,
    )


def _layer_look(analysis: Analysis, row: Row, is_open: bool) -> Look:
    info, layer = row.info, row.info.layer
    detail = layer.describe()
    if layer.is_block and not is_open:
        detail = ", ".join(p for p in (detail, f"{inner_count(info)} layers") if p)
    count = ""
    if info.error:
        shape = "invalid"
    elif not info.computable:
        shape = "not computable"
    else:
        shape = format_shape(info.output_shape)
        params = analysis.params_within(info.index) if layer.is_block else info.params
        count = format_count(params) if params else "–"
    # A block's reason is its merge's: an open block shows it on its merge row.
    shows_reason = info.error and (not layer.is_block or not is_open)
    return Look(
        LAYER,
        row.depth,
        layer.type,
        detail=detail,
        number=info.address.rpartition(".")[2],
        shape=shape,
        count=count,
        reason=short_error(info) if shows_reason else "",
        invalid=bool(info.error),
        computable=info.computable,
        block=layer.is_block,
        is_open=is_open,
    )
