"""A stand-in for the compute thread that records what it is asked (forwards and
trainings) and answers only when a test emits its signals."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal


class FakeCompute(QObject):
    """Stands in for the compute thread: records requests, answers when told to."""

    result_ready = Signal(object)
    failed = Signal(object)
    busy_changed = Signal(bool)
    device_changed = Signal(str)
    training_progress = Signal(object)
    training_finished = Signal(object)
    training_failed = Signal(object)

    def __init__(self):
        super().__init__()
        self.requests, self.trainings = [], []

    def submit(self, request) -> None:
        self.requests.append(request)

    def start_training(self, request) -> None:
        self.trainings.append(request)

    def shutdown(self) -> None:
        pass
