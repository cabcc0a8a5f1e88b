"""The compute thread's mailbox: one slot for the newest forward, one for training,
one per other kind of job (an explanation, gradient norms: keyed by the request's
type), and a queue of calls (e.g. "hand me the weights") that run before all.

The GUI thread puts requests in; the worker thread takes them out. A forward
put in replaces one that has not started (latest wins), and ``superseded``
tells a running forward, between layers, that a newer one is waiting so it
may stop. Plain ``threading``: no Qt, so it is tested on its own
(tests/qt/test_mailbox.py).
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from typing import Any

from cnnviz.core.jobs import ForwardRequest, TrainRequest


class Call:
    """A function of the worker's runner, run on the compute thread; the caller may wait."""

    def __init__(self, function: Callable[[Any], Any]):
        self.function = function
        self.done = threading.Event()
        self.result: Any = None
        self.error: BaseException | None = None

    def __call__(self, runner: Any) -> None:
        try:
            self.result = self.function(runner)  # runner None: torch did not start
        except Exception as exc:  # handed to the caller, never ends the thread
            self.error = exc
        finally:
            self.done.set()


class Mailbox:
    """One slot for the newest forward, one for a training request, and flags."""

    def __init__(self) -> None:
        self.condition = threading.Condition()
        self.forward: ForwardRequest | None = None
        self.training: TrainRequest | None = None
        self.training_cancelled = False
        self.stopping = False
        # Functions of the worker's runner, in order; never replaced by newer ones.
        self.calls: deque[Callable[[Any], None]] = deque()
        # The newest unstarted request of each other kind (ExplainRequest, ...):
        # latest wins per kind, as for forwards.
        self.jobs: dict[type, Any] = {}
        # Kinds whose running job was cancelled by the user (Cancel), until the next starts.
        self.jobs_cancelled: set[type] = set()

    def put_call(self, call: Callable[[Any], None]) -> None:
        with self.condition:
            self.calls.append(call)
            self.condition.notify()

    def take_call(self) -> Callable[[Any], None] | None:
        with self.condition:
            return self.calls.popleft() if self.calls else None

    def put_forward(self, request: ForwardRequest) -> None:
        with self.condition:
            self.forward = request  # replaces an unstarted one: latest wins
            self.condition.notify()

    def put_job(self, request: Any) -> None:
        """A request of another kind (keyed by its type): replaces an unstarted one."""
        with self.condition:
            self.jobs[type(request)] = request
            self.condition.notify()

    def cancel_job(self, kind: type) -> None:
        """Drop the unstarted `kind` request and stop the running one at its next check."""
        with self.condition:
            self.jobs.pop(kind, None)
            self.jobs_cancelled.add(kind)

    def job_superseded(self, kind: type) -> bool:
        """The running `kind` job may stop: a newer one waits, it was cancelled, or we stop."""
        return self.stopping or kind in self.jobs or kind in self.jobs_cancelled

    def resume_later(self, request: Any) -> bool:
        """Put back a job that stopped for a waiting forward, to run again after it,
        unless a newer one of its kind waits or it was cancelled. True if put back."""
        kind = type(request)
        with self.condition:
            if self.stopping or kind in self.jobs or kind in self.jobs_cancelled:
                return False
            self.jobs[kind] = request
            self.condition.notify()
            return True

    def put_training(self, request: TrainRequest) -> None:
        with self.condition:
            self.training = request
            self.training_cancelled = False
            self.condition.notify()

    def cancel_training(self) -> None:
        with self.condition:
            self.training = None
            self.training_cancelled = True

    def stop(self) -> None:
        with self.condition:
            self.stopping = True
            self.condition.notify()

    def superseded(self) -> bool:
        """A newer forward is waiting (or we are stopping): the running one may stop."""
        return self.stopping or self.forward is not None

    def take_forward(self) -> ForwardRequest | None:
        with self.condition:
            request, self.forward = self.forward, None
            return request

    def wait_for_job(self, on_idle: Callable[[], None]) -> ForwardRequest | TrainRequest | Any:
        """The next job, or None to stop: calls first (someone may be waiting for
        one), then forwards (they are quick and someone is looking), then the other
        kinds (an explanation), then training."""
        with self.condition:
            if not self._has_work():
                on_idle()
            while not self._has_work():
                self.condition.wait()
            if self.stopping:
                return None
            if self.calls:
                return self.calls.popleft()
            if self.forward is not None:
                request, self.forward = self.forward, None
                return request
            if self.jobs:
                kind = next(iter(self.jobs))
                self.jobs_cancelled.discard(kind)
                return self.jobs.pop(kind)
            request, self.training = self.training, None
            self.training_cancelled = False
            return request

    def _has_work(self) -> bool:
        return bool(self.stopping or self.calls or self.forward or self.jobs or self.training)


class HeldForward:
    """The GUI side's record of the forward in flight and the newest one waiting.

    At most one forward is handed to the mailbox at a time: a request offered
    while one runs is held (a newer one replaces it) until that forward ends
    or the caller stops waiting (``release``)."""

    def __init__(self) -> None:
        self.in_flight: int | None = None
        self.held: ForwardRequest | None = None

    def offer(self, request: ForwardRequest, *, hold: bool = True) -> ForwardRequest | None:
        """The request to hand over now, or None while it is held."""
        if hold and self.in_flight is not None:
            self.held = request
            return None
        self.held = None
        self.in_flight = request.request_id
        return request

    def done(self, request_id: int) -> ForwardRequest | None:
        """The forward `request_id` ended: the held request to hand over, if any."""
        if request_id != self.in_flight:
            return None  # one that was superseded; the newer one is still running
        self.in_flight = None
        return self.release()

    def release(self) -> ForwardRequest | None:
        request, self.held = self.held, None
        if request is not None:
            self.in_flight = request.request_id
        return request
