"""Training mode made visible: what dropout and batch norm do while training.

On a Dropout layer the mask torch drew for the shown channel (kept white,
dropped black), the kept fraction against 1 − p and the kept values' scale
1/(1−p), measured on the real values. On a BatchNorm2d, histograms of the
channel before and after, with μ, σ², γ, β, ε, the running statistics and the
formula filled in. Any other layer: a line and a list of the layers that apply.
Every number comes from cnnviz.core.train_mode_view.

γ, β and the running statistics are not in a forward result: the panel asks
``state_provider(reply)`` (set by the lab: the compute thread's weights) for the
network's state dict, once per drawn input. The provider calls
``reply(state, error)`` now or later on the GUI thread (state None: the fresh
initialisation); until it does, the page shows the histograms and a waiting
line, so a running forward never freezes the window.

Standalone: ``python -m cnnviz.qt.panels.training_mode --preset interview --layer 1``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial

from PySide6 import QtCore, QtWidgets

from cnnviz.core.analysis import Analysis
from cnnviz.core.thumbnails import strongest_channel
from cnnviz.core.train_mode_view import (
    BATCH_NORM_TYPES,
    DROPOUT_TYPES,
    batch_norm_params,
    batch_norm_view,
    dropout_view,
    fed_a_map,
)
from cnnviz.qt.panels.base import Panel, PanelInput, info_label, title_label
from cnnviz.qt.panels.training_mode_pages import BatchNormPage, DropoutPage

log = logging.getLogger(__name__)

GUIDE = (
    "1. Compute > Training Behaviour (Ctrl+T) runs the network as in training: "
    "the orange badge in the status bar says so.\n"
    "2. On a Dropout layer: the mask torch drew and the 1/(1−p) scale of what it kept.\n"
    "3. On a BatchNorm2d: the channel before and after, with the statistics it used."
)
PICK_HINT = "Select a Dropout or BatchNorm2d layer to see what training behaviour does to it."
NONE_HINT = "This network has no Dropout or BatchNorm2d layer: Labs > Training mode adds them."

WAITING = "Reading the layer's γ, β and running statistics from the compute thread…"

Reply = Callable[["dict | None", "str | None"], None]
StateProvider = Callable[[Reply], None]


def lab_layers(analysis: Analysis) -> list[int]:
    """Flat indices of the Dropout and BatchNorm2d layers fed a C×H×W map (or, for
    dropout, any tensor), in stack order."""
    found = []
    for info in analysis.layers:
        kind = info.layer.type
        if kind in DROPOUT_TYPES or (kind in BATCH_NORM_TYPES and fed_a_map(info)):
            found.append(info.index)
    return found


class TrainingModePanel(Panel):
    layer_selected = QtCore.Signal(int)  # a layer picked in the list

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.state_provider: StateProvider | None = None
        self.channel = 0
        self.dropout = self.batch_norm = None  # the last measured views, for tests
        self._layer_index: int | None = None
        # The input the state was asked for, its answer (state, error) once it came,
        # and whether the provider is being called (an answer then needs no redraw).
        self._asked_for: PanelInput | None = None
        self._answer: tuple | None = None
        self._asking = False
        self._build()

    def _build(self) -> None:
        self.guide = info_label(GUIDE)
        self.title = title_label()
        self.picker = QtWidgets.QComboBox()
        self.picker.setToolTip("The Dropout and BatchNorm2d layers of this network")
        self.picker.activated.connect(self._picked)
        self.channel_spin = QtWidgets.QSpinBox()
        self.channel_spin.setToolTip("The channel to show")
        self.channel_spin.valueChanged.connect(self._set_channel)
        top = QtWidgets.QHBoxLayout()
        top.addWidget(self.title, 1)
        top.addWidget(QtWidgets.QLabel("layer"))
        top.addWidget(self.picker)
        top.addWidget(QtWidgets.QLabel("channel"))
        top.addWidget(self.channel_spin)
        self.note = info_label("", "font-size: 13px;", 13)
        self.pages = QtWidgets.QStackedWidget()
        self.dropout_page, self.batch_norm_page = DropoutPage(), BatchNormPage()
        self.pages.addWidget(self.dropout_page)
        self.pages.addWidget(self.batch_norm_page)
        layout = QtWidgets.QVBoxLayout(self.content)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.guide)
        layout.addLayout(top)
        layout.addWidget(self.note)
        layout.addWidget(self.pages, 1)

    # ----- drawing -----------------------------------------------------------

    def draw(self, data: PanelInput) -> str | None:
        self.dropout = self.batch_norm = None
        if data is not self._asked_for:  # its answer, coming or not, is for no one now
            self._asked_for, self._answer = None, None
        self._fill_picker(data)
        info = data.info()
        kind = info.layer.type if info is not None else ""
        if kind not in DROPOUT_TYPES + BATCH_NORM_TYPES:
            return self._nothing_to_show(PICK_HINT if self.picker.count() else NONE_HINT)
        layer, source = data.activation(), data.layer_input()
        if layer is None or source is None:
            reason = data.analysis.not_computed_reason(data.layer_index)
            return self._nothing_to_show(f"{data.layer_title()} was not computed: {reason}.")
        if kind in BATCH_NORM_TYPES and source.ndim != 3:
            return self._nothing_to_show("This BatchNorm2d has no C×H×W input to show.")
        self.title.setText(data.layer_title())
        self._set_channels(data, source)
        self.pages.show()
        if kind in DROPOUT_TYPES:
            self._draw_dropout(source, layer.output, info.layer.get("p"))
        else:
            self._draw_batch_norm(data, source, layer.output)
        return None

    def _nothing_to_show(self, text: str) -> None:
        """The line in the panel, with the list of layers that apply above it."""
        self.title.setText("")
        self.note.setText(text)
        self.pages.hide()
        return None

    def _set_channels(self, data: PanelInput, source) -> None:
        channels = source.shape[0] if source.ndim == 3 else 1
        if data.layer_index != self._layer_index:
            # A new layer opens on its most active channel, not on a blank one.
            self.channel = strongest_channel(source) if source.ndim == 3 else 0
            self._layer_index = data.layer_index
        self.channel = min(self.channel, channels - 1)
        self.channel_spin.blockSignals(True)
        self.channel_spin.setRange(0, channels - 1)
        self.channel_spin.setValue(self.channel)
        self.channel_spin.blockSignals(False)

    def _draw_dropout(self, x, y, p: float) -> None:
        spatial = x.ndim == 3
        shown_x, shown_y = (x, y) if spatial else (x[None], y[None])
        c = self.channel
        self.dropout = dropout_view(x, y, p)
        shown = dropout_view(shown_x[c], shown_y[c], p)
        self.note.setText("" if spatial else "A vector: its values drawn in rows.")
        self.pages.setCurrentWidget(self.dropout_page)
        self.dropout_page.draw(shown_x, shown_y, c, self.dropout, shown)

    def _draw_batch_norm(self, data: PanelInput, x, y) -> None:
        info = data.info()
        self.pages.setCurrentWidget(self.batch_norm_page)
        if (answer := self._state(data)) is None:
            self.note.setText("")
            self.batch_norm_page.draw_waiting(x, y, self.channel, WAITING)
            return
        state, note = answer
        params = batch_norm_params(state, info.address, info.layer.params, x.shape[0])
        self.batch_norm = batch_norm_view(x, y, params, self.channel)
        self.note.setText(note)
        self.batch_norm_page.draw(x, y, self.batch_norm, x.shape)

    def _state(self, data: PanelInput) -> tuple[dict | None, str] | None:
        """(state dict, note) for `data`; None while the provider has not answered."""
        if self.state_provider is None:
            return None, "γ, β and running statistics: a fresh layer's (1, 0, 0, 1)."
        if self._asked_for is not data:  # a redraw of the same input asks nothing
            self._asked_for, self._answer = data, None
            self._asking = True
            try:
                self.state_provider(partial(self._state_arrived, data))
            except RuntimeError as exc:
                self._answer = (None, str(exc))
            finally:
                self._asking = False
        if self._answer is None:
            return None
        state, error = self._answer
        if error:
            return None, f"The layer's γ, β and running statistics could not be read ({error})."
        return state, ""

    def _state_arrived(self, data: PanelInput, state: dict | None, error: str | None) -> None:
        if data is not self._asked_for:
            return  # asked for an input no longer shown: a newer question wins
        self._answer = (state, error)
        if not self._asking and self.current is data:
            self.show(data)

    # ----- the layer list and the channel ---------------------------------------

    def _fill_picker(self, data: PanelInput) -> None:
        indices = lab_layers(data.analysis)
        names = [data.layer_title(i) for i in indices]
        current = [self.picker.itemText(i) for i in range(self.picker.count())]
        self.picker.blockSignals(True)
        if current != names:
            self.picker.clear()
            for index, name in zip(indices, names, strict=True):
                self.picker.addItem(name, index)
        self.picker.setCurrentIndex(self.picker.findData(data.layer_index))
        self.picker.blockSignals(False)
        self.picker.setEnabled(bool(indices))

    def _picked(self, row: int) -> None:
        index = self.picker.itemData(row)
        if index is not None:
            self.layer_selected.emit(int(index))

    def _set_channel(self, channel: int) -> None:
        self.channel = channel
        if self.current is not None:
            self.show(self.current)


def main(argv=None) -> int:
    from cnnviz.qt.panels._samples import run_standalone

    return run_standalone(TrainingModePanel, 1, argv)


if __name__ == "__main__":
    raise SystemExit(main())
