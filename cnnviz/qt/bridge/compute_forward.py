"""The compute thread's forward job: run one ForwardRequest, report how it ended.

A forward that notices a newer request waiting stops (``Cancelled``) and
reports nothing but its end; a failure is one line; a result gets its
statistics and screen-sized pictures here, off the GUI thread.
"""

from __future__ import annotations

import logging
from typing import Any

from cnnviz.core.display_maps import prepare_result
from cnnviz.core.jobs import ComputeFailure, ForwardRequest
from cnnviz.qt.bridge.compute_failures import unexpected

log = logging.getLogger(__name__)


class ForwardJob:
    """Runs forwards for `worker` (its runner, mailbox and signals), counting them."""

    def __init__(self, worker: Any) -> None:
        self.worker = worker
        self.started = 0
        self.finished = 0
        self.cancelled = 0
        self._device = ""

    def run(self, request: ForwardRequest) -> None:
        worker = self.worker
        self.started += 1
        try:
            result = self._compute(request)
        finally:
            # Before the result: whoever waits for the result may submit at once,
            # and must find this forward ended (no longer holding the next).
            worker.forward_done.emit(request.request_id)
        if result is not None and result is not False:
            if result.device != self._device:
                self._device = result.device
                worker.device.emit(result.device)
            worker.result.emit(result)
        if result is not False:
            self.finished += 1

    def _compute(self, request: ForwardRequest):
        """The result; None after a failure (reported); False when cancelled."""
        from cnnviz.compute.forward import Cancelled
        from cnnviz.compute.runner import ComputeError

        worker = self.worker
        try:
            result = worker.runner.run(request, worker.mailbox.superseded)
        except Cancelled:
            self.cancelled += 1
            return False
        except ComputeError as exc:
            worker.failure.emit(ComputeFailure(request.request_id, str(exc)))
            return None
        except Exception as exc:  # a bug must not end the thread
            log.exception("forward %s failed", request.request_id)
            worker.failure.emit(ComputeFailure(request.request_id, unexpected(exc)))
            return None
        # Every pass over all values is done here, so that the GUI thread finds the
        # statistics and screen-sized pictures ready however large the result.
        prepare_result(result, worker.mailbox.superseded)
        return result
