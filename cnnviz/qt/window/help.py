"""The Help menu: a short guide, the keyboard shortcuts and About.

The shortcut list is read from the window's actions each time it opens, so it
names exactly the keys that work; only the keys that panels handle themselves
(no action behind them) are written out here.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QDockWidget,
    QMenu,
    QMessageBox,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from cnnviz import __version__

if TYPE_CHECKING:
    from cnnviz.qt.window.main_window import MainWindow

GUIDE = """
<h2>Getting started</h2>
<p><b>Build a network.</b> Drag a layer from <b>Layers</b> (on the left) into the
<b>Stack</b> where you want it, or double-click it to add it at the end.
Drag rows to reorder them; Delete removes, Ctrl+D duplicates. Or start from
a classic network in <b>Presets</b>. The stack shows every layer's output shape
and parameter count; a layer that cannot take its input turns red and says why.</p>
<p><b>Branch.</b> The <b>Blocks</b> group holds residual and parallel blocks and
ready-made ones (ResNet, MobileNet, Inception). Drop layers onto a block's
path (its "body", "shortcut" or "branch" line) or between the rows inside it;
Ctrl+G wraps the selected layers in a residual block, and ← / → close and
open a block.</p>
<p><b>Load an image.</b> File &gt; Open Image, File &gt; Samples, drag a picture
onto the window, paste one, or draw a digit in the <b>Draw</b> tab (it is
centred and scaled like the training digits before the network sees it). The
<b>Input</b> panel shows the exact tensor the network sees.</p>
<p><b>Select a layer</b> in the stack. <b>Properties</b> edits its parameters
and writes out the output-size formula with its numbers. Every edit can be
undone (Ctrl+Z) and recomputes the network at once.</p>
<p><b>The panels</b> in the middle follow the selected layer (Ctrl+1 to Ctrl+6
bring each to the front): <b>Feature maps</b> shows every channel (hover for
the receptive field), <b>Filters</b> the kernels (set one by hand: Sobel, blur,
your own numbers), <b>Pooling</b> what each window keeps, <b>Activation</b>
where the function bends and which of this image's values fall where it is
flat. <b>Prediction</b> and the <b>Overview</b> of every layer stay in view.</p>
<p><b>Step through a convolution</b> (Ctrl+5): one output cell at a time, with
the window, the products and their sum. Space plays and pauses, the arrow
keys step. It uses a classroom example or the selected Conv2d with its real
weights.</p>
<p><b>Train</b> the stack in the <b>Training</b> panel (Ctrl+6) on the bundled
digits or a downloaded dataset, and watch the filters learn. Save the trained
weights with File &gt; Save Trained Weights.</p>
<p><b>Why</b> (Ctrl+7) asks which pixels made the network say its class: a
Grad-CAM, guided backprop, saliency, integrated-gradients or occlusion map over
the input. Click a bar in <b>Prediction</b> to explain another class.</p>
<p><b>Save</b> with Ctrl+S: a <code>.cnnviz</code> project keeps the network, its
weights, the image and the hand-set kernels; a name ending in <code>.json</code>
saves the architecture alone.</p>
<p>Help &gt; Keyboard Shortcuts lists every key.</p>
"""

# Keys a panel handles itself, not through an action: (where, what, keys).
PANEL_KEYS = (
    ("Convolution step by step", "Play or pause", "Space"),
    ("Convolution step by step", "Step back / forward", "← / →"),
    ("Convolution step by step", "First / last step", "Home / End"),
    ("Draw", "Smaller / larger brush", "[ / ]"),
    ("Draw", "Undo a stroke", "Ctrl+Z"),
    ("Draw", "Clear", "Delete"),
)

# Keys of special keyboards (an Undo or Help key): true, but noise in the list.
_DEDICATED_NAMES = ("Undo", "Redo", "Help", "Copy", "Cut", "Paste", "Open", "Save", "Close", "New")
_DEDICATED = {getattr(Qt.Key, f"Key_{n}") for n in _DEDICATED_NAMES if hasattr(Qt.Key, f"Key_{n}")}


def key_text(action: QAction) -> str:
    """The action's keys as the platform writes them, comma-separated."""
    native = QKeySequence.SequenceFormat.NativeText
    return ", ".join(
        keys.toString(native)
        for keys in action.shortcuts()
        if not keys.isEmpty() and keys[0].key() not in _DEDICATED
    )


def _title(action: QAction) -> str:
    """Its short name: "Undo", not "Undo Set out_channels"; no & or …."""
    return action.iconText().replace("&", "").rstrip("…").strip()


def _menu_actions(menu: QMenu) -> list[QAction]:
    found = []
    for action in menu.actions():
        sub = action.menu()
        found.extend(_menu_actions(sub) if sub is not None else [action])
    return found


def _where(action: QAction) -> str:
    """The panel an action outside the menus belongs to."""
    widget = action.parent()
    while isinstance(widget, QWidget) and not isinstance(widget, QDockWidget):
        widget = widget.parentWidget()
    return widget.windowTitle() if isinstance(widget, QDockWidget) else "Window"


def shortcut_rows(window: MainWindow) -> list[tuple[str, str, str]]:
    """(group, command, keys) for every action of the window that has a key: by
    menu, in menu order, then actions outside the menus, then the panels' keys."""
    rows, seen = [], []
    for bar_action in window.menuBar().actions():
        menu = bar_action.menu()
        for action in _menu_actions(menu) if menu is not None else []:
            if action not in seen and key_text(action):
                seen.append(action)
                rows.append((menu.title().replace("&", ""), _title(action), key_text(action)))
    for action in window.findChildren(QAction):
        if action not in seen and key_text(action):
            seen.append(action)
            rows.append((_where(action), _title(action), key_text(action)))
    return rows + list(PANEL_KEYS)


def shortcuts_html(rows: list[tuple[str, str, str]]) -> str:
    parts, group = ["<h2>Keyboard shortcuts</h2>"], None
    for where, command, keys in rows:
        if where != group:
            if group is not None:
                parts.append("</table>")
            parts.append(f"<h3>{html.escape(where)}</h3><table width='100%' cellpadding='3'>")
            group = where
        parts.append(
            f"<tr><td>{html.escape(command)}</td>"
            f"<td align='right'><b>{html.escape(keys)}</b></td></tr>"
        )
    parts.append("</table>")
    return "".join(parts)


def _text_dialog(parent: QWidget, title: str, size: tuple[int, int]):
    """A dialog of rich text with a Close button: (dialog, its text browser)."""
    dialog = QDialog(parent)
    dialog.setWindowTitle(title)
    browser = QTextBrowser(dialog)
    browser.setOpenExternalLinks(False)
    buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, dialog)
    buttons.rejected.connect(dialog.close)
    layout = QVBoxLayout(dialog)
    layout.addWidget(browser)
    layout.addWidget(buttons)
    dialog.resize(*size)
    return dialog, browser


class HelpDialogs:
    """The Help menu's windows; each is made once and shown again (not modal, so
    the guide can stay open beside the work)."""

    def __init__(self, window: MainWindow):
        self.window = window
        self.guide_dialog: QDialog | None = None
        self.shortcuts_dialog: QDialog | None = None
        self.shortcuts_browser: QTextBrowser | None = None

    def show_guide(self) -> None:
        if self.guide_dialog is None:
            self.guide_dialog, browser = _text_dialog(self.window, "Getting Started", (620, 560))
            browser.setHtml(GUIDE)
        _present(self.guide_dialog)

    def show_shortcuts(self) -> None:
        if self.shortcuts_dialog is None:
            self.shortcuts_dialog, self.shortcuts_browser = _text_dialog(
                self.window, "Keyboard Shortcuts", (520, 720)
            )
        # Read again each time: the list follows the actions as they are now.
        self.shortcuts_browser.setHtml(shortcuts_html(shortcut_rows(self.window)))
        _present(self.shortcuts_dialog)

    def about(self) -> None:
        QMessageBox.about(
            self.window,
            "About cnnviz",
            f"<h3>cnnviz {__version__}</h3><p>See inside a convolutional network: build a "
            "stack, load an image, and watch what every layer does to it.</p>",
        )


def _present(dialog: QDialog) -> None:
    dialog.show()
    dialog.raise_()
    dialog.activateWindow()
