"""Lab: why non-linearity. Remove every activation (one undo step) and replace max
pooling by average pooling: what is left is one affine map x ↦ Wx + b, computed
on the compute thread (bridge/compute_collapse) after each forward and shown
with the network's own output beside Wx + b and the rows of W as templates."""

from __future__ import annotations

import itertools
import logging

from PySide6.QtCore import QObject

from cnnviz.core import linearize
from cnnviz.core.architecture import ArchitectureError
from cnnviz.core.linear_collapse import MapRequest
from cnnviz.qt.bridge.compute_collapse import MapJob
from cnnviz.qt.bridge.compute_lane import LaneOfThread
from cnnviz.qt.editor import commands
from cnnviz.qt.labs import Lab, lab_dock
from cnnviz.qt.panels.nonlinearity_lab import NonlinearityLab

log = logging.getLogger(__name__)

KEY = "nonlinearity"
NO_ENGINE = "the compute engine is not available"
_ids = itertools.count(1)


class NonlinearityWiring(QObject):
    """Connects the lab panel to the document (its edits) and the compute thread."""

    def __init__(self, window, panel: NonlinearityLab) -> None:
        super().__init__(panel)
        self.window, self.panel = window, panel
        self._jobs = LaneOfThread(self._new_job)
        self._asked = None  # the forward whose map was last asked for
        panel.remove_requested.connect(self.remove_activations)
        panel.replace_requested.connect(self.replace_max_pools)
        window.doc.changed.connect(self._architecture_changed)
        window.controller.result_ready.connect(self.request)
        self._architecture_changed()

    def _architecture_changed(self) -> None:
        self.panel.set_architecture(self.window.doc.architecture)

    def _push(self, make) -> None:
        try:
            command = make(self.window.doc)
        except ArchitectureError as exc:  # a dilated max pool: no same-window twin
            self.panel.show_failure(str(exc))
            return
        if command is not None:
            self.window.doc.undo_stack.push(command)

    def remove_activations(self) -> None:
        self._push(commands.remove_activations)

    def replace_max_pools(self) -> None:
        self._push(commands.replace_max_pools)

    def shown(self, visible: bool) -> None:
        """The dock came to the front again: the map of the latest forward, if not asked yet."""
        if visible:
            self.request()

    def request(self, view=None) -> None:
        """After a forward: the map of the stack it ran, when nothing non-linear is left."""
        if not self.panel.isVisible() and view is not None:
            return  # the lab is closed or behind another tab: no work for nobody
        view = view or self.window.controller.latest
        if view is None:
            self.panel.show_waiting()
            return
        if view is self._asked:
            return  # raised twice for one forward (the menu, then the dock's visibility)
        self._asked = view
        try:
            linearize.check_collapsible(view.architecture)
        except ArchitectureError as exc:
            self.panel.show_failure(str(exc))
            return
        job = self._job()
        if job is None:
            self.panel.show_failure(NO_ENGINE)
            return
        doc = self.window.doc
        weights = None if view.weights_withheld else doc.weights_path
        image = view.result.input
        job.submit(MapRequest(next(_ids), view.architecture, doc.seed, weights, image))
        self.panel.show_waiting("Computing W and b: one forward per input value…")

    def _job(self) -> MapJob | None:
        controller = self.window.controller
        controller.ensure_thread()
        return self._jobs.on(controller.thread)

    def _new_job(self, put_call) -> MapJob:
        job = MapJob(put_call, self)
        job.ready.connect(self.panel.show_map)
        job.failed.connect(lambda failure: self.panel.show_failure(failure.message))
        return job


def _make_panel(window) -> NonlinearityLab:
    panel = NonlinearityLab()
    panel.wiring = NonlinearityWiring(window, panel)  # a child of the panel: lives with it
    return panel


def start(window) -> None:
    panel = lab_dock(
        window,
        KEY,
        "Why Non-linearity",
        lambda: _make_panel(window),
        lambda panel, visible: panel.wiring.shown(visible),
    )
    panel.wiring.request()


LAB = Lab(
    "&Why non-linearity",
    order=20,
    start=start,
    tip="Remove every activation: the network collapses into one linear map x ↦ Wx + b",
)
