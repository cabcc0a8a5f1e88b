"""Drives the compute thread from the document: latest edit wins.

After every change of the document (debounced by a few milliseconds so that a
burst of edits becomes one request) the controller builds a ForwardRequest
from the architecture, the input image and the hand-set kernels, submits it,
and remembers its id. Results with another id are stale and dropped. When the
stack has an invalid layer, the layers before it are still computed so the
panels keep showing what is computable.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal

from cnnviz.core.analysis import Analysis
from cnnviz.core.architecture import Architecture
from cnnviz.core.jobs import (
    ComputeFailure,
    ForwardRequest,
    ForwardResult,
    TrainConfig,
    TrainRequest,
)
from cnnviz.core.layers.hooked import is_hooked_metadata
from cnnviz.qt.bridge.input_cache import InputCache
from cnnviz.qt.bridge.result_release import make_room
from cnnviz.qt.editor.document import Document
from cnnviz.qt.inputs.network_input import default_sample, load_image_file, pattern

log = logging.getLogger(__name__)

DEBOUNCE_MS = 8


@dataclass(frozen=True)
class ComputedView:
    """A result with the analysis of the whole stack it was computed for (the
    result covers its first `computed_layers` top-level entries: a block with
    everything inside it)."""

    result: ForwardResult
    analysis: Analysis
    architecture: Architecture
    # Top-level entries from this one on were not computed (an invalid layer stopped them).
    computed_layers: int
    # The document's weights file could not be used for this partial stack yet.
    weights_withheld: bool = False
    # The weights were learnt (a weights file, or a training in the app), not random.
    trained: bool = False


def computable_prefix(arch: Architecture, analysis: Analysis) -> Architecture:
    """The architecture cut before the top-level entry holding its first invalid
    layer: a block with an invalid layer or merge goes whole (a block cannot run
    without its merge), the entries before it are computed. Their flat indices
    are the same in the cut stack (pre-order), so results match the analysis."""
    first = analysis.first_error
    return arch if first is None else arch.with_layers(arch.layers[: first.top])


def flat_count(analysis: Analysis, top_entries: int) -> int:
    """How many flat entries (Analysis.layers) the first `top_entries` top-level
    entries hold, blocks with everything inside them."""
    top = analysis.top_level
    return top[top_entries].index if top_entries < len(top) else len(analysis.layers)


def keeps_weights(before: Analysis, after: Analysis) -> bool:
    """Whether a layer with weights in `after` is one of `before`'s (same type,
    parameters and input shape), whose weights the compute side then keeps. A
    stack that keeps none (another preset, File > New) is a new network."""
    old = [(info.layer, info.input_shape) for info in before.layers if info.params]
    return any((info.layer, info.input_shape) in old for info in after.layers if info.params)


def make_compute_thread(parent: QObject | None = None):
    """The real compute thread, or None (with a log line) when it is not available."""
    try:
        from cnnviz.qt.bridge.compute_thread import ComputeThread
    except ImportError as exc:
        log.warning("compute thread not available: %s", exc)
        return None
    return ComputeThread(parent)


class ComputeController(QObject):
    result_ready = Signal(object)  # ComputedView, only for the latest request
    failed = Signal(str)  # plain words for the status bar
    busy_changed = Signal(bool)
    device_changed = Signal(str)
    training_progress = Signal(object)
    training_finished = Signal(object)
    training_failed = Signal(str)  # why a training did not run or stopped, in plain words
    # A new document, or a stack keeping none of the weights of the last one.
    network_replaced = Signal()
    train_mode_changed = Signal(bool)  # training behaviour (dropout, batch norm) on or off

    def __init__(
        self,
        doc: Document,
        thread: Any = None,
        parent: QObject | None = None,
        *,
        thread_factory: Callable[[], Any] | None = None,
    ):
        """`thread_factory` makes the thread later (`ensure_thread`, or a training);
        until then forward requests wait instead of failing."""
        super().__init__(parent)
        self.doc = doc
        self.thread = None
        self._thread_factory = thread_factory
        self.device = "auto"
        self.train_mode = False
        # "Run anyway" after a refusal for lack of memory; a new network asks again.
        self.ignore_memory_limit = False
        self.latest: ComputedView | None = None
        self.trained_state: dict | None = None  # best weights of the last training
        self._request_id = 0
        self._train_id = 1_000_000  # a range of its own: never confused with forwards
        self._pending: dict[int, tuple] = {}
        self._weights_in_use: str | None = None  # the file of the last result
        # Weights learnt by a training in the app since the document's weights last
        # changed; a training started before that change no longer counts.
        self.trained_here = False
        self._training_counts = False
        self._default_image: tuple[tuple[int, int, int], np.ndarray] | None = None
        # An edit that keeps the input shape reuses the input of the last request.
        self._inputs = InputCache()
        # What may keep arrays of the shown result besides it (the built panels; the
        # window sets it): let go with it before a large forward (result_release).
        self.array_holders: Callable[[], list] = list
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(DEBOUNCE_MS)
        self._timer.timeout.connect(self.submit_now)
        for signal in (doc.changed, doc.image_changed, doc.weights_changed):
            signal.connect(self.schedule)
        doc.weights_changed.connect(self._weights_replaced)
        self._analysis = doc.analysis  # of the stack before the latest change
        doc.changed.connect(self._stack_changed)
        doc.reset_done.connect(self._new_network)
        doc.reset_done.connect(self._forget_model)
        doc.weights_provider = self.weights_snapshot  # what Save writes as the weights
        if thread is not None:
            self.attach(thread)

    def ensure_thread(self) -> None:
        """Make the thread now if it is still to come."""
        factory, self._thread_factory = self._thread_factory, None
        if self.thread is None and factory is not None:
            self.attach(factory())

    def attach(self, thread: Any) -> None:
        """Start using `thread` (a ComputeThread or a test double)."""
        self.thread, self._thread_factory = thread, None
        if thread is not None:
            thread.result_ready.connect(self._on_result)
            thread.failed.connect(self._on_failure)
            thread.busy_changed.connect(self.busy_changed)
            thread.device_changed.connect(self.device_changed)
            if hasattr(thread, "training_progress"):
                thread.training_progress.connect(self.training_progress)
            if hasattr(thread, "training_finished"):
                thread.training_finished.connect(self._on_training_finished)
            if hasattr(thread, "training_failed"):
                thread.training_failed.connect(self._on_training_failure)
            if hasattr(thread, "training_progress"):
                thread.training_progress.connect(self._on_training_progress)
        self.schedule()

    @property
    def request_id(self) -> int:
        return self._request_id

    def schedule(self) -> None:
        self._timer.start()

    # -- the input image -----------------------------------------------------------

    def default_image(self, channels: int) -> np.ndarray:
        """A bundled sample that suits the network, else a generated test card."""
        if self._default_image is None or self._default_image[0] != channels:
            sample = default_sample(channels)
            image = None
            if sample is not None:
                try:
                    image = load_image_file(str(sample.path))
                except ValueError as exc:
                    log.warning("default sample unusable: %s", exc)
            self._default_image = (channels, image if image is not None else pattern(224, 224))
        return self._default_image[1]

    def network_input(self, arch: Architecture) -> np.ndarray:
        shape = arch.input.as_tuple()
        image = self.doc.image if self.doc.image is not None else self.default_image(shape[0])
        return self._inputs.network_input(image, shape, self.doc.preprocessing)

    @property
    def input_label(self) -> str:
        """Where the input comes from, for the input panel's source line."""
        if self.doc.image is not None:
            return self.doc.image_label or "the loaded image"
        sample = default_sample(self.doc.architecture.input.channels)
        return f"the sample “{sample.title}” (no image loaded)" if sample else "a test pattern"

    # -- requests and results ------------------------------------------------------

    def submit_now(self) -> int | None:
        """Build and submit the request for the document as it is now."""
        self._timer.stop()
        if self.thread is None and self._thread_factory is not None:
            return None  # `ensure_thread` submits the document as it is then
        arch = self.doc.architecture
        computed = computable_prefix(arch, self.doc.analysis)
        # Hand-set kernels name flat indices: keep those of the computed entries.
        computed_flat = flat_count(self.doc.analysis, len(computed.layers))
        try:
            image = self.network_input(arch)
        except ValueError as exc:
            self.failed.emit(f"The input image cannot be used: {exc}")
            return None
        self._request_id += 1
        weights = self.doc.weights_path
        # A weights file is loaded (strictly) for a whole stack. Cut before an
        # invalid layer, a file not loaded yet would be refused: compute the
        # part with random weights until the stack is valid again.
        withheld = computed is not arch and weights is not None and weights != self._weights_in_use
        request = ForwardRequest(
            request_id=self._request_id,
            architecture=computed,
            image=image,
            seed=self.doc.seed,
            train_mode=self.train_mode,
            weights_path=None if withheld else weights,
            kernel_edits=tuple(e for e in self.doc.kernel_edits if e.layer < computed_flat),
            device=self.device,
            ignore_memory_limit=self.ignore_memory_limit,
        )
        # The whole stack's analysis: the panels say which layers were not computed.
        self._pending = {self._request_id: (self.doc.analysis, computed, request, withheld)}
        if self.thread is None:
            self.failed.emit("The compute engine is not available, so nothing can be computed.")
            return self._request_id
        make_room(
            self.latest,
            self.doc.analysis,
            train_mode=self.train_mode,
            ignore_memory_limit=self.ignore_memory_limit,
            holders=self.array_holders(),
        )
        self.thread.submit(request)
        return self._request_id

    def _on_result(self, result: ForwardResult) -> None:
        if result.request_id != self._request_id or result.request_id not in self._pending:
            return  # stale: a newer request is on its way
        analysis, arch, request, withheld = self._pending.pop(result.request_id)
        if not withheld:
            self._weights_in_use = request.weights_path
        trained = request.weights_path is not None or self.trained_here
        trained = trained or is_hooked_metadata(arch.metadata)  # the model's own weights
        self.latest = ComputedView(result, analysis, arch, len(arch.layers), withheld, trained)
        self.result_ready.emit(self.latest)

    def _on_failure(self, failure: ComputeFailure) -> None:
        if failure.request_id not in (self._request_id, -1, 0):
            return
        self._pending.pop(failure.request_id, None)
        self.failed.emit(failure.message)

    # -- settings that change every request ---------------------------------------

    def set_device(self, device: str) -> None:
        if device != self.device:
            self.device = device
            self.schedule()

    def set_train_mode(self, on: bool) -> None:
        if on != self.train_mode:
            self.train_mode = on
            self.train_mode_changed.emit(on)
            self.schedule()

    def run_anyway(self) -> None:
        """Compute this network even above the memory budget (until a new network)."""
        self.ignore_memory_limit = True
        self.schedule()

    def reseed(self) -> None:
        """New random weights for layers without loaded weights."""
        self.doc.set_seed(self.doc.seed + 1)

    # -- training ------------------------------------------------------------------

    def start_training(self, config: TrainConfig) -> bool:
        self.ensure_thread()
        if self.thread is None or not hasattr(self.thread, "start_training"):
            self.failed.emit("Training is not available in this build.")
            self.training_failed.emit("Training is not available in this build.")
            return False
        self._train_id += 1
        request = TrainRequest(
            self._train_id, self.doc.architecture, config, weights_path=self.doc.weights_path
        )
        self.thread.start_training(request)
        self._training_counts = True
        return True

    def _on_training_progress(self, progress) -> None:
        # At an epoch's end the compute thread has installed the weights learnt so
        # far: a fresh forward shows the feature maps as the network learns.
        if getattr(progress, "weights", None) is not None:
            self.doc.mark_weights_changed()  # unsaved work, in no file yet
            self.trained_here = self.trained_here or self._training_counts
            self.schedule()

    def _on_training_finished(self, result) -> None:
        if getattr(result, "state_dict", None):
            self.doc.mark_weights_changed()
            self.trained_state = result.state_dict
            self.trained_here = self.trained_here or self._training_counts
        self.training_finished.emit(result)
        self.schedule()  # the next forward shows the trained weights

    def _weights_replaced(self) -> None:
        # New weights (a file, random ones, a new document): what was trained before
        # is not what the network holds now.
        self.trained_here = False
        self._training_counts = False

    def _stack_changed(self) -> None:
        before, self._analysis = self._analysis, self.doc.analysis
        if before is not self._analysis and not keeps_weights(before, self._analysis):
            self._new_network()

    def _new_network(self) -> None:
        self.ignore_memory_limit = False
        self._weights_replaced()
        self.network_replaced.emit()

    def _on_training_failure(self, failure) -> None:
        self.training_failed.emit(getattr(failure, "message", str(failure)))

    # -- the weights the network holds ---------------------------------------------

    def weights_snapshot(self, known: int | None = None, timeout_s: float = 60.0):
        """(token, numpy state dict or None, fresh) of the network as it is now, from
        the compute thread (see ComputeThread.weights_snapshot); None when no
        compute thread holds a model. RuntimeError with a plain reason when they
        cannot be had."""
        thread = self.thread
        if thread is None or not hasattr(thread, "weights_snapshot"):
            return None
        return thread.weights_snapshot(self.snapshot_request(), known, timeout_s)

    def snapshot_request(self) -> ForwardRequest:
        """The request naming the document's model, for ForwardRunner.weights_snapshot
        (also asked without waiting: the training-mode lab); RuntimeError when the
        stack is invalid."""
        first = self.doc.analysis.first_error
        if first is not None:
            raise RuntimeError(f"{first.name} is invalid ({first.error})")
        return ForwardRequest(
            request_id=0,
            architecture=self.doc.architecture,
            image=np.zeros((0,), np.float32),  # no forward: only the model is wanted
            seed=self.doc.seed,
            weights_path=self.doc.weights_path,
            device=self.device,
        )

    def _forget_model(self) -> None:
        # A new document: its weights are its own, never what the last one had learnt.
        if self.thread is not None and hasattr(self.thread, "forget_model"):
            self.thread.forget_model()

    def cancel_training(self) -> None:
        if self.thread is not None and hasattr(self.thread, "cancel_training"):
            self.thread.cancel_training()

    def shutdown(self) -> None:
        self._thread_factory = None  # never start one after this
        self._timer.stop()
        if self.thread is not None:
            self.thread.shutdown()
