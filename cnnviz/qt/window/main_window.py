"""The main window: palette, stack, properties and the visual panels around them.

Layout (every part a dock, so it can be moved, tabbed or closed; the layout is
remembered between runs): on the left the palette beside the stack; in the
middle the visual panels as tabs (feature maps first) above the overview
strip; on the right the properties of the selected layer, the input and the
prediction. The document (`Document`) holds the work, the controller
(`ComputeController`) turns each change into a forward pass, and this window
hands the latest result to whichever panels can be seen.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QEvent, Qt, QTimer, Signal
from PySide6.QtWidgets import QApplication, QDockWidget, QMainWindow, QWidget

from cnnviz.core.architecture import Architecture, ArchitectureError
from cnnviz.core.preprocess import declared_settings
from cnnviz.core.presets import load_preset, weights_path
from cnnviz.core.project import Project, ProjectError
from cnnviz.qt.bridge.controller import ComputeController, ComputedView, make_compute_thread
from cnnviz.qt.editor import commands, undo_keys
from cnnviz.qt.editor.document import Document
from cnnviz.qt.editor.palette import Palette
from cnnviz.qt.editor.properties import PropertiesPanel
from cnnviz.qt.editor.stack_panel import StackPanel
from cnnviz.qt.window import docks, icons, menus, settings
from cnnviz.qt.window.file_ops import FileOps
from cnnviz.qt.window.help import HelpDialogs
from cnnviz.qt.window.model_import import ModelImporter
from cnnviz.qt.window.panel_wiring import PanelWiring
from cnnviz.qt.window.status import StatusBar
from cnnviz.qt.window.weights_download import weights_note

log = logging.getLogger(__name__)

APP_TITLE = "cnnviz"


DEFAULT_SIZE = (1800, 1050)


def default_window_size() -> tuple[int, int]:
    """1800×1050, or nine tenths of a smaller screen (offscreen: the full size)."""
    app = QApplication.instance()
    screen = app.primaryScreen() if app is not None else None
    if screen is None or QApplication.platformName() == "offscreen":
        return DEFAULT_SIZE
    area = screen.availableGeometry()
    return min(DEFAULT_SIZE[0], int(area.width() * 0.9)), min(
        DEFAULT_SIZE[1], int(area.height() * 0.9)
    )


class MainWindow(QMainWindow):
    # After a result has been handed to the visible panels (screenshots wait for it).
    result_shown = Signal(object)

    def __init__(
        self,
        compute_thread=None,
        *,
        start_compute: bool = True,
        saved_layout: bool = True,
        parent: QWidget | None = None,
    ):
        """`compute_thread`: a ComputeThread (or a test double); None makes the real
        one unless `start_compute` is False (then nothing is computed).
        `saved_layout` False keeps the default layout (reproducible screenshots)."""
        super().__init__(parent)
        self.setObjectName("main_window")
        self.doc = Document(parent=self)
        # The real thread starts once the window is on screen: importing torch
        # competes with the GUI thread, and the window should appear first.
        factory = self._make_compute_thread if compute_thread is None and start_compute else None
        self.controller = ComputeController(self.doc, compute_thread, self, thread_factory=factory)
        app = QApplication.instance()
        if app is not None:
            # Quitting before the window was shown: never start the thread after.
            app.aboutToQuit.connect(self.shutdown)
        self.files = FileOps(self.doc, self)
        self.model_import = ModelImporter(self.files, self)
        self.statusbar = StatusBar(self)
        self.setStatusBar(self.statusbar)
        self._build_editor()
        self.help = HelpDialogs(self)
        self.menu_actions = menus.Actions(self)
        menus.build_menus(self, self.menu_actions)
        self.toolbar = menus.build_toolbar(self, self.menu_actions)
        self.panels = PanelWiring(self)
        self._place_docks()
        editor_docks = [self.palette_dock, self.stack_dock, self.properties_dock]
        menus.fill_view_menu(self, editor_docks, self.panels.docks)
        self._connect()
        self._shown_once = False
        self._watch_tab_bars()
        self._default_state = self.saveState()
        if saved_layout:
            self.restore_layout()
        self.set_device(settings.device(), remember=False)
        self.setAcceptDrops(True)
        self._update_title()
        self.doc.selection_requested.emit([0] if self.doc.architecture.layers else [])
        self.controller.schedule()

    # -- building --------------------------------------------------------------------

    def _build_editor(self) -> None:
        self.palette = Palette(self)
        self.stack_panel = StackPanel(self.doc, self)
        self.stack_view = self.stack_panel.view
        self.properties = PropertiesPanel(self.doc, self)
        self.palette_dock = docks.make_dock(self, "Layers", "palette", self.palette)
        self.stack_dock = docks.make_dock(self, "Stack", "stack", self.stack_panel)
        self.properties_dock = docks.make_dock(self, "Properties", "properties", self.properties)
        undo_keys.route_to_document(self.stack_panel.input_editor)

    def _place_docks(self) -> None:
        """The first-run layout; later runs restore the saved one over it.

        Left: the palette beside the stack, the input (and the draw pad) under
        both. Middle: the visual panels as tabs over the overview strip.
        Right: the properties of the selected layer over the prediction.
        Splits first, tabs last: tabifying before splitting makes Qt put the
        split-off dock into the tab group."""
        self.setDockNestingEnabled(True)
        self.setCentralWidget(None)
        left, right = Qt.DockWidgetArea.LeftDockWidgetArea, Qt.DockWidgetArea.RightDockWidgetArea
        horizontal, vertical = Qt.Orientation.Horizontal, Qt.Orientation.Vertical
        named = {key: panel.dock for key, panel in self.panels.docks.items()}
        visual = [p.dock for p in self.panels.docks.values() if p.spec.place == docks.VISUAL]
        source = named["input_image"]
        self.addDockWidget(left, self.palette_dock)
        self.splitDockWidget(self.palette_dock, source, vertical)
        self.splitDockWidget(self.palette_dock, self.stack_dock, horizontal)
        self.addDockWidget(right, visual[0])
        self.splitDockWidget(visual[0], self.properties_dock, horizontal)
        self.splitDockWidget(visual[0], named["overview"], vertical)
        self.splitDockWidget(self.properties_dock, named["prediction"], vertical)
        for dock in visual[1:]:
            self.tabifyDockWidget(visual[0], dock)
        # Added before tabifying: a dock tabified while outside the layout
        # leaves a second, stale tab bar behind.
        self.addDockWidget(left, named["draw_pad"])
        self.tabifyDockWidget(source, named["draw_pad"])
        self._front_docks = [visual[0], source]
        self._size_docks(visual[0], named)

    def _size_docks(self, main_visual: QDockWidget, named: dict[str, QDockWidget]) -> None:
        self.resize(*default_window_size())
        width, height = self.width(), self.height()
        horizontal, vertical = Qt.Orientation.Horizontal, Qt.Orientation.Vertical
        side = 390 if width >= 1600 else 320
        palette = max(165, self.palette.minimumSizeHint().width())  # whole names
        self.resizeDocks(
            [self.palette_dock, self.stack_dock, main_visual, self.properties_dock],
            [palette, 410, width - palette - 410 - side, side],
            horizontal,
        )
        self.resizeDocks([self.stack_dock, named["input_image"]], [height - 480, 380], vertical)
        self.resizeDocks([main_visual, named["overview"]], [height - 340, 230], vertical)
        self.resizeDocks([self.properties_dock, named["prediction"]], [height - 440, 330], vertical)

    def changeEvent(self, event) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange and hasattr(self, "menu_actions"):
            # The system switched between light and dark: ink to match.
            self.menu_actions.refresh_icons()
            self.presets_button.setIcon(icons.icon("presets"))
            self.palette.tree.refresh_colors()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._tab_fix.start()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self._tab_fix.start()
        if self._front_docks:
            # Raising a tab only works once the window exists.
            for dock in self._front_docks:
                dock.raise_()
            self._front_docks = []
        if not self._shown_once:
            self._shown_once = True
            QTimer.singleShot(0, self.controller.ensure_thread)
            QTimer.singleShot(0, self.stack_view.reveal_current)
            self.stack_view.setFocus()  # the keys (Delete, Ctrl+D, arrows) act on the stack

    def _watch_tab_bars(self) -> None:
        """Hide stale dock tab bars after anything that rebuilds the dock layout."""
        self._tab_fix = QTimer(self)
        self._tab_fix.setSingleShot(True)
        self._tab_fix.timeout.connect(lambda: docks.hide_stale_tab_bars(self))
        for dock in self.findChildren(docks.QDockWidget):
            dock.dockLocationChanged.connect(self._tab_fix.start)
            dock.topLevelChanged.connect(self._tab_fix.start)

    def _connect(self) -> None:
        self.palette.layer_activated.connect(self.append_layer)
        self.stack_view.current_row_changed.connect(self._current_row_changed)
        self.properties.edit_rejected.connect(self.statusbar.show_problem)
        self.stack_view.edit_refused.connect(self.statusbar.show_problem)
        self.doc.modified_changed.connect(lambda _m: self._update_title())
        self.doc.path_changed.connect(self._update_title)
        self.doc.changed.connect(self._update_title)
        self.files.problem.connect(self.statusbar.show_problem)
        self.files.message.connect(self.statusbar.show_message)
        self.controller.result_ready.connect(self._result_ready)
        self.controller.failed.connect(self._compute_failed)
        self.controller.busy_changed.connect(self.statusbar.set_busy)
        self.controller.device_changed.connect(self.statusbar.set_device)
        self.controller.train_mode_changed.connect(self.statusbar.set_train_mode)
        self.statusbar.run_anyway.connect(self.controller.run_anyway)
        self.doc.changed.connect(lambda: self.statusbar.show_memory(self.doc.analysis))
        self.statusbar.show_memory(self.doc.analysis)

    # -- title, selection ------------------------------------------------------------

    def _update_title(self) -> None:
        doc = self.doc
        name = doc.path.name if doc.path else f"{doc.architecture.name or 'untitled'} (not saved)"
        self.setWindowTitle(f"{name}[*] — {APP_TITLE}")
        self.setWindowModified(doc.modified)

    @property
    def selected_layer(self) -> int:
        return self.stack_view.current_row()

    def select_layer(self, index: int) -> None:
        self.stack_view.select_rows([index])

    def _current_row_changed(self, row: int) -> None:
        self.properties.set_row(row)
        self.panels.layer_changed(row)

    # -- edits from menus and panels ------------------------------------------------

    def append_layer(self, type_name: str) -> None:
        """Palette double-click / Enter: a new layer (or block, or template) at the
        end of the stack (then dragged, or moved with Alt+↑, to where it belongs)."""
        self.stack_view.append_entry(type_name)

    def _read_preset(self, key: str) -> tuple[Architecture, str | None] | None:
        """The preset and its bundled weights file (or None); None after an error box."""
        try:
            arch = load_preset(key)
        except ArchitectureError as exc:
            self.files.show_error("Cannot load preset", str(exc))
            return None
        found = weights_path(arch)
        return arch, str(found) if found else None

    def load_preset(self, key: str) -> bool:
        """Presets menu: replace the stack, undoably (trained weights are not undoable:
        when they are unsaved, the unsaved-changes question comes first)."""
        if not self.files.confirm_replacing_weights():
            return False
        preset = self._read_preset(key)
        if preset is None:
            return False
        arch, weights = preset
        command = commands.replace_architecture(self.doc, arch, f"Load preset {arch.name}", weights)
        self.doc.undo_stack.push(command)
        # The new network's own preprocessing (declaring none: the defaults).
        self.doc.set_preprocessing(declared_settings(arch.metadata))
        self.panels.sync_preprocessing()
        self.statusbar.show_message(f"Preset {arch.name}" + weights_note(arch, weights))
        return True

    def open_preset(self, key: str) -> bool:
        """Start a fresh, unmodified document from a preset (`cnnviz vgg16`)."""
        preset = self._read_preset(key)
        if preset is None:
            return False
        arch, weights = preset
        self.doc.reset(Project(arch, weights=weights), None)
        return True

    def restore_snapshot(self, text: str) -> bool:
        """Autosaved work after a crash: open it as an unsaved document."""
        try:
            project = self.doc.restore_snapshot(text)
        except ProjectError as exc:
            self.files.show_error("Cannot restore", f"The autosaved work is not usable: {exc}")
            return False
        self.files.load_project_image(project)
        self.doc.mark_dirty()
        self.statusbar.show_message("Restored the work of the last session", 8000)
        return True

    def save_trained_weights(self) -> bool:
        return self.files.save_trained_weights(self.controller.trained_state)

    def use_random_weights(self) -> bool:
        return self.files.use_weights(None)

    def clear_kernels(self) -> None:
        command = commands.clear_kernels(self.doc)
        if command is not None:
            self.doc.undo_stack.push(command)

    def paste_image(self) -> bool:
        return self.panels.paste_image(QApplication.clipboard())

    def set_device(self, key: str, *, remember: bool = True) -> None:
        key = key if key in self.menu_actions.devices else "auto"
        self.menu_actions.devices[key].setChecked(True)
        self.controller.set_device(key)
        if remember:
            settings.set_device(key)

    # -- results ---------------------------------------------------------------------

    def _result_ready(self, view: ComputedView) -> None:
        result = view.result
        self.statusbar.set_timing(result.elapsed_ms)
        self.statusbar.set_device(result.device)
        first = self.doc.analysis.first_error
        if first is not None:
            weights = ", with random weights until it is fixed" if view.weights_withheld else ""
            self.statusbar.show_problem(f"{first.error} (showing the layers before it{weights})")
        elif result.notice:
            self.statusbar.show_problem(result.notice)
        else:
            self.statusbar.clear_problem()
        self.panels.show_result(view)
        self.result_shown.emit(view)

    def _compute_failed(self, message: str) -> None:
        self.statusbar.show_problem(message)
        self.statusbar.set_busy(False)

    # -- layout ----------------------------------------------------------------------

    def restore_layout(self) -> None:
        geometry, state = settings.window_layout()
        if geometry is not None:
            self.restoreGeometry(geometry)
        if state is not None and self.restoreState(state):
            self._front_docks = []  # the person's own tab choice wins
            self._tab_fix.start()

    def reset_layout(self) -> None:
        self.restoreState(self._default_state)
        for dock in self.findChildren(docks.QDockWidget):
            dock.setFloating(False)
        self._tab_fix.start()

    # -- drops onto the window -------------------------------------------------------

    def dragEnterEvent(self, event) -> None:
        if self.panels.accepts_drop(event.mimeData()):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        if self.panels.drop(event.mimeData()):
            event.acceptProposedAction()

    # -- closing -----------------------------------------------------------------------

    def closeEvent(self, event) -> None:
        if not self.files.maybe_save():
            event.ignore()
            return
        settings.save_window_layout(self.saveGeometry(), self.saveState())
        self.shutdown()
        self.files.import_folders.remove()  # after the compute thread let go of its files
        event.accept()

    def shutdown(self) -> None:
        """Stop the compute thread without asking anything (tests, screenshot mode)."""
        self.controller.shutdown()

    def _make_compute_thread(self):
        return make_compute_thread(self)


def show_soon(window: MainWindow) -> None:
    QTimer.singleShot(0, window.show)


def release_window(window: MainWindow) -> None:
    """Stop the compute thread and delete the window now, while Python and the
    QApplication are whole.

    Signals connected to lambdas keep the window's Python wrapper alive after
    the last reference to it is gone, so otherwise PySide deletes it in its exit
    handler, with every other wrapper still alive, in no set order: pyqtgraph's
    items then run their Python overrides half torn down, and shiboken crashes
    (SIGSEGV at exit, in about 1 run in 6 once the panels have drawn)."""
    import shiboken6

    window.shutdown()
    if shiboken6.isValid(window):
        # Zero-timers already set (reveal the current row, ...) would find it gone.
        QApplication.processEvents()
        shiboken6.delete(window)
