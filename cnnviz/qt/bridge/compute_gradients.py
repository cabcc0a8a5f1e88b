"""The compute thread's gradient job: GradientRequests in, GradientNorms out, latest wins.

The gradient view asks for two configurations at once (the network and its
comparison), so requests go into *lanes*: each lane holds one request, a newer
one in the same lane replaces it before it starts, and only the newest of each
lane is reported. A request travels as a mailbox call, so it runs on the
compute thread between forwards (and between training steps), never beside
them, and a waiting call for a replaced request finds its lane empty and does
nothing.

The norms of the network the user is looking at come from a copy of the very
model the forwards use (trained in the app, say) when the request's stack and
seed are that model's; any other stack is built afresh from its seed
(cnnviz.compute.gradient_norms never touches the user's model).
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from PySide6.QtCore import QObject, Signal, Slot

from cnnviz.core.explain_jobs import GradientNorms, GradientRequest
from cnnviz.core.jobs import ComputeFailure
from cnnviz.qt.bridge.compute_failures import first_line, unexpected
from cnnviz.qt.bridge.compute_lane import current_model
from cnnviz.qt.bridge.mailbox import Call, Mailbox

log = logging.getLogger(__name__)

MAIN = "main"


class GradientLanes(QObject):
    """The GUI's side: `submit` on the GUI thread; `ready`/`failed` arrive on it."""

    ready = Signal(object)  # GradientNorms, the newest of its lane
    failed = Signal(object)  # ComputeFailure of the newest request of its lane
    _computed = Signal(object)  # from the compute thread
    _refused = Signal(object)

    def __init__(self, mailbox: Mailbox, parent: QObject | None = None, compute=None):
        """`compute(runner, request)` replaces the real job (tests)."""
        super().__init__(parent)
        self._mailbox = mailbox
        self._compute = compute or compute_norms
        self._lock = threading.Lock()
        self._waiting: dict[str, GradientRequest] = {}
        self._latest: dict[str, int] = {}
        self.computed = 0  # requests the compute thread ran (tests)
        self._computed.connect(self._on_computed)
        self._refused.connect(self._on_refused)

    def submit(self, request: GradientRequest, lane: str = MAIN) -> None:
        with self._lock:
            self._waiting[lane] = request  # replaces one not started: latest wins
        self._latest[lane] = request.request_id
        self._mailbox.put_call(Call(lambda runner: self._run(runner, lane)))

    def latest(self, lane: str = MAIN) -> int | None:
        return self._latest.get(lane)

    # -- on the compute thread ---------------------------------------------------
    def _run(self, runner: Any, lane: str) -> None:
        with self._lock:
            request = self._waiting.pop(lane, None)
        if request is None:
            return  # a newer call of this lane already ran its request
        self.computed += 1
        try:
            norms = self._compute(runner, request)
        except ValueError as exc:  # the user's to fix: one line
            self._refused.emit((lane, ComputeFailure(request.request_id, first_line(exc))))
            return
        except Exception as exc:  # a bug must not end the thread
            log.exception("gradients %s failed", request.request_id)
            self._refused.emit((lane, ComputeFailure(request.request_id, unexpected(exc))))
            return
        self._computed.emit((lane, norms))

    # -- back on the GUI thread --------------------------------------------------
    @Slot(object)
    def _on_computed(self, item: tuple[str, GradientNorms]) -> None:
        lane, norms = item
        if self._latest.get(lane) == norms.request_id:
            self.ready.emit(norms)

    @Slot(object)
    def _on_refused(self, item: tuple[str, ComputeFailure]) -> None:
        lane, failure = item
        if self._latest.get(lane) == failure.request_id:
            self.failed.emit(failure)


def compute_norms(runner: Any, request: GradientRequest) -> GradientNorms:
    """The norms for `request` (on the compute thread; torch is imported here)."""
    if runner is None:
        raise ValueError("the compute engine is not running")
    from cnnviz.compute.gradient_norms import run_gradients

    return run_gradients(request, current_model(runner, request))
