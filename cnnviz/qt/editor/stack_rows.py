"""The stack's rows for a network that may hold blocks (no Qt here).

The stack is a flat list. Its rows are the analysis's layers in pre-order,
indented by depth, and for each open block a header row per path ("body",
"shortcut: identity", "branch 1") and a merge row after its last path
("⊕ add", "⧺ concat"), where the paths meet. A closed block is one row.

Only layer rows are layers: `Row.index` is the flat index into
`Analysis.layers` the rest of the window uses; header and merge rows have
None. A drop "before row r" or "onto a header" becomes a place in the tree,
(container, position), by `drop_target`, the one rule both the view's drop
indicator and the model's drop use.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

from cnnviz.core import blocks
from cnnviz.core.analysis import Analysis, LayerInfo

LAYER, HEADER, MERGE = "layer", "header", "merge"

# A block holding more layers than this, or in a network holding more than
# BIG_NETWORK layers, starts closed: a large preset first reads as its outline.
SMALL_BLOCK = 8
BIG_NETWORK = 40

MERGE_GLYPHS = {"add": "⊕", "concat": "⧺"}


@dataclass(frozen=True)
class Row:
    kind: str
    info: LayerInfo  # the layer; for a header or merge row, its block
    depth: int  # indentation level
    path: int = -1  # a header's path number

    @property
    def index(self) -> int | None:
        """The flat index into Analysis.layers; None for a header or merge row."""
        return self.info.index if self.kind == LAYER else None

    @property
    def container(self) -> str:
        """Where this row's layers live: "3.body" for a header, else the
        container of the layer (or of the block's last path, for a merge)."""
        if self.kind == LAYER:
            return self.info.address.rpartition(".")[0]
        names = self.info.layer.path_names
        name = names[self.path] if self.kind == HEADER else names[-1]
        return f"{self.info.address}.{name}"

    @property
    def key(self) -> tuple:
        """What identifies the row across edits that keep the structure."""
        return (self.kind, self.info.address, self.path)


@dataclass(frozen=True)
class Drop:
    """A place in the tree: before `position` of `container`, drawn at `depth`."""

    container: str
    position: int
    depth: int


def path_label(block: LayerInfo, k: int) -> str:
    """ "body", "shortcut: identity", "branch 1" (branches counted from 0, as
    in the addresses and messages: layer 3.branches.1.0)."""
    label = _path_word(block, k)
    return f"{label}: identity" if not block.layer.paths[k] else label


def merge_label(block: LayerInfo) -> str:
    kind = blocks.merge_kind(block.layer.type, block.layer.params)
    return f"{MERGE_GLYPHS[kind]} {kind}"


def inner_count(info: LayerInfo) -> int:
    """How many layers a block holds, at every depth."""
    return sum(1 for _ in info.layer.walk(info.address)) - 1


def opens_by_default(info: LayerInfo, network_size: int) -> bool:
    return inner_count(info) <= SMALL_BLOCK and network_size <= BIG_NETWORK


def build_rows(analysis: Analysis, is_open: Callable[[LayerInfo], bool]) -> tuple[Row, ...]:
    """Every row, top to bottom; `is_open(block_info)` says which blocks show inside."""
    by_path: dict[tuple[int | None, str | None], list[LayerInfo]] = defaultdict(list)
    for info in analysis.layers:
        by_path[(info.parent, info.path)].append(info)
    rows: list[Row] = []

    def add(info: LayerInfo) -> None:
        rows.append(Row(LAYER, info, info.depth))
        if not info.layer.is_block or not is_open(info):
            return
        for k, name in enumerate(info.layer.path_names):
            rows.append(Row(HEADER, info, info.depth + 1, k))
            for inner in by_path[(info.index, name)]:
                add(inner)
        rows.append(Row(MERGE, info, info.depth + 1))

    for info in by_path[(None, None)]:
        add(info)
    return tuple(rows)


def path_output(analysis: Analysis, block: LayerInfo, k: int):
    """The shape path `k` of `block` gives: its last layer's output, or the
    block's input for an empty (identity) path."""
    name = block.layer.path_names[k]
    inside = [i for i in analysis.children(block.index) if i.path == name]
    return inside[-1].output_shape if inside else block.input_shape


def drop_target(rows: tuple[Row, ...], row: int, onto: bool, top_count: int) -> Drop:
    """Where a drop lands: before row `row` (len(rows) or -1: the end of the
    stack), or, with `onto`, into the header's path at 0 (onto another row:
    before it).

    Between the last row of a path and the next header or merge row is the
    end of that path; between a block row and its first header, the start of
    its first path. So every gap of the list is one place, shown at its depth.
    """
    if row < 0 or row >= len(rows):
        return Drop("", top_count, 0)
    target = rows[row]
    if target.kind == LAYER:
        container, _, position = target.info.address.rpartition(".")
        return Drop(container, int(position), target.depth)
    paths = target.info.layer.paths
    if target.kind == HEADER and (onto or target.path == 0):
        return Drop(target.container, 0, target.depth)
    k = target.path - 1 if target.kind == HEADER else len(paths) - 1
    name = target.info.layer.path_names[k]
    return Drop(f"{target.info.address}.{name}", len(paths[k]), target.depth)


def shape_at(analysis: Analysis, container: str, position: int):
    """The shape arriving before `position` of `container` (what a template
    dropped there is sized for); None where it cannot be computed."""
    if position > 0:
        before = f"{container}.{position - 1}" if container else str(position - 1)
        try:
            return analysis.at(before).output_shape
        except KeyError:
            return None
    if not container:
        return analysis.input_shape
    block = container.rpartition(".")[0]
    if block.endswith(".branches"):  # "6.branches.2" → "6"
        block = block.rpartition(".")[0]
    try:
        return analysis.at(block).input_shape
    except KeyError:
        return None


def merge_summary(block: LayerInfo, analysis: Analysis) -> str:
    """What the merge row says beside its glyph: "body + shortcut",
    "64 + 128 + 32 + 32 channels" (the full sum is in merge_arithmetic)."""
    kind = blocks.merge_kind(block.layer.type, block.layer.params)
    if kind == "concat":
        shapes = [path_output(analysis, block, k) for k in range(len(block.layer.paths))]
        if all(shape for shape in shapes):
            return " + ".join(str(shape[0]) for shape in shapes) + " channels"
    return " + ".join(_path_word(block, k) for k in range(len(block.layer.paths)))


def merge_arithmetic(analysis: Analysis, block: LayerInfo) -> str:
    """The merge in numbers: "body 64×56×56 + shortcut 64×56×56 = 64×56×56",
    "concat: 64 + 128 + 32 + 32 = 256 channels × 28×28"; "" when a path
    cannot be computed."""
    shapes = [path_output(analysis, block, k) for k in range(len(block.layer.paths))]
    if any(shape is None for shape in shapes):
        return ""
    kind = blocks.merge_kind(block.layer.type, block.layer.params)
    out = block.output_shape
    if kind == "concat" and out is not None and len(out) > 1:
        channels = " + ".join(str(shape[0]) for shape in shapes)
        rest = "×".join(map(str, out[1:]))
        return f"concat: {channels} = {out[0]} channels × {rest}"
    terms = " + ".join(f"{_path_word(block, k)} {_dims(shape)}" for k, shape in enumerate(shapes))
    return f"{terms} = {_dims(out)}" if out is not None else f"{terms}: no sum"


def _path_word(block: LayerInfo, k: int) -> str:
    name = block.layer.path_names[k]
    return f"branch {name.split('.')[1]}" if name.startswith("branches.") else name


def _dims(shape) -> str:
    return "×".join(str(n) for n in shape)


def path_params(analysis: Analysis, block: LayerInfo, k: int) -> int:
    """The parameters of everything on path `k` of `block`."""
    name = block.layer.path_names[k]
    inside = [i for i in analysis.children(block.index) if i.path == name]
    return sum(analysis.params_within(i.index) for i in inside)


def path_rows(analysis: Analysis, block: LayerInfo) -> list[tuple[str, int, object, int]]:
    """One (name, layers on it, output shape or None, parameters) per path."""
    return [
        (
            _path_word(block, k),
            len(block.layer.paths[k]),
            path_output(analysis, block, k),
            path_params(analysis, block, k),
        )
        for k in range(len(block.layer.paths))
    ]


def block_lines(analysis: Analysis, block: LayerInfo) -> list[str]:
    """A block's merge for Properties (path_rows has each path): the merge
    rule in numbers, its MACs, and the parameters path by path."""
    if block.input_shape is None:
        return []
    lines = []
    arithmetic = merge_arithmetic(analysis, block)
    if arithmetic:
        lines.append(arithmetic)
    kind = blocks.merge_kind(block.layer.type, block.layer.params)
    if block.output_shape is not None:
        rule = "one add per output value" if kind == "add" else "a concat only copies"
        lines.append(f"merge: {block.macs:,} MACs ({rule})")
    counts = [count for *_rest, count in path_rows(analysis, block)]
    total = analysis.params_within(block.index)
    parts = " + ".join(f"{c:,}" for c in counts)
    lines.append(
        f"parameters: {parts} = {total:,}" if len(counts) > 1 else f"parameters: {total:,}"
    )
    return lines
