"""The compute thread's "one linear map" job: MapRequests in, AffineMaps out, latest wins.

The non-linearity lab asks, after every forward of an activation-free
network, for the affine map x ↦ Wx + b it computes (cnnviz.compute.collapse).
The request waits in a one-request slot: a newer one replaces it before it
starts, it runs as a mailbox call on the compute thread between forwards, and
only the newest request's map or one-line failure reaches the GUI.

The map is taken from a copy of the very model the forwards use (its weights
loaded, trained or kept across the edit that removed the activations) when the
request's stack and seed are that model's; any other stack is built from its
seed and weights file.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal, Slot

from cnnviz.core.jobs import ComputeFailure
from cnnviz.core.linear_collapse import AffineMap, MapRequest
from cnnviz.qt.bridge.compute_failures import first_line, unexpected

log = logging.getLogger(__name__)


class MapJob(QObject):
    """The GUI's side: `submit` on the GUI thread; `ready`/`failed` arrive on it."""

    ready = Signal(object)  # AffineMap of the newest request
    failed = Signal(object)  # ComputeFailure of the newest request
    _computed = Signal(object)  # from the compute thread
    _refused = Signal(object)

    def __init__(
        self,
        put_call: Callable[[Callable[[Any], None]], None],
        parent: QObject | None = None,
        compute: Callable[[Any, MapRequest], AffineMap] | None = None,
    ):
        """`put_call(function)` runs function(runner) on the compute thread
        (ComputeThread.put_call); `compute(runner, request)` replaces the real job (tests)."""
        super().__init__(parent)
        self._put_call = put_call
        self._compute = compute or compute_affine_map
        self._lock = threading.Lock()
        self._waiting: MapRequest | None = None
        self.latest: int | None = None
        self.computed = 0  # requests the compute thread ran (tests)
        self._computed.connect(self._on_computed)
        self._refused.connect(self._on_refused)

    def submit(self, request: MapRequest) -> None:
        with self._lock:
            self._waiting = request  # replaces one not started: latest wins
        self.latest = request.request_id
        self._put_call(self._run)

    # -- on the compute thread ---------------------------------------------------
    def _run(self, runner: Any) -> None:
        with self._lock:
            request, self._waiting = self._waiting, None
        if request is None:
            return  # a newer call already ran the request
        self.computed += 1
        try:
            found = self._compute(runner, request)
        except ValueError as exc:  # the user's to fix (an activation left): one line
            self._refused.emit(ComputeFailure(request.request_id, first_line(exc)))
            return
        except Exception as exc:  # a bug must not end the thread
            log.exception("linear map %s failed", request.request_id)
            self._refused.emit(ComputeFailure(request.request_id, unexpected(exc)))
            return
        self._computed.emit(found)

    # -- back on the GUI thread --------------------------------------------------
    @Slot(object)
    def _on_computed(self, found: AffineMap) -> None:
        if found.request_id == self.latest:
            self.ready.emit(found)

    @Slot(object)
    def _on_refused(self, failure: ComputeFailure) -> None:
        if failure.request_id == self.latest:
            self.failed.emit(failure)


def _current_model(runner: Any, request: MapRequest):
    """The forwards' model when it is this request's stack and seed, else None."""
    keeper = getattr(runner, "keeper", None)
    if keeper is None or keeper.model is None:
        return None
    if keeper.architecture != request.architecture or keeper.seed != request.seed:
        return None
    return keeper.model


def compute_affine_map(runner: Any, request: MapRequest) -> AffineMap:
    """W, b and the check on the image (on the compute thread; torch is imported here)."""
    if runner is None:
        raise ValueError("the compute engine is not running")
    from cnnviz.compute.collapse import compute_map
    from cnnviz.compute.model import build_model
    from cnnviz.compute.weights import load_into, read_weights
    from cnnviz.core import linearize

    linearize.check_collapsible(request.architecture)  # before any model is built
    model = _current_model(runner, request)
    if model is None:
        model = build_model(request.architecture, request.seed)
        if request.weights_path:
            load_into(model, read_weights(request.weights_path), request.weights_path)
    return compute_map(request, model)
