"""Menus, toolbar and their actions, with the platform's standard shortcuts."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QActionGroup, QIcon, QKeySequence
from PySide6.QtWidgets import QMenu, QToolBar, QToolButton

from cnnviz.core.architecture import ArchitectureError
from cnnviz.core.presets import PRESETS, load_preset
from cnnviz.qt import icons, settings

if TYPE_CHECKING:
    from cnnviz.qt.main_window import MainWindow

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


class Actions:
    """Every action of the window, built once; menus and toolbar share them."""

    def __init__(self, window: MainWindow):
        self.window = window
        files = window.files
        self.new = _action(
            window,
            "&New",
            files.new,
            std.New,
            "Start a new network",
            _icon("document-new", "new"),
        )
        self.open = _action(
            window,
            "&Open…",
            files.open_dialog,
            std.Open,
            "Open a project or architecture file",
            _icon("document-open", "open"),
        )
        self.save = _action(
            window,
            "&Save",
            files.save,
            std.Save,
            "Save the project",
            _icon("document-save", "save"),
        )
        self.save_as = _action(
            window, "Save &As…", files.save_as, std.SaveAs, "Save under a new name"
        )
        self.quit = _action(window, "&Quit", window.close, std.Quit, "Close the window")
        self.open_image = _action(
            window,
            "Open &Image…",
            files.open_image_dialog,
            "Ctrl+Shift+O",
            "Use a picture as the network input",
            _icon("insert-image", "image"),
        )
        self.paste_image = _action(
            window,
            "&Paste Image",
            window.paste_image,
            std.Paste,
            "Use the picture on the clipboard as the input",
        )
        self.load_weights = _action(
            window,
            "Load &Weights…",
            files.load_weights_dialog,
            None,
            "Load trained weights (safetensors or .pt)",
        )
        self.save_weights = _action(
            window,
            "Save &Trained Weights…",
            lambda: files.save_trained_weights(window.controller.trained_state),
            None,
            "Write the weights of the last training to a file and use it",
        )
        self.random_weights = _action(
            window,
            "Use &Random Weights",
            lambda: files.use_weights(None),
            None,
            "Forget loaded weights: fresh random initialisation",
        )
        doc = window.doc
        self.undo = doc.undo_stack.createUndoAction(window, "&Undo")
        self.undo.setShortcuts(QKeySequence.keyBindings(std.Undo))
        self.undo.setIcon(_icon("edit-undo", "undo"))
        self.redo = doc.undo_stack.createRedoAction(window, "&Redo")
        redo_keys = QKeySequence.keyBindings(std.Redo)
        if QKeySequence("Ctrl+Shift+Z") not in redo_keys:  # the platform may lack it
            redo_keys.append(QKeySequence("Ctrl+Shift+Z"))
        self.redo.setShortcuts(redo_keys)
        self.redo.setIcon(_icon("edit-redo", "redo"))
        view = window.stack_view
        self.delete, self.duplicate = view.delete_action, view.duplicate_action
        self.delete.setIcon(_icon("edit-delete", "delete"))
        self.duplicate.setIcon(_icon("edit-copy", "duplicate"))
        self.move_up, self.move_down = view.move_up_action, view.move_down_action
        self.clear_kernels = _action(
            window,
            "Restore Learned &Kernels",
            window.clear_kernels,
            None,
            "Undo every kernel set by hand",
        )
        self.reseed = _action(
            window,
            "New Random &Initialisation",
            window.controller.reseed,
            "Ctrl+R",
            "Draw new random weights for layers without loaded weights",
        )
        self.train_mode = _action(
            window,
            "&Training Behaviour",
            window.controller.set_train_mode,
            "Ctrl+T",
            "Dropout drops and batch norm uses batch statistics, as in training",
            checkable=True,
        )
        self.reset_layout = _action(
            window,
            "&Reset Layout",
            window.reset_layout,
            None,
            "Put every panel back where it started",
        )
        self.about = _action(window, "&About cnnviz", window.about, None)
        self.device_group = QActionGroup(window)
        self.devices = {}
        for key, title in DEVICES:
            action = _action(
                window, title, lambda _c=False, k=key: window.set_device(k), None, checkable=True
            )
            self.device_group.addAction(action)
            self.devices[key] = action


def _preset_title(key: str) -> str:
    try:
        return load_preset(key).name
    except ArchitectureError as exc:
        log.warning("preset %s unusable: %s", key, exc)
        return key


def build_menus(window: MainWindow, actions: Actions) -> None:
    bar = window.menuBar()
    file_menu = bar.addMenu("&File")
    file_menu.addActions([actions.new, actions.open])
    window.recent_menu = file_menu.addMenu("Open &Recent")
    window.recent_menu.aboutToShow.connect(lambda: fill_recent_menu(window))
    file_menu.addSeparator()
    file_menu.addActions([actions.save, actions.save_as])
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
    edit.addAction(actions.clear_kernels)

    presets = window.presets_menu = bar.addMenu("&Presets")
    for key in PRESETS:
        action = presets.addAction(_preset_title(key))
        action.setObjectName(f"preset_{key}")
        action.setStatusTip(f"Replace the stack with the {key} preset (undoable)")
        action.triggered.connect(lambda _c=False, k=key: window.load_preset(k))

    compute = bar.addMenu("&Compute")
    compute.addActions([actions.reseed, actions.train_mode])
    device_menu = compute.addMenu("&Device")
    device_menu.addActions(list(actions.devices.values()))

    window.view_menu = bar.addMenu("&View")
    help_menu = bar.addMenu("&Help")
    help_menu.addAction(actions.about)


def fill_view_menu(window: MainWindow, docks) -> None:
    menu = window.view_menu
    menu.clear()
    for dock in docks:
        menu.addAction(dock.toggleViewAction())
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
    presets.setToolTip("Load a classic network (LeNet-5, AlexNet, VGG, …)")
    presets.setMenu(window.presets_menu)
    presets.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
    presets.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
    bar.addWidget(presets)
    window.addToolBar(bar)
    return bar
