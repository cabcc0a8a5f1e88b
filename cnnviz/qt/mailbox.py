"""The compute thread's mailbox: one slot for the newest forward, one for training.

The GUI thread puts requests in; the worker thread takes them out. A forward
put in replaces one that has not started (latest wins), and ``superseded``
tells a running forward, between layers, that a newer one is waiting so it
may stop. Plain ``threading``: no Qt, so it is tested on its own
(tests/qt/test_mailbox.py).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from cnnviz.core.jobs import ForwardRequest, TrainRequest


class Mailbox:
    """One slot for the newest forward, one for a training request, and flags."""

    def __init__(self) -> None:
        self.condition = threading.Condition()
        self.forward: ForwardRequest | None = None
        self.training: TrainRequest | None = None
        self.training_cancelled = False
        self.stopping = False

    def put_forward(self, request: ForwardRequest) -> None:
        with self.condition:
            self.forward = request  # replaces an unstarted one: latest wins
            self.condition.notify()

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

    def wait_for_job(self, on_idle: Callable[[], None]) -> ForwardRequest | TrainRequest | None:
        """The next job (forwards first: they are quick and someone is looking), or None to stop."""
        with self.condition:
            if not (self.stopping or self.forward or self.training):
                on_idle()
            while not (self.stopping or self.forward or self.training):
                self.condition.wait()
            if self.stopping:
                return None
            if self.forward is not None:
                request, self.forward = self.forward, None
                return request
            request, self.training = self.training, None
            self.training_cancelled = False
            return request
