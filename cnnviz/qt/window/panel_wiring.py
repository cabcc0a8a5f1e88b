"""Connects the visual panels to the window: results in, selections and edits out.

The common panels get a PanelInput after every result (only when they can be
seen; a raised tab catches up). The special ones are wired by name:
the filters panel's kernel edits go on the undo stack, the feature-map and
overview panels select layers, the input panel's preprocessing and the draw
pad's strokes change the network input, the training panel drives training,
and the conv stepper gets the selected conv layer for real.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QTimer

from cnnviz.core.preprocess import declared
from cnnviz.qt.bridge.controller import ComputedView
from cnnviz.qt.editor import commands
from cnnviz.qt.inputs.network_input import make_preprocessing
from cnnviz.qt.window import docks
from cnnviz.qt.window import settings as app_settings

if TYPE_CHECKING:
    from cnnviz.qt.window.main_window import MainWindow

log = logging.getLogger(__name__)

DRAWING = "drawing"  # the input's label while it is the draw pad's picture
SAVED_DRAWING = "saved drawing"  # a drawing reopened with its project (file_ops)
LAYER_SELECTORS = ("feature_maps", "overview", "filters", "pooling", "activation")
LOG_LOSS_KEY = "training/log_loss"  # the Training panel's loss plot on a log scale


def _panel_input(view: ComputedView, layer_index: int, classes):
    from cnnviz.qt.panels.base import PanelInput

    names = tuple(classes) if classes else None
    return PanelInput(view.result, view.analysis, layer_index, names, view.trained)


class PanelWiring:
    def __init__(self, window: MainWindow):
        self.window = window
        # Panels are built on first use; each is wired as it is built.
        self.docks: dict[str, docks.PanelDock] = docks.create_panel_docks(
            window, self._connect_special_panel
        )
        self.latest: ComputedView | None = None
        self.why = None  # the Why panel's wiring, once it is built (why_wiring)
        self._data = None
        # Panels may keep views of the shown result; a large forward lets go of them too.
        window.controller.array_holders = lambda: [self.built_widget(k) for k in self.docks]
        # The document changed since `latest` was computed: its pictures are stale,
        # and the panels wait for the new result instead of redrawing the old one.
        self._stale = False
        self._row_waiting = False  # a layer chosen while stale, drawn with the result
        doc = window.doc
        for signal in (doc.changed, doc.image_changed, doc.weights_changed):
            signal.connect(self._document_changed)
        doc.image_changed.connect(self._show_saved_drawing)
        window.controller.failed.connect(self._no_result_coming)
        self._settled = False  # see _panel_shown
        self._shown_early: list[docks.PanelDock] = []
        for panel in self.docks.values():
            panel.dock.visibilityChanged.connect(
                lambda visible, p=panel: visible and self._panel_shown(p)
            )
        self.docks["conv_stepper"].dock.visibilityChanged.connect(self._stepper_shown)
        window.doc.reset_done.connect(self.sync_preprocessing)

    def widget(self, key: str):
        """The panel `key` (built now if it was not yet), or None if it is not in this build."""
        panel = self.docks.get(key)
        return panel.widget if panel is not None and panel.real else None

    def built_widget(self, key: str):
        """The panel `key` if it has been built, else None (never builds it)."""
        panel = self.docks.get(key)
        return self.widget(key) if panel is not None and panel.built else None

    # -- outgoing signals ------------------------------------------------------------

    def _connect_special_panel(self, spec: docks.PanelSpec, widget, real: bool) -> None:
        """Wire a panel's signals as it is built (docks build panels on first use)."""
        key = spec.key
        if not real:
            return
        if key in LAYER_SELECTORS and hasattr(widget, "layer_selected"):
            widget.layer_selected.connect(self.window.select_layer)
        if key == "filters" and hasattr(widget, "kernel_edit_requested"):
            widget.kernel_edit_requested.connect(self.kernel_edit)
        if key == "draw_pad" and hasattr(widget, "image_changed"):
            widget.image_changed.connect(self.drawing_changed)
            self._show_saved_drawing(widget)
        if key == "input_image" and hasattr(widget, "preprocessing_changed"):
            widget.preprocessing_changed.connect(self.preprocessing_changed)
        if key == "input_image":
            self.sync_preprocessing()
            if self.latest is not None:
                self._feed_input_panel(self.latest)
        if key == "training":
            self._connect_training(widget)
        if key == "gradients":
            from cnnviz.qt.window.gradients_wiring import GradientsWiring

            self.gradients = GradientsWiring(self.window, widget)
        if key == "why":
            from cnnviz.qt.window.why_wiring import WhyWiring

            self.why = WhyWiring(self.window, self.docks["why"], widget)
        if key == "quiz":
            from cnnviz.qt.window.quiz_wiring import QuizWiring

            self.quiz = QuizWiring(self.window, widget)
        if key == "prediction" and hasattr(widget, "class_picked"):
            widget.class_picked.connect(self._class_picked)

    def _class_picked(self, index: int) -> None:
        """A class picked in Prediction: the Why panel explains it (built if need be)."""
        if self.widget("why") is not None and self.why is not None:
            self.why.pick_class(index)

    def _connect_training(self, panel) -> None:
        controller = self.window.controller
        if hasattr(panel, "train_requested"):
            panel.train_requested.connect(controller.start_training)
        if hasattr(panel, "cancel_requested"):
            panel.cancel_requested.connect(controller.cancel_training)
        for signal, slot in (
            (controller.training_progress, "on_progress"),
            (controller.training_finished, "on_finished"),
            (controller.training_failed, "on_failed"),
        ):
            if hasattr(panel, slot):
                signal.connect(getattr(panel, slot))
        check = getattr(getattr(panel, "curves", None), "log_check", None)
        if check is not None:  # the loss plot's log scale, kept between runs
            check.setChecked(app_settings.settings().value(LOG_LOSS_KEY, False, type=bool))
            check.toggled.connect(lambda on: app_settings.settings().setValue(LOG_LOSS_KEY, on))
        if hasattr(panel, "reset"):
            # A new network: the last one's curves and messages do not describe it.
            controller.network_replaced.connect(panel.reset)
        if hasattr(panel, "set_start"):
            changes = (self.window.doc.weights_changed, controller.training_finished)
            for signal in (*changes, controller.network_replaced):
                signal.connect(self._training_start_changed)
            self._training_start_changed()

    def _training_start_changed(self, *_args) -> None:
        """Tell the training panel what a run would start from (the controller sends
        the document's weights file, else training initialises afresh)."""
        controller = self.window.controller
        self.widget("training").set_start(self.window.doc.weights_path, controller.trained_here)

    def kernel_edit(self, edit) -> None:
        doc = self.window.doc
        doc.undo_stack.push(commands.set_kernel(doc, edit))

    def _show_saved_drawing(self, pad=None) -> None:
        """A reopened project's drawing on the pad too (else the pad looks blank
        beside an input that came from it); the pad is fed when it is built."""
        doc, pad = self.window.doc, pad or self.built_widget("draw_pad")
        if doc.image_label != SAVED_DRAWING or doc.image is None or doc.image.ndim != 2:
            return
        if hasattr(pad, "show_saved"):
            pad.show_saved(doc.image)

    def drawing_changed(self, image: np.ndarray) -> None:
        self.window.files.use_array(np.asarray(image, dtype=np.float32), DRAWING)

    def preprocessing_changed(self, prep) -> None:
        settings = prep.to_json() if hasattr(prep, "to_json") else dict(prep)
        self.window.doc.set_preprocessing(settings)

    # -- incoming results ------------------------------------------------------------

    def show_result(self, view: ComputedView) -> None:
        self.latest = view
        self._stale = self._row_waiting = False
        self._refresh()

    def layer_changed(self, _row: int) -> None:
        """Another layer chosen: draw it from the latest result. The same layer
        again (an edit reselects its row) draws nothing; while an edit's result
        is on its way, the layer is drawn when it arrives, not from the old one."""
        if self.latest is None or self._selected_index() == self._data.layer_index:
            return
        if self._stale:
            self._row_waiting = True
            return
        self._refresh()

    def _document_changed(self, *_args) -> None:
        self._stale = True

    def _no_result_coming(self, *_args) -> None:
        # The request failed: a layer chosen meanwhile is drawn from what there is.
        if self._row_waiting and self.latest is not None:
            self._row_waiting = False
            self._refresh()

    def _selected_index(self) -> int:
        row = self.window.selected_layer
        return row if row >= 0 else 0

    def _refresh(self) -> None:
        view, window = self.latest, self.window
        index = self._selected_index()
        self._data = _panel_input(view, index, window.doc.architecture.classes)
        for panel in self.docks.values():
            docks.feed(panel, self._data)
        self._feed_input_panel(view)
        self._feed_conv_stepper(view, index)

    def _feed_input_panel(self, view: ComputedView) -> None:
        pad = self.built_widget("draw_pad")  # a drawing as input means it was built
        drawn = self.window.doc.image_label in (DRAWING, SAVED_DRAWING)
        if drawn and hasattr(pad, "show_network_input"):
            pad.show_network_input(view.result.input)  # the tensor beside the drawing
        panel = self.built_widget("input_image")  # else it is fed when built
        if panel is None or not hasattr(panel, "set_input"):
            return
        try:
            panel.set_input(view.result.input, source=self.window.controller.input_label)
        except ValueError:
            log.exception("the input panel refused the network input")

    def sync_preprocessing(self) -> None:
        """Show the document's preprocessing (after opening a project) in the input panel,
        and the one its network declares."""
        panel = self.built_widget("input_image")  # else it is synced when built
        prep = make_preprocessing(self.window.doc.preprocessing)
        if panel is not None and prep is not None and hasattr(panel, "set_preprocessing"):
            panel.set_preprocessing(prep)
        if panel is not None and hasattr(panel, "set_declared"):
            arch = self.window.doc.architecture
            own = declared(arch.metadata)
            text = own.describe(arch.input.height, arch.input.width) if own else ""
            panel.set_declared(own, text)

    def _panel_shown(self, panel: docks.PanelDock) -> None:
        """A dock just became visible: draw the latest data in it now.

        Forced, because the signal is the proof it can be seen: when a tab is
        clicked, Qt emits visibilityChanged(True) while the tab it replaces
        still lies over it, so can_be_seen() finds it covered, and the panel
        would keep what it drew before it was hidden (another network, image
        or layer) until the next result. Built now if this is its first time."""
        if not self._settled:
            # The window's first show makes the last tab of each group current for
            # a moment, until the window raises its front tabs: build only the
            # docks still visible once that is done.
            self._shown_early.append(panel)
            if len(self._shown_early) == 1:
                QTimer.singleShot(0, self.window, self._settle)  # not once it is deleted
            return
        panel.ensure()
        docks.feed(panel, self._data, force=True)

    def _settle(self) -> None:
        """After the first paint: build the docks in sight, one per turn of the event
        loop, so the window appears at once and stays responsive while they fill in."""
        self._settled = True
        early, self._shown_early = self._shown_early, []
        waiting = [p for p in early if docks.can_be_seen(p)]  # a tab behind is "visible" too
        if waiting:
            self._build_in_turn(waiting)

    def _build_in_turn(self, waiting: list[docks.PanelDock]) -> None:
        QTimer.singleShot(0, self.window, lambda: self._build_first(waiting))

    def _build_first(self, waiting: list[docks.PanelDock]) -> None:
        panel, rest = waiting[0], waiting[1:]
        if not panel.built and docks.can_be_seen(panel):
            self._panel_shown(panel)
        if rest:
            self._build_in_turn(rest)

    def _stepper_shown(self, visible: bool) -> None:
        if visible and self.latest is not None:
            index = max(self.window.selected_layer, 0)
            self._feed_conv_stepper(self.latest, index, force=True)  # see _panel_shown

    def _feed_conv_stepper(self, view: ComputedView, index: int, *, force: bool = False) -> None:
        if not force and not docks.can_be_seen(self.docks["conv_stepper"]):
            return  # before widget(): a stepper nobody has seen stays unbuilt
        stepper = self.widget("conv_stepper")
        if stepper is None or not hasattr(stepper, "set_real_layer"):
            return
        from cnnviz.qt.panels.conv_stepper_sources import real_layer_arguments

        # What the layer really received: inside a block, not the layer one index back.
        arguments = real_layer_arguments(view.result, view.analysis, index)
        if arguments is None:
            return
        try:
            stepper.set_real_layer(**arguments)
        except Exception:  # the stepper must never take the window down
            log.exception("conv stepper could not show layer %d", index)

    # -- images from outside ---------------------------------------------------------

    def paste_image(self, clipboard) -> bool:
        """The clipboard's picture (or a copied image file) becomes the input."""
        try:
            from cnnviz.qt.inputs.image_sources import image_from_clipboard, paths_from_mime
        except ImportError:
            return False
        try:
            image = image_from_clipboard(clipboard)
        except ValueError as exc:
            self.window.files.show_error("Cannot use the pasted picture", str(exc))
            return False
        if image is not None:
            self.window.files.use_array(image, "pasted image")
            return True
        paths = paths_from_mime(clipboard.mimeData())
        if paths:
            return self.window.files.open_image(paths[0])
        self.window.statusbar.show_problem("The clipboard holds no picture to paste")
        return False

    def accepts_drop(self, mime) -> bool:
        if any(p.lower().endswith(PROJECT_SUFFIXES) for p in _local_paths(mime)):
            return True
        try:
            from cnnviz.qt.inputs.image_sources import accepts_image_drop
        except ImportError:
            return bool(_local_paths(mime))
        return accepts_image_drop(mime)

    def drop(self, mime) -> bool:
        """A dropped project/architecture file opens; a picture becomes the input."""
        paths = _local_paths(mime)
        files = self.window.files
        if paths and paths[0].lower().endswith(PROJECT_SUFFIXES):
            return files.maybe_save() and files.open_path(paths[0])
        if paths:
            return files.open_image(paths[0])
        if mime.hasImage():
            from cnnviz.qt.inputs.image_sources import qimage_to_array

            try:
                files.use_array(qimage_to_array(mime.imageData()), "dropped image")
            except (ValueError, TypeError) as exc:
                files.show_error("Cannot use the dropped picture", str(exc))
                return False
            return True
        return False


PROJECT_SUFFIXES = (".cnnviz", ".json")


def _local_paths(mime) -> list[str]:
    if mime is None or not mime.hasUrls():
        return []
    return [url.toLocalFile() for url in mime.urls() if url.isLocalFile()]
