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

from cnnviz.qt import commands, docks
from cnnviz.qt.controller import ComputedView

if TYPE_CHECKING:
    from cnnviz.qt.main_window import MainWindow

log = logging.getLogger(__name__)


def _panel_input(view: ComputedView, layer_index: int, classes):
    from cnnviz.qt.panels.base import PanelInput

    return PanelInput(view.result, view.analysis, layer_index, tuple(classes) if classes else None)


class PanelWiring:
    def __init__(self, window: MainWindow):
        self.window = window
        self.docks: dict[str, docks.PanelDock] = docks.create_panel_docks(window)
        self.latest: ComputedView | None = None
        self._data = None
        for panel in self.docks.values():
            panel.dock.visibilityChanged.connect(
                lambda visible, p=panel: visible and docks.feed(p, self._data)
            )
        self._connect_special_panels()

    def widget(self, key: str):
        panel = self.docks.get(key)
        return panel.widget if panel is not None and panel.real else None

    # -- outgoing signals ------------------------------------------------------------

    def _connect_special_panels(self) -> None:
        window = self.window
        for key in ("feature_maps", "overview", "filters", "pooling", "activation"):
            widget = self.widget(key)
            if widget is not None and hasattr(widget, "layer_selected"):
                widget.layer_selected.connect(window.select_layer)
        filters = self.widget("filters")
        if filters is not None and hasattr(filters, "kernel_edit_requested"):
            filters.kernel_edit_requested.connect(self.kernel_edit)
        pad = self.widget("draw_pad")
        if pad is not None and hasattr(pad, "image_changed"):
            pad.image_changed.connect(self.drawing_changed)
        source = self.widget("input_image")
        if source is not None and hasattr(source, "preprocessing_changed"):
            source.preprocessing_changed.connect(self.preprocessing_changed)
        self._connect_training()

    def _connect_training(self) -> None:
        panel, controller = self.widget("training"), self.window.controller
        if panel is None:
            return
        if hasattr(panel, "train_requested"):
            panel.train_requested.connect(controller.start_training)
        if hasattr(panel, "cancel_requested"):
            panel.cancel_requested.connect(controller.cancel_training)
        for signal, slot in (
            (controller.training_progress, "on_progress"),
            (controller.training_finished, "on_finished"),
        ):
            if hasattr(panel, slot):
                signal.connect(getattr(panel, slot))

    def kernel_edit(self, edit) -> None:
        doc = self.window.doc
        doc.undo_stack.push(commands.set_kernel(doc, edit))

    def drawing_changed(self, image: np.ndarray) -> None:
        self.window.files.use_array(np.asarray(image, dtype=np.float32), "drawing")

    def preprocessing_changed(self, prep) -> None:
        settings = prep.to_json() if hasattr(prep, "to_json") else dict(prep)
        self.window.doc.set_preprocessing(settings)

    # -- incoming results ------------------------------------------------------------

    def show_result(self, view: ComputedView) -> None:
        self.latest = view
        self._refresh()

    def layer_changed(self, _row: int) -> None:
        if self.latest is not None:
            self._refresh()

    def _refresh(self) -> None:
        view, window = self.latest, self.window
        row = window.selected_layer
        index = row if row >= 0 else 0
        self._data = _panel_input(view, index, window.doc.architecture.classes)
        for panel in self.docks.values():
            docks.feed(panel, self._data)
        self._feed_input_panel(view)
        self._feed_conv_stepper(view, index)

    def _feed_input_panel(self, view: ComputedView) -> None:
        panel = self.widget("input_image")
        if panel is None:
            return
        for name in ("set_network_input", "show_input", "set_input"):
            if hasattr(panel, name):
                getattr(panel, name)(view.result.input)
                return

    def _feed_conv_stepper(self, view: ComputedView, index: int) -> None:
        stepper = self.widget("conv_stepper")
        if stepper is None or not hasattr(stepper, "set_real_layer"):
            return
        if index not in view.result.filters or index >= len(view.analysis.layers):
            return
        if not docks.can_be_seen(self.docks["conv_stepper"]):
            return
        info = view.analysis.layers[index]
        layer = info.layer
        weight, bias = view.result.filters[index]
        image = view.result.input if index == 0 else _output_of(view, index - 1)
        feature_map = _output_of(view, index)
        if image is None:
            return
        try:
            stepper.set_real_layer(
                weight, bias, image, layer.get("stride"), layer.get("padding"),
                layer.get("dilation"), layer.get("groups"), layer.get("padding_mode"),
                index, feature_map,
            )  # fmt: skip
        except Exception:  # the stepper must never take the window down
            log.exception("conv stepper could not show layer %d", index)

    # -- images from outside ---------------------------------------------------------

    def paste_image(self, clipboard) -> bool:
        try:
            from cnnviz.qt.image_sources import image_from_clipboard
        except ImportError:
            return False
        image = image_from_clipboard(clipboard)
        if image is None:
            self.window.statusbar.show_problem("The clipboard holds no picture")
            return False
        self.window.files.use_array(image, "pasted image")
        return True

    def accepts_drop(self, mime) -> bool:
        return mime.hasUrls()

    def drop(self, mime) -> bool:
        """A dropped project/architecture file opens; an image becomes the input."""
        paths = [url.toLocalFile() for url in mime.urls() if url.isLocalFile()]
        if not paths:
            return False
        path = paths[0]
        if path.lower().endswith((".cnnviz", ".json")):
            files = self.window.files
            return files.maybe_save() and files.open_path(path)
        return self.window.files.open_image(path)


def _output_of(view: ComputedView, index: int):
    for layer in view.result.layers:
        if layer.index == index:
            return layer.output
    return None
