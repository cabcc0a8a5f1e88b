"""The layer stack as a Qt list model over the document, with drag and drop.

Rows come from stack_rows: every layer in pre-order, indented by depth, and
for each open block a header row per path and a merge row. Only layer rows
are selectable; `row_index(row)` / `row_of(index)` convert between rows and
the flat indices into `Analysis.layers` that the rest of the window uses.

Drops never change the model directly: they push undo commands on the
document, and the model follows the document's `changed` signal.

Two MIME types: `application/x-cnnviz-layer` (a palette entry: a layer type
name, or the name of a block or template in core/templates.py) inserts new
layers; `application/x-cnnviz-rows` (rows dragged inside the stack: JSON with
the source model, the layers' flat indices and the layers) moves them, or
copies the layers when they come from another window.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from PySide6.QtCore import QAbstractListModel, QMimeData, QModelIndex, QPersistentModelIndex, Qt

from cnnviz.core import safe_json
from cnnviz.core.analysis import Analysis, LayerInfo
from cnnviz.core.architecture import ArchitectureError, Layer, from_json
from cnnviz.core.catalogue import CATALOGUE
from cnnviz.core.templates import ENTRIES
from cnnviz.qt.editor import commands
from cnnviz.qt.editor.document import Document
from cnnviz.qt.editor.glyphs import LAYER_MIME, ROWS_MIME
from cnnviz.qt.editor.stack_looks import Look, format_shape, look_of
from cnnviz.qt.editor.stack_rows import (
    HEADER,
    LAYER,
    MERGE,
    Drop,
    Row,
    build_rows,
    drop_target,
    merge_arithmetic,
    merge_label,
    merge_summary,
    opens_by_default,
    path_label,
    path_output,
    shape_at,
)

log = logging.getLogger(__name__)

INFO_ROLE = Qt.ItemDataRole.UserRole + 1
ERROR_ROLE = Qt.ItemDataRole.UserRole + 2
ROW_ROLE = Qt.ItemDataRole.UserRole + 3  # the stack_rows.Row
OPEN_ROLE = Qt.ItemDataRole.UserRole + 4  # a block row: whether it shows its paths
PARAMS_ROLE = Qt.ItemDataRole.UserRole + 5  # parameters, a block's with its insides
SHAPE_ROLE = Qt.ItemDataRole.UserRole + 6  # a header's path output, a merge's output
MERGE_TEXT_ROLE = Qt.ItemDataRole.UserRole + 7  # a merge in numbers
LOOK_ROLE = Qt.ItemDataRole.UserRole + 8  # the stack_looks.Look: what the row shows

AnyIndex = QModelIndex | QPersistentModelIndex


def row_tooltip(info: LayerInfo, params: int | None = None) -> str:
    """`params`: a block's parameters with everything inside it."""
    lines = [f"Layer {info.address}: {info.layer.type} {info.layer.describe()}".rstrip()]
    if info.input_shape is not None:
        lines.append(f"input {format_shape(info.input_shape)}")
    if info.error:
        lines.append(f"Invalid: {info.error}")
    elif not info.computable:
        lines.append("Not computable: an earlier layer is invalid.")
    else:
        lines.append(f"output {format_shape(info.output_shape)}")
        count = info.params if params is None else params
        lines.append(f"{count:,} parameters, {info.macs:,} multiply-adds")
    return "\n".join(lines)


class StackModel(QAbstractListModel):
    def __init__(self, doc: Document, parent=None):
        super().__init__(parent)
        self.doc = doc
        # Blocks opened or closed by hand (address → open); the rest follow
        # opens_by_default.
        self._open: dict[str, bool] = {}
        # The last looks by what they depend on (see _build), with their layer.
        self._memo: dict[tuple, tuple[Layer, Look]] = {}
        self._analysis: Analysis = doc.analysis
        self._rows: tuple[Row, ...] = ()
        self._looks: tuple[Look, ...] = ()
        self._rows, self._looks = self._build(self._analysis)
        doc.changed.connect(self._refresh)

    # -- rows --------------------------------------------------------------------

    def _build(self, analysis: Analysis) -> tuple[tuple[Row, ...], tuple[Look, ...]]:
        """The rows and what each shows (sets the flat index → row map)."""
        size = len(analysis.layers)

        def is_open(info: LayerInfo) -> bool:
            return self._open.get(info.address, opens_by_default(info, size))

        rows = build_rows(analysis, is_open)
        self._row_of = {r.index: n for n, r in enumerate(rows) if r.index is not None}
        memo, self._memo = self._memo, {}
        looks = []
        for row in rows:
            opened = row.kind == LAYER and row.info.layer.is_block and is_open(row.info)
            info = row.info
            # A layer (a block: with all it holds) of the same input at the same
            # place looks as before: an edit describes only the rows it changed.
            key = (
                row.key,
                opened,
                info.input_shape,
                info.output_shape,
                info.error,
                info.computable,
            )
            known = memo.get(key)
            look = known[1] if known and known[0] is info.layer else look_of(analysis, row, opened)
            self._memo[key] = (info.layer, look)
            looks.append(look)
        return rows, tuple(looks)

    def _refresh(self) -> None:
        """Follow the document: an edit that keeps the rows repaints only the rows
        that show something new (a row whose height changes relays them all)."""
        self._analysis = self.doc.analysis
        rows, looks = self._build(self._analysis)
        if [r.key for r in rows] != [r.key for r in self._rows]:
            self.beginResetModel()
            self._rows, self._looks = rows, looks
            self.endResetModel()
            return
        before = self._looks
        changed = [n for n, (old, new) in enumerate(zip(before, looks, strict=True)) if old != new]
        if any(before[n].two_lines != looks[n].two_lines for n in changed):
            self.layoutAboutToBeChanged.emit()
            self._rows, self._looks = rows, looks
            self.layoutChanged.emit()
            return
        self._rows, self._looks = rows, looks
        for first, last in changed_ranges(changed):
            self.dataChanged.emit(self.index(first), self.index(last))

    def forget_open(self) -> bool:
        """Back to the default open/closed blocks (a new document); True when
        the rows changed (the selection went with them)."""
        if not self._open:
            return False
        self._open.clear()
        before = [r.key for r in self._rows]
        self._refresh()
        return [r.key for r in self._rows] != before

    def row(self, row: int) -> Row:
        return self._rows[row]

    def info(self, row: int) -> LayerInfo:
        return self._rows[row].info

    def row_index(self, row: int) -> int | None:
        """The flat index into Analysis.layers of a row; None for a header or merge."""
        return self._rows[row].index if 0 <= row < len(self._rows) else None

    def row_of(self, index: int) -> int | None:
        """The row showing flat index `index`; None when a closed block hides it."""
        return self._row_of.get(index)

    def is_open(self, index: int) -> bool:
        """Whether the block at flat index `index` shows what it holds."""
        row = self.row_of(index)
        return (
            row is not None
            and row + 1 < len(self._rows)
            and self._rows[row + 1].kind == HEADER
            and self._rows[row + 1].info.index == index
        )

    def set_open(self, index: int, is_open: bool) -> None:
        """Open or close the block at flat index `index` (not an edit: no undo)."""
        info = self._analysis.layers[index]
        if not info.layer.is_block or self.is_open(index) == is_open:
            return
        self._open[info.address] = is_open
        rows, looks = self._build(self._analysis)
        first = self.row_of(index) + 1
        count = len(rows) - len(self._rows)
        if count > 0:
            self.beginInsertRows(QModelIndex(), first, first + count - 1)
            self._rows, self._looks = rows, looks
            self.endInsertRows()
        else:
            self.beginRemoveRows(QModelIndex(), first, first - count - 1)
            self._rows, self._looks = rows, looks
            self.endRemoveRows()
        self.dataChanged.emit(self.index(first - 1), self.index(first - 1))

    def reveal(self, index: int) -> None:
        """Open every block around flat index `index`, so it has a row."""
        parent = self._analysis.layers[index].parent
        chain = []
        while parent is not None:
            chain.append(parent)
            parent = self._analysis.layers[parent].parent
        for block in reversed(chain):
            self.set_open(block, True)

    # -- read ------------------------------------------------------------------

    def rowCount(self, parent: AnyIndex | None = None) -> int:
        return 0 if parent is not None and parent.isValid() else len(self._rows)

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        row = self._rows[index.row()]
        if role == LOOK_ROLE:
            return self._looks[index.row()]
        if role == ROW_ROLE:
            return row
        if row.kind != LAYER:
            return self._path_data(row, role)
        info = row.info
        if role == Qt.ItemDataRole.DisplayRole:
            return f"{info.address}  {info.layer.type}  {info.layer.describe()}".rstrip()
        if role == Qt.ItemDataRole.ToolTipRole:
            return self.tooltip(info)
        if role == INFO_ROLE:
            return info
        if role == ERROR_ROLE:
            return info.error
        if role == OPEN_ROLE:
            return info.layer.is_block and self.is_open(info.index)
        if role == PARAMS_ROLE:
            return self._analysis.params_within(info.index) if info.layer.is_block else info.params
        if role == Qt.ItemDataRole.AccessibleTextRole:
            return self.tooltip(info).replace("\n", ", ")
        return None

    def tooltip(self, info: LayerInfo) -> str:
        params = self._analysis.params_within(info.index) if info.layer.is_block else None
        return row_tooltip(info, params)

    def _path_data(self, row: Row, role: int) -> Any:
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.AccessibleTextRole):
            return path_label(row.info, row.path) if row.kind == HEADER else merge_label(row.info)
        if role == Qt.ItemDataRole.ToolTipRole:
            if row.kind == HEADER:
                return f"Drop layers here to put them at the start of {row.container}"
            words = merge_arithmetic(self._analysis, row.info)
            where = f"{merge_label(row.info)}: where the paths of layer {row.info.address} meet"
            return f"{where}\n{words}" if words else where
        if role == ERROR_ROLE and row.kind == MERGE:
            return row.info.error
        if role == SHAPE_ROLE:
            return self.path_shape(row)
        if role == MERGE_TEXT_ROLE and row.kind == MERGE:
            return merge_summary(row.info, self._analysis)
        return None

    def path_shape(self, row: Row):
        """The output shape of a header's path, or the merged shape for a merge row."""
        if row.kind == MERGE:
            return row.info.output_shape
        return path_output(self._analysis, row.info, row.path)

    def flags(self, index: AnyIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.ItemIsDropEnabled
        kind = self._rows[index.row()].kind
        if kind == HEADER:
            # A drop onto a path's header goes into that path (an empty path
            # has no row of its own to drop before).
            return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsDropEnabled
        if kind == MERGE:
            return Qt.ItemFlag.ItemIsEnabled
        return (
            Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsDragEnabled
        )

    # -- drag and drop ---------------------------------------------------------

    def supportedDropActions(self) -> Qt.DropAction:
        return Qt.DropAction.CopyAction | Qt.DropAction.MoveAction

    def supportedDragActions(self) -> Qt.DropAction:
        return Qt.DropAction.MoveAction

    def mimeTypes(self) -> list[str]:
        return [LAYER_MIME, ROWS_MIME]

    def mimeData(self, indexes) -> QMimeData:
        flat = sorted({self.row_index(i.row()) for i in indexes if i.isValid()} - {None})
        infos = [self._analysis.layers[i] for i in flat]
        payload = {
            "source": id(self),
            "rows": flat,
            "layers": [info.layer.to_json() for info in infos],
        }
        mime = QMimeData()
        mime.setData(ROWS_MIME, json.dumps(payload).encode("utf-8"))
        mime.setText("\n".join(info.layer.type for info in infos))
        return mime

    def canDropMimeData(self, data, action, row, column, parent) -> bool:
        return data.hasFormat(LAYER_MIME) or data.hasFormat(ROWS_MIME)

    def drop_at(self, row: int, parent: AnyIndex | None) -> Drop:
        """Where a drop before `row` (-1: at the end, or onto `parent`) lands."""
        onto = row < 0 and parent is not None and parent.isValid()
        target = parent.row() if onto else row
        top = len(self.doc.architecture.layers)
        return drop_target(self._rows, target, onto, top)

    def dropMimeData(self, data: QMimeData, action, row: int, column: int, parent) -> bool:
        """Insert (palette) or move (rows) before `row`, or into the path whose
        header is `parent`; -1 without a parent means at the end."""
        if action == Qt.DropAction.IgnoreAction:
            return True
        drop = self.drop_at(row, parent)
        if data.hasFormat(LAYER_MIME):
            return self._drop_new(bytes(data.data(LAYER_MIME)).decode("utf-8"), drop)
        if data.hasFormat(ROWS_MIME):
            return self._drop_rows(bytes(data.data(ROWS_MIME)), drop)
        return False

    def _push(self, command) -> bool:
        if command is None:
            return False
        self.doc.undo_stack.push(command)
        return True

    def new_layers(self, name: str, drop: Drop) -> tuple[Layer, ...] | None:
        """A palette entry's layers for that place: a new layer, or a block or
        template sized for the shape arriving there. None if unknown."""
        if name in CATALOGUE:
            return (commands.new_layer(name),)
        if name in ENTRIES:
            shape = shape_at(self._analysis, drop.container, drop.position)
            return ENTRIES[name].make(shape)
        log.warning("dropped unknown layer type %r", name)
        return None

    def _drop_new(self, name: str, drop: Drop) -> bool:
        layers = self.new_layers(name, drop)
        if not layers:
            return False
        return self._push(commands.insert_layers(self.doc, drop.position, layers, drop.container))

    def _drop_rows(self, raw: bytes, drop: Drop) -> bool:
        try:
            payload = safe_json.parse(bytes(raw).decode("utf-8"))
            rows = [int(r) for r in payload["rows"]]
        except (ValueError, KeyError, TypeError):
            log.warning("ignored a drop with unreadable rows")
            return False
        if payload.get("source") == id(self):
            return self._push(commands.move_rows(self.doc, rows, drop.position, drop.container))
        # Rows from another window: copy their layers here.
        try:
            layers = [_layer_from_json(raw) for raw in payload.get("layers", [])]
        except (ArchitectureError, AttributeError, TypeError, KeyError) as exc:
            log.warning("ignored a drop: %s", exc)
            return False
        return self._push(commands.insert_layers(self.doc, drop.position, layers, drop.container))


def changed_ranges(rows: list[int]) -> list[tuple[int, int]]:
    """Sorted row numbers as (first, last) runs: [2, 3, 4, 9] → [(2, 4), (9, 9)]."""
    runs: list[tuple[int, int]] = []
    for n in rows:
        if runs and runs[-1][1] == n - 1:
            runs[-1] = (runs[-1][0], n)
        else:
            runs.append((n, n))
    return runs


def _layer_from_json(raw: dict) -> Layer:
    """One layer (a block with what it holds) as an architecture file writes it."""
    data = {
        "format": "cnnviz-architecture",
        "version": 2,
        "input": {"channels": 1, "height": 1, "width": 1},
        "layers": [raw],
    }
    return from_json(data).layers[0]
