"""Menus, toolbar and their actions, with the platform's standard shortcuts."""

from __future__ import annotations

import logging
from operator import attrgetter
from typing import TYPE_CHECKING

import shiboken6
from PySide6.QtCore import QObject, Qt, Slot
from PySide6.QtGui import QAction, QActionGroup, QIcon, QKeySequence
from PySide6.QtWidgets import QMenu, QToolBar, QToolButton

from cnnviz.core.architecture import ArchitectureError
from cnnviz.core.presets import PRESETS, load_preset
from cnnviz.qt import labs
from cnnviz.qt.editor import commands
from cnnviz.qt.window import icons, settings, weights_download

if TYPE_CHECKING:
    from cnnviz.qt.window.docks import PanelDock
    from cnnviz.qt.window.main_window import MainWindow

log = logging.getLogger(__name__)

std = QKeySequence.StandardKey
DEVICES = (
    ("auto", "Automatic (GPU when there is one)"),
    ("cpu", "CPU"),
    ("cuda", "CUDA GPU"),
    ("mps", "Apple GPU (MPS)"),
)


def _icon(theme: str, drawn: str) -> QIcon:
    """The desktop theme's icon where there is one, else our own drawing."""
    return QIcon.fromTheme(theme, icons.icon(drawn))


def _action(window, text, slot=None, shortcut=None, tip="", icon=None, checkable=False) -> QAction:
    action = QAction(text, window)
    if shortcut is not None:
        action.setShortcuts(
            QKeySequence.keyBindings(shortcut)
            if isinstance(shortcut, QKeySequence.StandardKey)
            else [QKeySequence(shortcut)]
        )
    if icon is not None:
        action.setIcon(icon)
    action.setStatusTip(tip)
    plain = text.replace("&", "").rstrip("…")
    keys = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
    action.setToolTip(f"{plain} ({keys})" if keys else plain)
    action.setCheckable(checkable)
    if slot is not None:
        action.triggered.connect(slot)
    return action


# attribute, text, slot (attribute path on the window), keys, status tip, icon (theme, drawn)
ACTION_TABLE = (
    ("new", "&New", "files.new", std.New, "Start a new network", ("document-new", "new")),
    ("open", "&Open…", "files.open_dialog", std.Open, "Open a project or architecture file",
     ("document-open", "open")),
    ("save", "&Save", "files.save", std.Save, "Save the project", ("document-save", "save")),
    ("save_as", "Save &As…", "files.save_as", std.SaveAs, "Save under a new name", None),
    ("import_pytorch", "&Import PyTorch Model…", "model_import.dialog", None,
     "Open your own model: a Python file (runs it) and a class, or TorchScript", None),
    ("export_pytorch", "&Export as PyTorch…", "files.export_pytorch_dialog", None,
     "Write the network as a Python file: build_model() with cnnviz's weight names", None),
    ("quit", "&Quit", "close", std.Quit, "Close the window", None),
    ("open_image", "Open &Image…", "files.open_image_dialog", "Ctrl+Shift+O",
     "Use a picture as the network input", ("insert-image", "image")),
    ("paste_image", "&Paste Image", "paste_image", std.Paste,
     "Use the picture on the clipboard as the input", None),
    ("load_weights", "Load &Weights…", "files.load_weights_dialog", None,
     "Load trained weights (safetensors or .pt)", None),
    ("save_weights", "Save &Trained Weights…", "save_trained_weights", None,
     "Write the weights of the last training to a file and use it", None),
    ("random_weights", "Use &Random Weights", "use_random_weights", None,
     "Forget loaded weights: fresh random initialisation", None),
    ("clear_kernels", "Restore Learned &Kernels", "clear_kernels", None,
     "Undo every kernel set by hand", None),
    ("reseed", "New Random &Initialisation", "controller.reseed", "Ctrl+R",
     "Draw new random weights for layers without loaded weights", None),
    ("reset_layout", "&Reset Layout", "reset_layout", None,
     "Put every panel back where it started", None),
    ("guide", "&Getting Started", "help.show_guide", std.HelpContents,
     "How to build a network, load an image and read the panels", None),
    ("shortcuts", "&Keyboard Shortcuts", "help.show_shortcuts", "Ctrl+/",
     "Every key of the window", None),
    ("about", "&About cnnviz", "help.about", None, "", None),
)  # fmt: skip


class Actions:
    """Every action of the window, built once; menus and toolbar share them."""

    def __init__(self, window: MainWindow):
        self.window = window
        for attr, text, slot, keys, tip, _drawn in ACTION_TABLE:
            setattr(self, attr, _action(window, text, attrgetter(slot)(window), keys, tip))
        self.train_mode = _action(
            window, "&Training Behaviour", window.controller.set_train_mode, "Ctrl+T",
            "Dropout drops and batch norm uses batch statistics, as in training", checkable=True,
        )  # fmt: skip
        self._undo_actions(window)
        self._stack_actions(window)
        self.device_group = QActionGroup(window)
        self.devices = {}
        for key, title in DEVICES:
            action = _action(window, title, lambda _c=False, k=key: window.set_device(k), None)
            action.setCheckable(True)
            self.device_group.addAction(action)
            self.devices[key] = action

        self.refresh_icons()

    def refresh_icons(self) -> None:
        """(Re)draw the icons in ink that suits the palette (light or dark)."""
        drawn = {attr: icon for attr, *_rest, icon in ACTION_TABLE if icon}
        drawn |= {
            "undo": ("edit-undo", "undo"),
            "redo": ("edit-redo", "redo"),
            "delete": ("edit-delete", "delete"),
            "duplicate": ("edit-copy", "duplicate"),
        }
        for attr, (theme, name) in drawn.items():
            getattr(self, attr).setIcon(_icon(theme, name))

    def _undo_actions(self, window: MainWindow) -> None:
        stack = window.doc.undo_stack
        self.undo = stack.createUndoAction(window, "&Undo")
        self.undo.setShortcuts(QKeySequence.keyBindings(std.Undo))
        self.redo = stack.createRedoAction(window, "&Redo")
        redo_keys = QKeySequence.keyBindings(std.Redo)
        for keys in ("Ctrl+Shift+Z", "Ctrl+Y"):  # the platform may lack one of them
            if QKeySequence(keys) not in redo_keys:
                redo_keys.append(QKeySequence(keys))
        self.redo.setShortcuts(redo_keys)
        for action, word in ((self.undo, "Undo"), (self.redo, "Redo")):
            # The toolbar shows the icon text: one short word, so the buttons beside
            # it stay put; the menu and the tooltip name the command.
            action.setIconText(word)
            action.changed.connect(_CommandTip(action).update)

    def _stack_actions(self, window: MainWindow) -> None:
        """The stack view owns these (their keys work where the stack has focus)."""
        view = window.stack_view
        self.delete, self.duplicate = view.delete_action, view.duplicate_action
        self.move_up, self.move_down = view.move_up_action, view.move_down_action
        self.wrap, self.unwrap = view.wrap_action, view.unwrap_action


class _CommandTip(QObject):
    """Keeps an undo/redo action's tooltip naming its command and keys (the stack
    changes the action's text). The action's child: it goes with the action."""

    def __init__(self, action: QAction):
        super().__init__(action)
        self.action = action
        self.update()

    @Slot()
    def update(self) -> None:
        if not shiboken6.isValid(self.action):
            # Closing: Python lets go of the window's tree before Qt deletes the
            # undo stack, whose clear() still renames the action.
            return
        keys = self.action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
        tip = f"{self.action.text().replace('&', '')} ({keys})"
        if self.action.toolTip() != tip:  # setting it emits `changed` again
            self.action.setToolTip(tip)


def _preset_title(key: str) -> str:
    try:
        return load_preset(key).name
    except ArchitectureError as exc:
        log.warning("preset %s unusable: %s", key, exc)
        return key


# Edits of every layer of a kind at once, each one undo step (the non-linearity lab's too).
WHOLE_NETWORK_EDITS = (
    ("remove_activations", "Remove Every &Activation", commands.remove_activations),
    ("replace_max_pools", "Replace Max Pooling by A&verage Pooling", commands.replace_max_pools),
)


def push_whole_edit(window: MainWindow, make) -> None:
    """Push `make(doc)`; when there is nothing to change or it cannot, say so instead."""
    try:
        command = make(window.doc)
    except ArchitectureError as exc:
        window.statusbar.show_message(str(exc))
        return
    if command is None:
        window.statusbar.show_message("Nothing to change: there is none of those layers")
        return
    window.doc.undo_stack.push(command)


def build_menus(window: MainWindow, actions: Actions) -> None:
    bar = window.menuBar()
    file_menu = bar.addMenu("&File")
    file_menu.addActions([actions.new, actions.open, actions.import_pytorch])
    window.recent_menu = file_menu.addMenu("Open &Recent")
    window.recent_menu.aboutToShow.connect(lambda: fill_recent_menu(window))
    file_menu.addSeparator()
    file_menu.addActions([actions.save, actions.save_as, actions.export_pytorch])
    file_menu.addSeparator()
    file_menu.addActions([actions.open_image, actions.paste_image])
    window.samples_menu = file_menu.addMenu("&Samples")
    fill_samples_menu(window)
    file_menu.addSeparator()
    file_menu.addActions([actions.load_weights, actions.save_weights, actions.random_weights])
    file_menu.addSeparator()
    file_menu.addAction(actions.quit)

    edit = bar.addMenu("&Edit")
    edit.addActions([actions.undo, actions.redo])
    edit.addSeparator()
    edit.addActions([actions.delete, actions.duplicate, actions.move_up, actions.move_down])
    edit.addSeparator()
    edit.addActions([actions.wrap, actions.unwrap])
    edit.addSeparator()
    edit.addAction(actions.clear_kernels)
    edit.addSeparator()
    for name, text, make in WHOLE_NETWORK_EDITS:
        entry = edit.addAction(text, lambda _c=False, m=make: push_whole_edit(window, m))
        entry.setObjectName(name)

    presets = window.presets_menu = bar.addMenu("&Presets")
    for key in PRESETS:
        action = presets.addAction(_preset_title(key))
        action.setObjectName(f"preset_{key}")
        action.setStatusTip(f"Replace the stack with the {key} preset (undoable)")
        action.triggered.connect(lambda _c=False, k=key: window.load_preset(k))
    presets.addSeparator()
    download = presets.addAction("Download ImageNet &Weights…")
    download.setObjectName("download_weights")
    download.setStatusTip("torchvision's ImageNet weights for AlexNet, VGG, ResNet-18, MobileNetV2")
    download.triggered.connect(lambda: weights_download.show_dialog(window))

    compute = bar.addMenu("&Compute")
    compute.addActions([actions.reseed, actions.train_mode])
    device_menu = compute.addMenu("&Device")
    device_menu.addActions(list(actions.devices.values()))

    window.view_menu = bar.addMenu("&View")
    window.labs_menu = bar.addMenu("&Labs")
    fill_labs_menu(window)
    help_menu = bar.addMenu("&Help")
    help_menu.addActions([actions.guide, actions.shortcuts])
    help_menu.addSeparator()
    help_menu.addAction(actions.about)


def fill_labs_menu(window: MainWindow) -> None:
    """One entry per lab module in qt/labs (each sets its experiment up)."""
    for lab in labs.discover():
        action = _action(
            window,
            lab.title,
            lambda _c=False, s=lab.start: s(window),
            lab.shortcut or None,
            lab.tip,
        )
        action.setObjectName("lab_" + lab.start.__module__.rsplit(".", 1)[-1])
        window.labs_menu.addAction(action)


def bring_forward(panel: PanelDock) -> None:
    """Show the panel's dock and raise its tab; a panel that takes keys gets the
    focus too (Ctrl+5, then Space plays the convolution)."""
    panel.dock.show()
    panel.dock.raise_()
    if panel.real and panel.widget.focusPolicy() != Qt.FocusPolicy.NoFocus:
        panel.widget.setFocus(Qt.FocusReason.ShortcutFocusReason)


def panel_actions(window: MainWindow, panels: dict[str, PanelDock]) -> dict[str, QAction]:
    """One action per panel that has a key (Ctrl+1…6 in docks.PANELS)."""
    found = {}
    for key, panel in panels.items():
        if panel.spec.shortcut:
            found[key] = _action(
                window, panel.spec.title, lambda _c=False, p=panel: bring_forward(p),
                panel.spec.shortcut, f"Show the {panel.spec.title} panel in front",
            )  # fmt: skip
            found[key].setObjectName(f"show_{key}")
    return found


def fill_view_menu(window: MainWindow, editor_docks, panels: dict[str, PanelDock]) -> None:
    """The panels with keys first; every dock's show/hide switch in a submenu."""
    menu = window.view_menu
    menu.clear()
    window.panel_actions = panel_actions(window, panels)
    menu.addActions(list(window.panel_actions.values()))
    menu.addSeparator()
    window.panels_menu = menu.addMenu("Show or Hide &Panels")
    for dock in [*editor_docks, *(p.dock for p in panels.values())]:
        window.panels_menu.addAction(dock.toggleViewAction())
    menu.addSeparator()
    menu.addAction(window.menu_actions.reset_layout)


def fill_recent_menu(window: MainWindow) -> None:
    menu: QMenu = window.recent_menu
    menu.clear()
    files = settings.recent_files()
    for i, path in enumerate(files):
        action = menu.addAction(f"&{i + 1}  {path}")
        action.triggered.connect(lambda _c=False, p=path: window.files.open_recent(p))
    if files:
        menu.addSeparator()
        menu.addAction("Clear Menu", lambda: settings.clear_recent_files())
    else:
        menu.addAction("No recent files").setEnabled(False)


def fill_samples_menu(window: MainWindow) -> None:
    menu: QMenu = window.samples_menu
    try:
        from cnnviz.core.samples import samples
    except ImportError:
        menu.addAction("No samples in this build").setEnabled(False)
        return
    last_kind = None
    for sample in samples():
        if last_kind is not None and sample.kind != last_kind:
            menu.addSeparator()
        last_kind = sample.kind
        action = menu.addAction(sample.title)
        action.setObjectName(f"sample_{sample.name}")
        action.triggered.connect(
            lambda _c=False, s=sample: window.files.open_image(s.path, s.title)
        )


def build_toolbar(window: MainWindow, actions: Actions) -> QToolBar:
    bar = QToolBar("Main toolbar", window)
    bar.setObjectName("toolbar_main")
    bar.setMovable(False)
    bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
    for group in (
        (actions.new, actions.open, actions.save),
        (actions.undo, actions.redo),
        (actions.delete, actions.duplicate),
        (actions.open_image,),
    ):
        bar.addActions(list(group))
        bar.addSeparator()
    presets = QToolButton(bar)
    presets.setText("Presets")
    presets.setIcon(icons.icon("presets"))
    window.presets_button = presets
    presets.setToolTip("Load a classic network (LeNet-5, AlexNet, VGG, …)")
    presets.setMenu(window.presets_menu)
    presets.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
    presets.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
    bar.addWidget(presets)
    window.addToolBar(bar)
    return bar
