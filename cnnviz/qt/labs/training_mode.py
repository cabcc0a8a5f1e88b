"""Lab: training mode made visible. Dropout draws a random mask and scales what it
keeps by 1/(1−p); batch norm normalises with this batch's own statistics. The
lab turns training behaviour on, makes sure the network has a Dropout on a
feature map and a BatchNorm2d (loading the interview preset and inserting a
Dropout, both undoable, when it has not) and opens a panel that follows the
selected layer (cnnviz/qt/panels/training_mode.py).

The compute side puts batch norm's running statistics back after every
training-mode forward (cnnviz/compute/runner.py, _buffers_kept), so looking
never changes the network; the panel shows where one training step would
have moved them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from cnnviz.core.analysis import Analysis
from cnnviz.core.architecture import Layer
from cnnviz.core.jobs import ForwardRequest
from cnnviz.core.train_mode_view import BATCH_NORM_TYPES, DROPOUT_TYPES, fed_a_map
from cnnviz.qt.bridge.compute_lane import LaneOfThread, LatestLane
from cnnviz.qt.editor import commands
from cnnviz.qt.labs import Lab, lab_dock

log = logging.getLogger(__name__)

PRESET = "interview"  # small, trained, with batch norm on feature maps
DROPOUT_P = 0.5
KEY = "training_mode"


def spatial_layers(analysis: Analysis, types: tuple[str, ...]) -> list[int]:
    """Flat indices of the layers of `types` fed a C×H×W map."""
    return [i.index for i in analysis.layers if i.layer.type in types and fed_a_map(i)]


def dropout_position(analysis: Analysis) -> int | None:
    """Where in the top-level stack a Dropout goes: after the first top-level batch
    norm on a feature map and the activation after it, else after the first
    feature map; None when the stack has none."""
    tops = [info for info in analysis.top_level if info.output_shape is not None]
    maps = [info for info in tops if len(info.output_shape) == 3]
    for info in maps:
        if info.layer.type in BATCH_NORM_TYPES:
            after = info.top + 1
            follows = [t for t in maps if t.top == after and t.layer.type == "ReLU"]
            return after + 1 if follows else after
    return maps[0].top + 1 if maps else None


@dataclass(frozen=True)
class _Ask:
    """What the compute thread is asked: the model `forward` names, and the token of
    the copy the lab already holds."""

    request_id: int
    forward: ForwardRequest
    known: int | None


@dataclass(frozen=True)
class _Answer:
    request_id: int
    snapshot: tuple | None  # ForwardRunner.weights_snapshot's (token, state, fresh)


def _snapshot(runner, ask: _Ask) -> _Answer:
    """On the compute thread, between forwards: never beside one."""
    if runner is None:
        return _Answer(ask.request_id, None)  # torch did not start
    return _Answer(ask.request_id, runner.weights_snapshot(ask.forward, ask.known))


class _Weights:
    """The network's state dict from the compute thread, asked without waiting (the
    GUI thread never blocks on a running forward) and copied again only when the
    weights changed (the snapshot's token); None for a fresh initialisation.
    Called with `reply(state, error)`, it answers later on the GUI thread; only
    the newest question is answered."""

    def __init__(self, controller, parent):
        self.controller, self.parent = controller, parent
        self.token, self.state = None, None
        self._reply = None
        self._next_id = 0
        self._lanes = LaneOfThread(self._new_lane)

    def __call__(self, reply) -> None:
        self._reply = reply  # a newer question wins: the older reply is dropped
        lane = self._lanes.on(self.controller.thread)
        if lane is None:
            self._give(None, "no compute engine holds the network")
            return
        try:
            forward = self.controller.snapshot_request()
        except RuntimeError as exc:
            self._give(None, str(exc))
            return
        self._next_id += 1
        lane.submit(_Ask(self._next_id, forward, self.token))

    def _new_lane(self, put_call) -> LatestLane:
        lane = LatestLane(put_call, _snapshot, "weights snapshot", self.parent)
        lane.ready.connect(self._answered)
        lane.failed.connect(self._refused)
        return lane

    def _refused(self, failure) -> None:
        if failure.request_id == self._next_id:  # not an old thread's late answer
            self._give(None, failure.message)

    def _answered(self, answer: _Answer) -> None:
        if answer.request_id != self._next_id:
            return  # an old thread's late answer
        if answer.snapshot is None:
            self._give(None, "no compute engine holds the network")
            return
        token, state, fresh = answer.snapshot
        if fresh:
            self.token, self.state = token, None
        elif state is not None:
            self.token, self.state = token, state
        self._give(self.state, None)

    def _give(self, state, error) -> None:
        reply, self._reply = self._reply, None
        if reply is not None:
            reply(state, error)


class _Follower:
    """Feeds the lab's panel the latest result for the selected layer."""

    def __init__(self, window, panel):
        self.window, self.panel = window, panel
        panel.state_provider = _Weights(window.controller, panel)
        panel.layer_selected.connect(window.select_layer)
        window.result_shown.connect(self.refresh)
        window.stack_view.current_row_changed.connect(self.refresh)

    def shown(self, visible: bool) -> None:
        """Draw when the dock comes into sight: hidden, the panel skips results."""
        if visible:
            # Forced: Qt says "visible" while the tab it replaces still covers it.
            self.refresh(force=True)

    def refresh(self, *_args, force: bool = False) -> None:
        from cnnviz.qt.panels.base import PanelInput

        view, window, panel = self.window.controller.latest, self.window, self.panel
        if not force and (not panel.isVisible() or panel.visibleRegion().isEmpty()):
            return  # closed, or a tab behind another: no histograms nobody sees
        # A result of an older stack has other indices: wait for the new one.
        if view is None or view.analysis is not window.doc.analysis:
            return
        index = max(window.selected_layer, 0)
        classes = window.doc.architecture.classes
        names = tuple(classes) if classes else None
        self.panel.show(PanelInput(view.result, view.analysis, index, names, view.trained))


def _make_panel(window):
    from cnnviz.qt.panels.training_mode import TrainingModePanel

    panel = TrainingModePanel()
    panel._follower = _Follower(window, panel)  # lives as long as the panel
    return panel


def _add_dropout(window) -> str:
    """Insert a Dropout on a feature map, undoably, and select it; what was done."""
    doc = window.doc
    position = dropout_position(doc.analysis)
    if position is None:
        return "This network has no feature map to put a Dropout on."
    layer = Layer.make("Dropout", p=DROPOUT_P)
    doc.undo_stack.push(commands.insert_layers(doc, position, [layer]))
    window.select_layer(doc.analysis.top_level[position].index)
    return f"Inserted Dropout(p={DROPOUT_P:g}) as layer {position} (Ctrl+Z takes it out)"


def _after_first_result(window) -> None:
    """Insert the Dropout once the preset has been computed: its weights file is
    then loaded, and the compute side keeps them through the insertion."""

    def once(view) -> None:
        if view.analysis is not window.doc.analysis:
            return  # the result of the stack before the preset
        window.result_shown.disconnect(once)
        if not spatial_layers(window.doc.analysis, DROPOUT_TYPES):
            window.statusbar.show_message(f"Preset {PRESET}; " + _add_dropout(window), 10000)

    window.result_shown.connect(once)


def start(window) -> None:
    panel = lab_dock(
        window,
        KEY,
        "Training mode",
        lambda: _make_panel(window),
        lambda panel, visible: panel._follower.shown(visible),
    )
    action = window.menu_actions.train_mode
    if not action.isChecked():
        action.trigger()  # through the menu action, so its tick and the badge agree
    analysis = window.doc.analysis
    dropouts = spatial_layers(analysis, DROPOUT_TYPES)
    if spatial_layers(analysis, BATCH_NORM_TYPES) and dropouts:
        window.select_layer(dropouts[0])
    elif spatial_layers(analysis, BATCH_NORM_TYPES):
        window.statusbar.show_message(_add_dropout(window), 10000)
    elif window.load_preset(PRESET):
        _after_first_result(window)
    panel._follower.refresh(force=True)


LAB = Lab(
    "&Training mode: dropout and batch norm",
    order=10,
    start=start,
    tip="Training behaviour on: the dropout mask and 1/(1−p) scale, batch norm's statistics",
)
