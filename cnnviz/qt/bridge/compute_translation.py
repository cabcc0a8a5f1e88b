"""The translation lab's job on the compute thread: one slot, the latest request wins.

A request travels as a mailbox call (``ComputeThread.put_call``), so it runs on
the compute thread between forwards, never beside them; a call whose request
was replaced meanwhile finds the slot empty and does nothing, and a running
job stops between layers when a newer request waits. It uses the forwards'
model (``ForwardRunner.model_for``: the same stack, seed, weights file, with
the hand-set kernels applied for the run), so it measures the network on screen.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal, Slot

from cnnviz.core.jobs import ComputeFailure
from cnnviz.core.translation_jobs import INPUT, TranslationRequest, TranslationResult
from cnnviz.qt.bridge.compute_failures import first_line, unexpected

log = logging.getLogger(__name__)


def compute_translation(runner: Any, request: TranslationRequest, should_cancel=None):
    """The result for `request` with the runner's model (on the compute thread)."""
    if runner is None:
        raise ValueError("the compute engine is not running")
    from cnnviz.compute.runner import kernel_edits_applied
    from cnnviz.compute.translation import shifted_forwards
    from cnnviz.core.analysis import analyze
    from cnnviz.core.translation import axis_shift

    analysis = analyze(request.architecture)
    if not analysis.valid:
        raise ValueError("the stack has an invalid layer; fix it to compare shifts")
    if request.image.shape != analysis.input_shape:
        raise ValueError("the input does not fit the network yet")
    model = runner.model_for(request)
    shift = axis_shift(request.pixels, request.axis)
    with kernel_edits_applied(model, request.kernel_edits, []):
        found = shifted_forwards(model, analysis, request.image, shift, should_cancel)
    if request.layer == INPUT:
        return TranslationResult(
            request.request_id, found.report, INPUT, found.image, found.shifted_image
        )
    try:
        index = analysis.at(request.layer).index
    except KeyError:
        raise ValueError(f"there is no layer {request.layer} in this stack") from None
    return TranslationResult(
        request.request_id,
        found.report,
        request.layer,
        found.originals[index],
        found.shifteds[index],
    )


class TranslationLane(QObject):
    """The GUI's side: `submit` on the GUI thread; `ready`/`failed` arrive on it."""

    ready = Signal(object)  # TranslationResult of the latest request
    failed = Signal(object)  # ComputeFailure of the latest request
    _computed = Signal(object)  # from the compute thread
    _refused = Signal(object)

    def __init__(
        self,
        put_call: Callable[[Callable[[Any], None]], None],
        parent: QObject | None = None,
        compute: Callable[..., Any] | None = None,
    ):
        """`put_call(function)` runs function(runner) on the compute thread;
        `compute(runner, request, should_cancel)` replaces the real job (tests)."""
        super().__init__(parent)
        self._put_call = put_call
        self._compute = compute or compute_translation
        self._lock = threading.Lock()
        self._waiting: TranslationRequest | None = None
        self.latest: int | None = None
        self.computed = 0  # requests the compute thread ran (tests)
        self._computed.connect(self._on_computed)
        self._refused.connect(self._on_refused)

    def submit(self, request: TranslationRequest) -> None:
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
        try:
            result = self._compute(runner, request, self._newer_waits)
        except Cancelled:
            return  # a newer request waits; its own call runs it
        except ValueError as exc:  # the user's to fix (ComputeError too): one line
            self._refused.emit(ComputeFailure(request.request_id, first_line(exc)))
        except Exception as exc:  # a bug must not end the thread
            log.exception("translation %s failed", request.request_id)
            self._refused.emit(ComputeFailure(request.request_id, unexpected(exc)))
        else:
            self._computed.emit(result)

    # -- back on the GUI thread --------------------------------------------------
    @Slot(object)
    def _on_computed(self, result: TranslationResult) -> None:
        if result.request_id == self.latest:
            self.ready.emit(result)

    @Slot(object)
    def _on_refused(self, failure: ComputeFailure) -> None:
        if failure.request_id == self.latest:
            self.failed.emit(failure)
