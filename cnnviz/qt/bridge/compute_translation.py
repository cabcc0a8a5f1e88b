"""The translation lab's job on the compute thread: one slot, the latest request wins.

A request travels as a mailbox call (``ComputeThread.put_call``), so it runs on
the compute thread between forwards, never beside them; a call whose request
was replaced meanwhile finds the slot empty and does nothing, and a running
job stops between layers when a newer request waits. It uses the forwards'
model (``ForwardRunner.model_for``: the same stack, seed, weights file, with
the hand-set kernels applied for the run), so it measures the network on screen.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject

from cnnviz.core.translation_jobs import INPUT, TranslationRequest, TranslationResult
from cnnviz.qt.bridge.compute_lane import LatestLane

INVALID_STACK = "the stack has an invalid layer; fix it to compare shifts"


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
        raise ValueError(INVALID_STACK)
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


class TranslationLane(LatestLane):
    """The GUI's side: `submit` on the GUI thread; `ready` (a TranslationResult)
    or `failed` arrive on it. A running job stops between layers when a newer
    request waits."""

    def __init__(
        self,
        put_call: Callable[[Callable[[Any], None]], None],
        parent: QObject | None = None,
        compute: Callable[..., Any] | None = None,
    ):
        """`compute(runner, request, should_cancel)` replaces the real job (tests)."""
        super().__init__(
            put_call, compute or compute_translation, "translation", parent, cancellable=True
        )
