"""The stack view: one row per layer (see stack_delegate), with its editing actions.

The rows are a flat list (stack_model); blocks open and close with their
arrow, a click or ← / →. Delete, Ctrl+D, Alt+Up/Down act on the selected
layers (multi-selection works), Ctrl+G wraps them in a residual block; every
edit is an undo command. The selection the rest of the window sees is a list
of flat indices into `Analysis.layers`, never row numbers.

Drops land where the drop indicator shows: between two rows, at the depth of
the path they go into, or onto a path's header (its start).
"""

from __future__ import annotations

from PySide6.QtCore import QItemSelection, QModelIndex, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence, QPainter, QPalette
from PySide6.QtWidgets import QAbstractItemView, QListView, QMenu, QWidget

from cnnviz.core.architecture import ArchitectureError
from cnnviz.core.blocks import PARALLEL
from cnnviz.qt.editor import commands
from cnnviz.qt.editor.document import Document
from cnnviz.qt.editor.stack_delegate import (
    StackDelegate,
    arrow_rect,
    columns,
    short_error,
)
from cnnviz.qt.editor.stack_drops import StackDragDrop
from cnnviz.qt.editor.stack_model import StackModel
from cnnviz.qt.editor.stack_rows import LAYER, Drop

__all__ = ["StackDelegate", "StackView", "columns", "short_error"]


class StackView(StackDragDrop, QListView):
    """The list of layers; its actions edit the document through the undo stack."""

    # The current layer's flat index (a header or merge row: its block's);
    # -1 when nothing is current.
    current_row_changed = Signal(int)
    # An edit the core refused (wrap layers of two paths): one line for the status bar.
    edit_refused = Signal(str)

    def __init__(self, doc: Document, parent: QWidget | None = None):
        super().__init__(parent)
        self.doc = doc
        self._drop: tuple[int, bool, Drop] | None = None  # the drop indicator
        self.setObjectName("stack")
        self.stack_model = StackModel(doc, self)
        self.setModel(self.stack_model)
        self.setItemDelegate(StackDelegate(self))
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DragDrop)
        self.setDefaultDropAction(Qt.DropAction.MoveAction)
        self.setDropIndicatorShown(False)  # ours shows the depth (paintEvent)
        self.setDragDropOverwriteMode(False)
        self.setAlternatingRowColors(True)
        self.setUniformItemSizes(False)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self._make_actions()
        self.selectionModel().selectionChanged.connect(self._selection_changed)
        self.selectionModel().currentRowChanged.connect(self._current_changed)
        doc.selection_requested.connect(self.select_rows)
        doc.reset_done.connect(self._forget_open)
        doc.changed.connect(self._update_actions)
        self._update_actions()

    # -- actions -----------------------------------------------------------------

    def _action(self, text: str, shortcuts, slot, tip: str) -> QAction:
        action = QAction(text, self)
        action.setShortcuts([QKeySequence(s) for s in shortcuts])
        action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        action.setStatusTip(tip)
        action.triggered.connect(slot)
        self.addAction(action)
        return action

    def _make_actions(self) -> None:
        std = QKeySequence.StandardKey
        self.delete_action = self._action(
            "&Delete",
            [std.Delete, Qt.Key.Key_Backspace],
            self.delete_selected,
            "Remove the selected layers",
        )
        self.duplicate_action = self._action(
            "D&uplicate", ["Ctrl+D"], self.duplicate_selected, "Copy the selected layers below them"
        )
        self.move_up_action = self._action(
            "Move &Up",
            ["Alt+Up", "Ctrl+Shift+Up"],
            lambda: self.move_selected(-1),
            "Move the selected layers up",
        )
        self.move_down_action = self._action(
            "Move Do&wn",
            ["Alt+Down", "Ctrl+Shift+Down"],
            lambda: self.move_selected(1),
            "Move the selected layers down",
        )
        self.wrap_action = self._action(
            "&Wrap in Residual Block",
            ["Ctrl+G"],
            self.wrap_selected,
            "Make the selected layers the body of a new residual block (identity shortcut)",
        )
        self.unwrap_action = self._action(
            "U&nwrap Block",
            ["Ctrl+Shift+G"],
            self.unwrap_current,
            "Replace the block by its body (or first branch)",
        )
        self.add_branch_action = self._action(
            "Add &Branch", [], self.add_branch, "Add an empty branch to the parallel block"
        )

    def _update_actions(self) -> None:
        rows = self.selected_rows()
        for action in (self.delete_action, self.duplicate_action, self.wrap_action):
            action.setEnabled(bool(rows))
        up, down = self._can_move(rows)
        self.move_up_action.setEnabled(up)
        self.move_down_action.setEnabled(down)
        block = self.current_block()
        self.unwrap_action.setEnabled(block is not None)
        is_parallel = block is not None and self._layer(block).type == PARALLEL
        self.add_branch_action.setEnabled(is_parallel)

    def _layer(self, index: int):
        return self.doc.analysis.layers[index].layer

    def _can_move(self, rows: list[int]) -> tuple[bool, bool]:
        """Whether the selection can go up / down within its path."""
        if not rows:
            return False, False
        places = [self.doc.analysis.layers[i].address.rpartition(".") for i in rows]
        if len({container for container, _, _ in places}) > 1:
            return False, False
        container = places[0][0]
        if container:
            block = self.doc.analysis.at(container.rpartition(".")[0].removesuffix(".branches"))
            names = block.layer.path_names
            length = len(block.layer.paths[names.index(container.split(".", 1)[1])])
        else:
            length = len(self.doc.architecture.layers)
        return int(places[0][2]) > 0, int(places[-1][2]) < length - 1

    # -- rows and flat indices -------------------------------------------------------

    def _flat(self, row: int) -> int:
        """The flat index a row stands for: a layer's own, a header's or merge's
        block; -1 for no row."""
        if not 0 <= row < self.stack_model.rowCount():
            return -1
        return self.stack_model.row(row).info.index

    def selected_rows(self) -> list[int]:
        """The selected layers as flat indices into Analysis.layers, sorted."""
        model = self.stack_model
        found = {model.row_index(i.row()) for i in self.selectionModel().selectedRows()}
        return sorted(found - {None})

    def select_rows(self, indices: list[int]) -> None:
        """Select the layers at these flat indices (opening the blocks they are in)."""
        model, selection = self.stack_model, self.selectionModel()
        count = len(self.doc.analysis.layers)
        valid = [i for i in indices if 0 <= i < count]
        for i in valid:
            model.reveal(i)
        rows = [model.row_of(i) for i in valid]
        chosen = QItemSelection()
        for row in rows:
            chosen.select(model.index(row), model.index(row))
        flags = selection.SelectionFlag.ClearAndSelect | selection.SelectionFlag.Rows
        selection.select(chosen, flags)
        if rows:
            selection.setCurrentIndex(model.index(rows[0]), selection.SelectionFlag.NoUpdate)
            self.scrollTo(model.index(rows[0]))
        else:
            selection.setCurrentIndex(QModelIndex(), selection.SelectionFlag.NoUpdate)
        self._update_actions()  # unwrap and add branch follow the current row
        self.current_row_changed.emit(valid[0] if valid else -1)

    def reveal_current(self) -> None:
        """Show the current row with as much of the top of the stack as fits."""
        self.verticalScrollBar().setValue(0)
        if self.currentIndex().isValid():
            self.scrollTo(self.currentIndex(), QAbstractItemView.ScrollHint.EnsureVisible)

    def current_row(self) -> int:
        """The current layer's flat index (a header's or merge's block), or -1."""
        return self._flat(self.currentIndex().row()) if self.currentIndex().isValid() else -1

    def current_block(self) -> int | None:
        """The flat index of the block the current row is, or is a header or merge of."""
        index = self.currentIndex()
        if not index.isValid():
            return None
        row = self.stack_model.row(index.row())
        return row.info.index if row.info.layer.is_block else None

    def _selection_changed(self, *_args) -> None:
        self._update_actions()

    def _current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        self._update_actions()
        self.current_row_changed.emit(self._flat(current.row()))

    # -- opening and closing blocks -------------------------------------------------

    def set_open(self, index: int, is_open: bool) -> None:
        """Open or close the block at flat index `index`; the selection stays."""
        selected = self.selected_rows()
        current = self.current_row()
        self.stack_model.set_open(index, is_open)
        hidden = [i for i in selected if self.stack_model.row_of(i) is None]
        if hidden:  # closing hid selected layers: the block stands for them
            self.select_rows([index])
        elif current >= 0 and self.stack_model.row_of(current) is not None:
            row = self.stack_model.row_of(current)
            self.selectionModel().setCurrentIndex(
                self.stack_model.index(row), self.selectionModel().SelectionFlag.NoUpdate
            )

    def _forget_open(self) -> None:
        """A new document: its blocks open or closed by default, selection kept."""
        selected = self.selected_rows()
        if self.stack_model.forget_open():
            self.select_rows(selected)

    def toggle(self, index: int) -> None:
        self.set_open(index, not self.stack_model.is_open(index))

    def keyPressEvent(self, event) -> None:
        """← closes a block (or goes to the block a layer is in), → opens it."""
        plain = not event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
        if plain and event.key() in (Qt.Key.Key_Left, Qt.Key.Key_Right):
            self._left_right(event.key() == Qt.Key.Key_Right)
            event.accept()
            return
        super().keyPressEvent(event)

    def _left_right(self, opening: bool) -> None:
        index = self.currentIndex()
        if not index.isValid():
            return
        row = self.stack_model.row(index.row())
        info = row.info
        is_block = row.kind == LAYER and info.layer.is_block
        if is_block and self.stack_model.is_open(info.index) != opening:
            self.set_open(info.index, opening)
            return
        if opening:
            return
        parent = info.index if row.kind != LAYER else info.parent
        if parent is not None:
            self.select_rows([parent])

    def mousePressEvent(self, event) -> None:
        """A click on a block's arrow opens or closes it (and selects nothing)."""
        pos = event.position().toPoint()
        index = self.indexAt(pos)
        if index.isValid() and event.button() == Qt.MouseButton.LeftButton:
            row = self.stack_model.row(index.row())
            on_arrow = arrow_rect(self.visualRect(index), row.depth).contains(pos)
            if row.kind == LAYER and row.info.layer.is_block and on_arrow:
                self.toggle(row.info.index)
                event.accept()
                return
        super().mousePressEvent(event)

    def mouseDoubleClickEvent(self, event) -> None:
        index = self.indexAt(event.position().toPoint())
        if index.isValid():
            row = self.stack_model.row(index.row())
            if row.kind == LAYER and row.info.layer.is_block:
                self.toggle(row.info.index)
                event.accept()
                return
        super().mouseDoubleClickEvent(event)

    # -- edits ------------------------------------------------------------------------

    def _push(self, command) -> None:
        if command is not None:
            self.doc.undo_stack.push(command)

    def _try(self, make) -> None:
        try:
            self._push(make())
        except ArchitectureError as exc:
            self.edit_refused.emit(str(exc))

    def delete_selected(self) -> None:
        self._push(commands.remove_rows(self.doc, self.selected_rows()))

    def duplicate_selected(self) -> None:
        self._push(commands.duplicate_rows(self.doc, self.selected_rows()))

    def move_selected(self, step: int) -> None:
        self._push(commands.move_rows_by(self.doc, self.selected_rows(), step))

    def append_entry(self, name: str) -> None:
        """A palette entry (layer type, block or template) at the end of the stack."""
        drop = Drop("", len(self.doc.architecture.layers), 0)
        layers = self.stack_model.new_layers(name, drop)
        if layers:
            self._push(commands.insert_layers(self.doc, drop.position, layers))

    def wrap_selected(self) -> None:
        rows = self.selected_rows()
        if rows:
            self._try(lambda: commands.wrap_rows(self.doc, rows))

    def unwrap_current(self) -> None:
        block = self.current_block()
        if block is not None:
            self._try(lambda: commands.unwrap_row(self.doc, block))

    def add_branch(self) -> None:
        block = self.current_block()
        if block is not None and self._layer(block).type == PARALLEL:
            self._try(lambda: commands.add_branch(self.doc, block))

    def context_menu(self) -> QMenu:
        """The stack's context menu for the current selection."""
        menu = QMenu(self)
        menu.addActions(
            [self.delete_action, self.duplicate_action, self.move_up_action, self.move_down_action]
        )
        menu.addSeparator()
        menu.addAction(self.wrap_action)
        block = self.current_block()
        if block is not None:
            menu.addAction(self.unwrap_action)
            if self._layer(block).type == PARALLEL:
                menu.addAction(self.add_branch_action)
            menu.addSeparator()
            is_open = self.stack_model.is_open(block)
            toggle = menu.addAction("Close Block" if is_open else "Open Block")
            toggle.triggered.connect(lambda: self.set_open(block, not is_open))
        return menu

    def contextMenuEvent(self, event) -> None:
        index = self.indexAt(event.pos())
        if index.isValid() and not self.selectionModel().isSelected(index):
            row = self.stack_model.row(index.row())
            self.select_rows([row.info.index])
        self._update_actions()
        self.context_menu().exec(event.globalPos())

    def dataChanged(self, top_left, bottom_right, roles=()) -> None:
        """Repaint only the rows that changed. QListView would lay out every row
        again and repaint them all, for every dataChanged; the model emits it
        only for rows that keep their height (layoutChanged otherwise)."""
        if not (top_left.isValid() and bottom_right.isValid()):
            return super().dataChanged(top_left, bottom_right, roles)
        rect = self.visualRect(top_left).united(self.visualRect(bottom_right))
        self.viewport().update(rect)

    def paintEvent(self, event) -> None:
        super().paintEvent(event)
        painter = QPainter(self.viewport())
        if self._drop is not None:
            self.paint_drop(painter)
        if self.stack_model.rowCount() == 0:
            color = self.palette().color(QPalette.ColorRole.Text)
            color.setAlphaF(0.5)
            painter.setPen(color)
            painter.drawText(
                self.viewport().rect().adjusted(16, 16, -16, -16),
                Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                "The stack is empty.\nDrag layers here from the palette,\n"
                "or pick a network from the Presets menu.",
            )
        painter.end()
