"""The layer stack as a Qt list model over the document, with drag and drop.

Rows are the document's layers with their analysis (output shape, parameter
count, error). Drops never change the model directly: they push undo commands
on the document, and the model follows the document's `changed` signal.

Two MIME types: `application/x-cnnviz-layer` (a palette entry: the layer type
name) inserts a new layer; `application/x-cnnviz-rows` (rows dragged inside
the stack: JSON with the source model, the rows and the layers) moves them,
or copies the layers when they come from another window.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from PySide6.QtCore import QAbstractListModel, QMimeData, QModelIndex, QPersistentModelIndex, Qt

from cnnviz.core import safe_json
from cnnviz.core.analysis import LayerInfo
from cnnviz.core.architecture import ArchitectureError, Layer
from cnnviz.core.catalogue import CATALOGUE
from cnnviz.qt.editor import commands
from cnnviz.qt.editor.document import Document
from cnnviz.qt.editor.glyphs import LAYER_MIME, ROWS_MIME

log = logging.getLogger(__name__)

INFO_ROLE = Qt.ItemDataRole.UserRole + 1
ERROR_ROLE = Qt.ItemDataRole.UserRole + 2

AnyIndex = QModelIndex | QPersistentModelIndex


def format_shape(shape) -> str:
    return "×".join(str(s) for s in shape) if shape else "—"


def format_count(count: int) -> str:
    """12,345 / 1.2M / 138M: short enough for a narrow column."""
    if count >= 10_000_000:
        return f"{count / 1e6:.0f}M"
    if count >= 1_000_000:
        return f"{count / 1e6:.1f}M"
    return f"{count:,}"


def row_tooltip(info: LayerInfo) -> str:
    lines = [f"Layer {info.index}: {info.layer.type} {info.layer.describe()}".rstrip()]
    if info.input_shape is not None:
        lines.append(f"input {format_shape(info.input_shape)}")
    if info.error:
        lines.append(f"Invalid: {info.error}")
    elif not info.computable:
        lines.append("Not computable: an earlier layer is invalid.")
    else:
        lines.append(f"output {format_shape(info.output_shape)}")
        lines.append(f"{info.params:,} parameters, {info.macs:,} multiply-adds")
    return "\n".join(lines)


class StackModel(QAbstractListModel):
    def __init__(self, doc: Document, parent=None):
        super().__init__(parent)
        self.doc = doc
        self._infos: tuple[LayerInfo, ...] = doc.analysis.layers
        doc.changed.connect(self._refresh)

    # -- following the document ----------------------------------------------

    def _refresh(self) -> None:
        infos = self.doc.analysis.layers
        if len(infos) == len(self._infos):
            self._infos = infos
            if infos:
                self.dataChanged.emit(self.index(0), self.index(len(infos) - 1))
            return
        self.beginResetModel()
        self._infos = infos
        self.endResetModel()

    def info(self, row: int) -> LayerInfo:
        return self._infos[row]

    # -- read ------------------------------------------------------------------

    def rowCount(self, parent: AnyIndex | None = None) -> int:
        return 0 if parent is not None and parent.isValid() else len(self._infos)

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._infos):
            return None
        info = self._infos[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return f"{info.index}  {info.layer.type}  {info.layer.describe()}".rstrip()
        if role == Qt.ItemDataRole.ToolTipRole:
            return row_tooltip(info)
        if role == INFO_ROLE:
            return info
        if role == ERROR_ROLE:
            return info.error
        if role == Qt.ItemDataRole.AccessibleTextRole:
            return row_tooltip(info).replace("\n", ", ")
        return None

    def flags(self, index: AnyIndex) -> Qt.ItemFlag:
        if not index.isValid():
            # Drops land between rows, never on a row.
            return Qt.ItemFlag.ItemIsDropEnabled
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
        rows = sorted({i.row() for i in indexes if i.isValid()})
        payload = {
            "source": id(self),
            "rows": rows,
            "layers": [self._infos[r].layer.to_json() for r in rows],
        }
        mime = QMimeData()
        mime.setData(ROWS_MIME, json.dumps(payload).encode("utf-8"))
        mime.setText("\n".join(self._infos[r].layer.type for r in rows))
        return mime

    def canDropMimeData(self, data, action, row, column, parent) -> bool:
        return data.hasFormat(LAYER_MIME) or data.hasFormat(ROWS_MIME)

    def dropMimeData(self, data: QMimeData, action, row: int, column: int, parent) -> bool:
        """Insert (palette) or move (rows) before `row`; -1 means at the end."""
        if action == Qt.DropAction.IgnoreAction:
            return True
        valid_parent = parent is not None and parent.isValid()
        position = row if row >= 0 else (parent.row() if valid_parent else self.rowCount())
        if data.hasFormat(LAYER_MIME):
            return self._drop_new_layer(bytes(data.data(LAYER_MIME)).decode("utf-8"), position)
        if data.hasFormat(ROWS_MIME):
            return self._drop_rows(bytes(data.data(ROWS_MIME)), position)
        return False

    def _push(self, command) -> bool:
        if command is None:
            return False
        self.doc.undo_stack.push(command)
        return True

    def _drop_new_layer(self, type_name: str, position: int) -> bool:
        if type_name not in CATALOGUE:
            log.warning("dropped unknown layer type %r", type_name)
            return False
        return self._push(
            commands.insert_layers(self.doc, position, [commands.new_layer(type_name)])
        )

    def _drop_rows(self, raw: bytes, position: int) -> bool:
        try:
            payload = safe_json.parse(bytes(raw).decode("utf-8"))
            rows = [int(r) for r in payload["rows"]]
        except (ValueError, KeyError, TypeError):
            log.warning("ignored a drop with unreadable rows")
            return False
        if payload.get("source") == id(self):
            return self._push(commands.move_rows(self.doc, rows, position))
        # Rows from another window: copy their layers here.
        try:
            layers = [_layer_from_json(raw) for raw in payload.get("layers", [])]
        except (ArchitectureError, AttributeError, TypeError) as exc:
            log.warning("ignored a drop: %s", exc)
            return False
        return self._push(commands.insert_layers(self.doc, position, layers))


def _layer_from_json(raw: dict) -> Layer:
    params = {k: v for k, v in raw.items() if k != "type"}
    return Layer.make(raw["type"], **params)
