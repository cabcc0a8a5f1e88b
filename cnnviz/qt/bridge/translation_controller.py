"""Drives the translation lab's job from its panel: the latest choice wins.

The comparison is asked for the network exactly as the last forward saw it
(its stack, the input tensor it ran on, the document's seed, weights file and
hand-set kernels), again whenever a new forward result arrives (an edit,
another image, a training epoch) or the person changes the shift, axis or
layer, debounced like forwards, and only while the lab can be seen
(`set_active`). Results and failures of any but the latest request are dropped.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject, Signal

from cnnviz.core.translation_jobs import ShiftChoice, TranslationRequest
from cnnviz.qt.bridge.compute_lane import LaneOfThread
from cnnviz.qt.bridge.compute_translation import INVALID_STACK, TranslationLane
from cnnviz.qt.bridge.controller import ComputeController, ComputedView
from cnnviz.qt.bridge.result_follower import ResultFollower

log = logging.getLogger(__name__)

# Translation ids have a range of their own: never taken for another job's.
FIRST_ID = 3_000_000


class TranslationController(ResultFollower):
    result_ready = Signal(object)  # TranslationResult of the latest request
    failed = Signal(str)  # why the latest request gave nothing, one line
    network_changed = Signal(object)  # the ComputedView a new request is for

    def __init__(self, compute: ComputeController, parent: QObject | None = None, lane=None):
        """`lane` replaces the compute thread's (tests)."""
        super().__init__(compute, ShiftChoice(), FIRST_ID, parent)
        self._test_lane = lane
        self._lanes = LaneOfThread(self._new_lane)
        if lane is not None:
            self._connect(lane)

    def _new_result(self, view: ComputedView) -> None:
        self.network_changed.emit(view)
        super()._new_result(view)

    def submit_now(self) -> int | None:
        """Ask for the current choice on the latest result, unless that is asked already."""
        asked = self._next_question()
        if asked is None:
            return None
        view, choice = asked
        if view.computed_layers < len(view.analysis.top_level):
            self.latest_id = None
            self.failed.emit(INVALID_STACK)
            return None
        lane = self._current_lane()
        if lane is None:
            self.failed.emit("the compute engine is not available")
            return None
        request = self._request(self._next_id(), view, choice)
        self.latest_id = request.request_id
        lane.submit(request)
        return request.request_id

    def _request(self, request_id: int, view: ComputedView, choice: ShiftChoice):
        doc = self.compute.doc
        return TranslationRequest(
            request_id=request_id,
            architecture=view.architecture,
            image=view.result.input,  # the tensor the forward ran on
            pixels=choice.pixels,
            axis=choice.axis,
            layer=choice.layer,
            seed=doc.seed,
            weights_path=None if view.weights_withheld else doc.weights_path,
            kernel_edits=tuple(doc.kernel_edits),
            device=self.compute.device,
        )

    def _current_lane(self) -> TranslationLane | None:
        if self._test_lane is not None:
            return self._test_lane
        return self._lanes.on(self.compute.thread)

    def _new_lane(self, put_call) -> TranslationLane:
        lane = TranslationLane(put_call, self)
        self._connect(lane)
        return lane

    def _connect(self, lane: TranslationLane) -> None:
        lane.ready.connect(self._on_ready)
        lane.failed.connect(self._on_failure)

    def _on_ready(self, result) -> None:
        if result.request_id == self.latest_id:
            self.result_ready.emit(result)

    def _on_failure(self, failure) -> None:
        if failure.request_id == self.latest_id:
            self.failed.emit(failure.message)
