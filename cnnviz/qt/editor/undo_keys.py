"""Undo and redo keys in edit fields go to the document, not to the field.

A spin box or line edit claims Ctrl+Z, Ctrl+Shift+Z and Ctrl+Y for its own
text history (it accepts the ShortcutOverride), so the window's Undo never
fires while a Properties field has focus, which is right after every edit.
Fields that commit each change to the document at once have no uncommitted
text worth a local undo: the person means the document's undo.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject
from PySide6.QtGui import QKeyEvent, QKeySequence
from PySide6.QtWidgets import QWidget

_std = QKeySequence.StandardKey
# Ctrl+Shift+Z and Ctrl+Y are named too: the window's Redo has both even where
# the platform's standard Redo lacks one.
_EXTRA = (QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y"))


def is_undo_key(event: QKeyEvent) -> bool:
    if event.matches(_std.Undo) or event.matches(_std.Redo):
        return True
    pressed = QKeySequence(event.keyCombination())
    return any(pressed.matches(keys) == QKeySequence.SequenceMatch.ExactMatch for keys in _EXTRA)


class DocumentUndoKeys(QObject):
    """Event filter: leaves undo/redo keys to the window's shortcuts."""

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        kind = event.type()
        if kind not in (QEvent.Type.ShortcutOverride, QEvent.Type.KeyPress):
            return False
        if not is_undo_key(event):
            return False
        # Not accepting the override lets the shortcut map trigger the window's
        # Undo/Redo. A key press only arrives when that action is disabled
        # (nothing to undo): swallow it, or the field would undo its own text
        # and push that as a new edit.
        event.ignore()
        return True


def route_to_document(widget: QWidget) -> None:
    """Install the filter on `widget` and every widget inside it (the key goes to
    whichever has focus: the spin box, its line edit, a combo box). The filter
    is the widget's child, so it goes when the widget does."""
    keys = DocumentUndoKeys(widget)
    for target in [widget, *widget.findChildren(QWidget)]:
        target.installEventFilter(keys)
