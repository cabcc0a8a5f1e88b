"""A stand-in for the compute thread that records what it is asked (forwards and
trainings) and answers only when a test emits its signals or calls `answer`."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject, Signal

from cnnviz.core.analysis import analyze
from cnnviz.core.jobs import ForwardResult, LayerActivation


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

    def answer(self, request, elapsed_ms: float = 12.5) -> ForwardResult:
        """Emit a result for `request`: each layer's output filled with its index."""
        layers = []
        for info in analyze(request.architecture).layers:
            output = np.full(info.output_shape, float(info.index), np.float32)
            layers.append(LayerActivation(info.index, info.layer.type, output))
        result = ForwardResult(
            request.request_id, request.image, tuple(layers), device="Fake GPU",
            elapsed_ms=elapsed_ms,
        )  # fmt: skip
        self.result_ready.emit(result)
        return result

    def start_training(self, request) -> None:
        self.trainings.append(request)

    def shutdown(self) -> None:
        pass
