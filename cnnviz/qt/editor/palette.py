"""The layer palette: every catalogue layer, grouped by kind, ready to drag.

Drag an entry into the stack to insert it where it is dropped; double-click
it or press Enter to append it. Tooltips carry the catalogue's explanation.
The last group, "Blocks", holds the empty blocks and the templates of
core/templates.py (a ResNet basic block, an Inception module, ...): their
drag carries the entry's name, and the stack makes its layers for the shape
arriving where it is dropped.
"""

from __future__ import annotations

from PySide6.QtCore import QMimeData, QSize, Qt, Signal
from PySide6.QtGui import QDrag, QFont, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QLineEdit,
    QStyle,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from cnnviz.core.blocks import BLOCK_TYPES
from cnnviz.core.catalogue import by_group
from cnnviz.core.templates import BLOCKS, ENTRIES, TEMPLATES
from cnnviz.qt.editor.glyphs import LAYER_MIME, group_color, layer_icon

TYPE_ROLE = Qt.ItemDataRole.UserRole + 1
GROUP_ROLE = Qt.ItemDataRole.UserRole + 2
_SLACK = 6  # pixels: styles round the item margins differently from their size hints
BLOCKS_GROUP = "block"
# Shorter palette names where the template's own is too long for the dock.
SHORT_NAMES = {
    "MobileNetV2 inverted residual": "Inverted residual",
    "Depthwise-separable convolution": "Depthwise-separable",
}


def entry_icon_type(name: str) -> str:
    """The layer type whose badge stands for a palette entry: a template's
    first layer (a block's ⊕ or ⫴, a depthwise-separable conv's ▦)."""
    if name not in ENTRIES:
        return name
    return ENTRIES[name].make((64, 56, 56))[0].type


def entry_tooltip(name: str) -> str:
    """A block or template: its name, what it is, and how its block works."""
    entry = ENTRIES[name]
    first = entry_icon_type(name)
    how = BLOCK_TYPES[first].explanation if first in BLOCK_TYPES else ""
    text = f"<b>{entry.name}</b><p>{entry.description}</p>"
    return text + (f"<p>{how}</p>" if how else "")


def layer_mime(type_name: str) -> QMimeData:
    """The MIME data of a palette drag: the torch class name of the layer."""
    mime = QMimeData()
    mime.setData(LAYER_MIME, type_name.encode("utf-8"))
    mime.setText(type_name)
    return mime


class PaletteTree(QTreeWidget):
    """The grouped list; drags carry `LAYER_MIME`."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setHeaderHidden(True)
        self.setRootIsDecorated(False)
        self.setIndentation(8)
        self.setDragEnabled(True)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setUniformRowHeights(True)
        self.setObjectName("palette")
        self.setStyleSheet("QTreeView#palette::item { padding: 2px 0px; }")
        self._fill()

    def _fill(self) -> None:
        header_font = QFont(self.font())
        header_font.setBold(True)
        header_font.setPointSizeF(header_font.pointSizeF() * 0.9)
        for group, types in by_group().items():
            if not types:
                continue
            header = QTreeWidgetItem(self, [group.capitalize()])
            header.setFlags(Qt.ItemFlag.ItemIsEnabled)
            header.setFont(0, header_font)
            header.setData(0, GROUP_ROLE, group)
            for spec in types:
                item = QTreeWidgetItem(header, [spec.name])
                item.setIcon(0, layer_icon(spec.name))
                item.setToolTip(0, spec.tooltip)
                item.setStatusTip(0, f"{spec.name}: {spec.summary}")
                item.setData(0, TYPE_ROLE, spec.name)
                item.setFlags(
                    Qt.ItemFlag.ItemIsEnabled
                    | Qt.ItemFlag.ItemIsSelectable
                    | Qt.ItemFlag.ItemIsDragEnabled
                )
        self._fill_blocks(header_font)
        self.expandAll()
        self.refresh_colors()

    def _fill_blocks(self, header_font: QFont) -> None:
        header = QTreeWidgetItem(self, ["Blocks"])
        header.setFlags(Qt.ItemFlag.ItemIsEnabled)
        header.setFont(0, header_font)
        header.setData(0, GROUP_ROLE, BLOCKS_GROUP)
        for name in [*BLOCKS, *TEMPLATES]:
            item = QTreeWidgetItem(header, [SHORT_NAMES.get(name, name)])
            item.setIcon(0, layer_icon(entry_icon_type(name)))
            item.setToolTip(0, entry_tooltip(name))
            item.setStatusTip(0, f"{name}: {ENTRIES[name].description}")
            item.setData(0, TYPE_ROLE, name)
            item.setFlags(
                Qt.ItemFlag.ItemIsEnabled
                | Qt.ItemFlag.ItemIsSelectable
                | Qt.ItemFlag.ItemIsDragEnabled
            )

    def minimumSizeHint(self) -> QSize:
        """Wide enough for the longest name ("LocalResponseNorm") with its icon, in
        this font and style, and a scroll bar should the list outgrow its dock."""
        hint = super().minimumSizeHint()
        self.ensurePolished()  # the style sheet's item padding counts
        scroll_bar = self.style().pixelMetric(QStyle.PixelMetric.PM_ScrollBarExtent, None, self)
        width = self.sizeHintForColumn(0) + 2 * self.frameWidth() + scroll_bar + _SLACK
        return QSize(max(hint.width(), width), hint.height())

    def refresh_colors(self) -> None:
        """Group titles in their colour, darkened on light and lightened on dark."""
        dark = self.palette().color(QPalette.ColorRole.Base).lightness() < 128
        for g in range(self.topLevelItemCount()):
            header = self.topLevelItem(g)
            color = group_color(header.data(0, GROUP_ROLE))
            header.setForeground(0, color.lighter(135) if dark else color.darker(130))

    def mimeTypes(self) -> list[str]:
        return [LAYER_MIME]

    def mimeData(self, items) -> QMimeData:
        names = [item.data(0, TYPE_ROLE) for item in items if item.data(0, TYPE_ROLE)]
        return layer_mime(names[0]) if names else QMimeData()

    def startDrag(self, _supported_actions) -> None:
        """Drag a copy: the stack's default action is Move, and a move would make
        the base class delete the entry from the palette after the drop."""
        item = self.currentItem()
        if item is None or not item.data(0, TYPE_ROLE):
            return
        drag = QDrag(self)
        drag.setMimeData(self.mimeData([item]))
        drag.setPixmap(layer_icon(entry_icon_type(item.data(0, TYPE_ROLE))).pixmap(28, 28))
        drag.exec(Qt.DropAction.CopyAction, Qt.DropAction.CopyAction)

    def type_items(self) -> list[QTreeWidgetItem]:
        """Every layer entry (not the group headers), in palette order."""
        found = []
        for g in range(self.topLevelItemCount()):
            header = self.topLevelItem(g)
            found.extend(header.child(i) for i in range(header.childCount()))
        return found

    def item_for(self, type_name: str) -> QTreeWidgetItem | None:
        return next((i for i in self.type_items() if i.data(0, TYPE_ROLE) == type_name), None)


class Palette(QWidget):
    """Filter box plus the grouped tree. `layer_activated(name)` means "append it"
    (a layer type, or a block or template name of core/templates.py)."""

    layer_activated = Signal(str)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.filter_edit = QLineEdit(self)
        self.filter_edit.setPlaceholderText("Filter layers…")
        self.filter_edit.setClearButtonEnabled(True)
        self.tree = PaletteTree(self)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(4)
        layout.addWidget(self.filter_edit)
        layout.addWidget(self.tree)
        self.tree.itemActivated.connect(self._activated)
        self.filter_edit.textChanged.connect(self._filter)
        self.filter_edit.returnPressed.connect(self._append_first_match)
        self.setToolTip("Drag a layer into the stack, or double-click / Enter to append it.")

    def _activated(self, item: QTreeWidgetItem, _column: int = 0) -> None:
        name = item.data(0, TYPE_ROLE)
        if name:
            self.layer_activated.emit(name)

    def _filter(self, text: str) -> None:
        needle = text.strip().lower()
        for g in range(self.tree.topLevelItemCount()):
            header = self.tree.topLevelItem(g)
            visible = 0
            for i in range(header.childCount()):
                item = header.child(i)
                hit = (
                    not needle or needle in item.text(0).lower() or needle in header.text(0).lower()
                )
                item.setHidden(not hit)
                visible += hit
            header.setHidden(visible == 0)

    def _append_first_match(self) -> None:
        """Enter in the filter box appends the first visible layer (type, Enter)."""
        for item in self.tree.type_items():
            if not item.isHidden() and not item.parent().isHidden():
                self.layer_activated.emit(item.data(0, TYPE_ROLE))
                return
