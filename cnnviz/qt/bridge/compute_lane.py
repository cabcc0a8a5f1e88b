"""One request slot on the compute thread where the latest request wins.

A lab asks for a job (a linear map, two shifted forwards, ...) after every
forward or control change. The request waits in a one-request slot: a newer
one replaces it before it starts. It travels as a mailbox call
(``ComputeThread.put_call``), so it runs on the compute thread between
forwards, never beside them; a call whose request was replaced meanwhile finds
the slot empty and does nothing. Only the newest request's result or one-line
failure reaches the GUI. A job that takes ``should_cancel`` may stop early
(raising ``cnnviz.compute.forward.Cancelled``) when a newer request waits.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal, Slot

from cnnviz.core.jobs import ComputeFailure
from cnnviz.qt.bridge.compute_failures import first_line, unexpected

log = logging.getLogger(__name__)


class LatestLane(QObject):
    """The GUI's side: `submit` on the GUI thread; `ready`/`failed` arrive on it."""

    ready = Signal(object)  # the newest request's result (it has a request_id)
    failed = Signal(object)  # ComputeFailure of the newest request
    _computed = Signal(object)  # from the compute thread
    _refused = Signal(object)

    def __init__(
        self,
        put_call: Callable[[Callable[[Any], None]], None],
        compute: Callable[..., Any],
        what: str,
        parent: QObject | None = None,
        cancellable: bool = False,
    ):
        """`put_call(function)` runs function(runner) on the compute thread;
        `compute(runner, request)` (with `should_cancel` too when `cancellable`)
        is the job; `what` names it in the log."""
        super().__init__(parent)
        self._put_call = put_call
        self._compute = compute
        self._what = what
        self._cancellable = cancellable
        self._lock = threading.Lock()
        self._waiting: Any = None
        self.latest: int | None = None
        self.computed = 0  # requests the compute thread ran (tests)
        self._computed.connect(self._on_computed)
        self._refused.connect(self._on_refused)

    def submit(self, request: Any) -> None:
        with self._lock:
            self._waiting = request  # replaces one not started: latest wins
        self.latest = request.request_id
        self._put_call(self._run)

    # -- on the compute thread ---------------------------------------------------
    def _newer_waits(self) -> bool:
        return self._waiting is not None

    def _run(self, runner: Any) -> None:
        from cnnviz.compute.forward import Cancelled

        with self._lock:
            request, self._waiting = self._waiting, None
        if request is None:
            return  # a later call already ran the request this one was for
        self.computed += 1
        extra = (self._newer_waits,) if self._cancellable else ()
        try:
            result = self._compute(runner, request, *extra)
        except Cancelled:
            return  # a newer request waits; its own call runs it
        except ValueError as exc:  # the user's to fix (ComputeError too): one line
            self._refused.emit(ComputeFailure(request.request_id, first_line(exc)))
        except Exception as exc:  # a bug must not end the thread
            log.exception("%s %s failed", self._what, request.request_id)
            self._refused.emit(ComputeFailure(request.request_id, unexpected(exc)))
        else:
            self._computed.emit(result)

    # -- back on the GUI thread --------------------------------------------------
    @Slot(object)
    def _on_computed(self, result: Any) -> None:
        if result.request_id == self.latest:
            self.ready.emit(result)

    @Slot(object)
    def _on_refused(self, failure: ComputeFailure) -> None:
        if failure.request_id == self.latest:
            self.failed.emit(failure)


def current_model(runner: Any, request: Any):
    """The forwards' model when it is this request's stack and seed, else None."""
    keeper = getattr(runner, "keeper", None)
    if keeper is None or keeper.model is None:
        return None
    if keeper.architecture != request.architecture or keeper.seed != request.seed:
        return None
    return keeper.model


class LaneOfThread:
    """A lab's lane, made once per compute thread: the thread starts late (after
    torch loads) and a restarted engine is a new thread with a new mailbox."""

    def __init__(self, make: Callable[[Callable[[Callable[[Any], None]], None]], LatestLane]):
        """`make(put_call)` builds the lane (and connects its signals)."""
        self._make = make
        self._thread: Any = None
        self.lane: LatestLane | None = None

    def on(self, thread: Any) -> LatestLane | None:
        """The lane on `thread`; None when there is no thread that takes calls."""
        put_call = getattr(thread, "put_call", None)
        if put_call is None:
            return None
        if thread is not self._thread:
            self._thread, self.lane = thread, self._make(put_call)
        return self.lane
