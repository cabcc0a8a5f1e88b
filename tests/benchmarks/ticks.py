"""A 5 ms QTimer on the GUI thread: the gaps between its ticks show freezes.

Shared by the responsiveness benchmarks (forwards, training)."""

from __future__ import annotations

import time

import numpy as np
from PySide6.QtCore import QTimer

TICK_MS = 5


class TickRecorder:
    """Timestamps of a 5 ms timer on the GUI thread."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self.timer = QTimer()
        self.timer.setInterval(TICK_MS)
        self.timer.timeout.connect(lambda: self.times.append(time.perf_counter()))

    def gaps_ms(self) -> np.ndarray:
        return np.diff(np.asarray(self.times)) * 1000.0

    def long_gaps(self, start: float, limit_ms: float = 30.0) -> list[str]:
        """'at 1.23 s: 45 ms' for each gap over the limit, timed from `start`."""
        times = np.asarray(self.times)
        gaps = np.diff(times) * 1000.0
        over = np.flatnonzero(gaps > limit_ms)
        return [f"at {times[i] - start:.2f} s: {gaps[i]:.0f} ms" for i in over]
