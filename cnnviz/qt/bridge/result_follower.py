"""What the Why panel and the labs share: ask a question of the latest forward result.

A follower asks again, debounced like forwards, whenever a new forward result
arrives (an edit, another image, a training epoch) or the person changes the
choice, but only while its panel can be seen (`set_active`): a hidden panel
costs nothing and catches up when shown. The same question on the same result
is not asked twice, and a result whose arrays were released for a large
forward (result_release) is skipped: the next result comes.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, QTimer

from cnnviz.qt.bridge.controller import DEBOUNCE_MS, ComputeController, ComputedView
from cnnviz.qt.bridge.result_release import is_stand_in


class ResultFollower(QObject):
    """Subclasses define `submit_now`, which starts with `_next_question()`."""

    def __init__(self, compute: ComputeController, choice: Any, first_id: int, parent=None):
        super().__init__(parent)
        self.compute = compute
        self.choice = choice
        self.active = False
        self.latest_id: int | None = None
        self._request_id = first_id
        self._asked: tuple[ComputedView, Any] | None = None  # what `latest_id` asks
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(DEBOUNCE_MS)
        self._timer.timeout.connect(self.submit_now)
        compute.result_ready.connect(self._new_result)

    def set_choice(self, choice: Any) -> None:
        if choice != self.choice:
            self.choice = choice
            self._timer.start()

    def set_active(self, active: bool) -> None:
        """The panel can be seen (or not): only then is anything computed."""
        self.active = bool(active)
        if self.active:
            self._timer.start()

    def _new_result(self, _view: ComputedView) -> None:
        self._timer.start()

    def _next_question(self) -> tuple[ComputedView, Any] | None:
        """(latest result, choice) to ask now, or None: hidden, nothing to ask of,
        asked already, or the result's arrays released."""
        self._timer.stop()
        view, choice = self.compute.latest, self.choice
        if not self.active or view is None or choice is None:
            return None
        if self._asked is not None and self._asked[0] is view and self._asked[1] == choice:
            return None  # the same question: its answer is on its way or shown
        if is_stand_in(view.result.input):
            return None  # released for a large forward (result_release): its result comes
        self._asked = (view, choice)
        return view, choice

    def _next_id(self) -> int:
        self._request_id += 1
        return self._request_id

    def submit_now(self) -> int | None:  # pragma: no cover - every subclass defines it
        raise NotImplementedError
