"""A ForwardRequest in, a ForwardResult out: the compute side of one request.

``ForwardRunner`` lives as long as the compute thread (or one CLI run) and
keeps the state that makes successive requests cheap and faithful to the
user's edits: the current model and the weights in it (its base,
cnnviz.compute.runner_model.ModelHolder, whose names are importable from here
too), and cached copies of conv filters. It picks the device (falling back to
the CPU, with a notice, when the GPU runs out of memory or the requested
device is absent), applies teaching kernel edits for the one run, and turns
every problem the user can fix into a ``ComputeError`` with one line of plain
words.

Before building or running anything it estimates the memory the request needs
(cnnviz.core.memory, from the analysis) and refuses above the budget with
``MemoryRefused``, unless the request says to run anyway; an allocation that
still fails is a ComputeError of one line too, never a traceback.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Iterator

import numpy as np
import torch
from torch import nn

from cnnviz.compute.caches import BufferPool, FilterCache
from cnnviz.compute.device import (
    DeviceError,
    device_name,
    fallback_notice,
    is_out_of_memory,
    release_memory,
    resolve_device,
)
from cnnviz.compute.forward import (
    CancelCheck,
    LayerFailure,
    OutOfMemory,
    class_probabilities,
    output_index,
    record_forward,
)
from cnnviz.compute.memory_check import failure_message, is_allocation_failure, placement
from cnnviz.compute.runner_hooked import HookedRunner, is_hooked
from cnnviz.compute.runner_model import (
    ComputeError,
    ModelHolder,
    kernel_edits_applied,
    shape_text,
)
from cnnviz.core.analysis import analyze
from cnnviz.core.architecture import Architecture
from cnnviz.core.jobs import ForwardRequest, ForwardResult
from cnnviz.core.memory import BUDGET_ENV, MemoryEstimate, estimate

# What callers import from here; the model side's names among them (runner_model).
__all__ = [
    "CHECK_MEMORY_FROM",
    "ComputeError",
    "ForwardRunner",
    "MemoryRefused",
    "ModelHolder",
    "kernel_edits_applied",
]

log = logging.getLogger(__name__)

_FLOAT32 = np.dtype(np.float32)


class MemoryRefused(ComputeError):
    """The request needs more memory than the budget; nothing was allocated."""


# Below this a request is not checked against the budget: reading what the
# system has free costs more than a small forward (unless a budget is set).
CHECK_MEMORY_FROM = 64_000_000


_NOTHING = contextlib.nullcontext()


def _when(condition, manager, *args):
    """``manager(*args)`` if ``condition``, else a context that does nothing.

    On the usual path (no kernel edits, eval mode) this skips entering a
    generator-based context manager: a few microseconds of a small forward.
    """
    return manager(*args) if condition else _NOTHING


@contextlib.contextmanager
def _buffers_kept(model: nn.Module) -> Iterator[None]:
    """Train-mode batch norm updates its running statistics; a look must not."""
    saved = [b.clone() for b in model.buffers()]
    try:
        yield
    finally:
        with torch.no_grad():
            for buffer, value in zip(model.buffers(), saved, strict=True):
                buffer.copy_(value)


class ForwardRunner(ModelHolder):
    """Runs ForwardRequests one after another, keeping what they can share."""

    def __init__(self) -> None:
        super().__init__()
        self._filters = FilterCache()
        self._buffers = BufferPool()
        self._placed: tuple[nn.Module, torch.device] | None = None
        self._mode: tuple[nn.Module, bool] | None = None
        self._devices: dict[str, tuple[torch.device, str | None]] = {}
        self._names: dict[torch.device, str] = {}
        self._estimate: tuple[Architecture, bool, MemoryEstimate] | None = None
        self._hooked: HookedRunner | None = None

    # -- one request -------------------------------------------------------
    def run(self, request: ForwardRequest, should_cancel: CancelCheck = None) -> ForwardResult:
        """The result for ``request``; ComputeError for problems (MemoryRefused above
        the memory budget, before anything is allocated), Cancelled if superseded."""
        if is_hooked(request.architecture):  # a read-only view: its live model runs
            if self._hooked is None:
                self._hooked = HookedRunner()
            return self._hooked.run(request)
        try:
            return self._run(request, should_cancel)
        except OutOfMemory as exc:
            raise ComputeError(str(exc)) from None
        except (MemoryError, RuntimeError) as exc:
            if not is_allocation_failure(exc):
                raise
            raise ComputeError(failure_message(exc, why=self._why(request))) from None

    def _run(self, request: ForwardRequest, should_cancel: CancelCheck) -> ForwardResult:
        started = time.perf_counter()
        notices: list[str] = []
        device = self._device(request.device, notices)
        device = self._check_memory(request, device, notices)
        model = self.model_for(request)
        image = self._checked_image(request)
        edits = request.kernel_edits
        with _when(edits, kernel_edits_applied, model, edits, notices):
            filters = self._filters.filters(model)
            layers, used = self._compute(model, image, request, device, should_cancel, notices)
        probabilities = class_probabilities(layers[output_index(model)]) if layers else None
        return ForwardResult(
            request_id=request.request_id,
            input=image,
            layers=layers,
            filters=filters,
            probabilities=probabilities,
            device=self._name(used),
            elapsed_ms=(time.perf_counter() - started) * 1000.0,
            notice="; ".join(notices) or None,
        )

    # -- memory ------------------------------------------------------------
    def memory_estimate(self, arch: Architecture, train_mode: bool = False) -> MemoryEstimate:
        """The core's estimate for ``arch``, kept while the same stack comes again."""
        cached = self._estimate
        # Identity first: the app sends the same stack object until it is edited.
        if (
            cached is not None
            and cached[1] == train_mode
            and (cached[0] is arch or cached[0] == arch)
        ):
            return cached[2]
        result = estimate(analyze(arch), train_mode)
        self._estimate = (arch, train_mode, result)
        return result

    def _held(self, request: ForwardRequest, est: MemoryEstimate) -> int:
        """What the request reuses instead of allocating: the current model's weights
        and their filter copies, when stack, seed and weights file are unchanged."""
        return est.weights + est.filters if self.holds_model_for(request) else 0

    def _check_memory(self, request: ForwardRequest, device, notices) -> torch.device:
        """The device to compute on; MemoryRefused when the request does not fit."""
        est = self.memory_estimate(request.architecture, request.train_mode)
        if request.ignore_memory_limit:
            return device
        if est.total < CHECK_MEMORY_FROM and not os.environ.get(BUDGET_ENV):
            return device
        device, notice, refused = placement(est, est.total - self._held(request, est), device)
        if refused:
            raise MemoryRefused(refused)
        if notice:
            notices.append(notice)
        return device

    def _why(self, request: ForwardRequest) -> str | None:
        try:
            return self.memory_estimate(request.architecture, request.train_mode).dominant_phrase()
        except Exception:  # an unusable stack says so elsewhere
            return None

    def _device(self, preference: str, notices: list[str]) -> torch.device:
        # Devices do not come and go while the app runs: resolve each choice once.
        if preference not in self._devices:
            try:
                self._devices[preference] = (resolve_device(preference), None)
            except DeviceError as exc:
                self._devices[preference] = (torch.device("cpu"), f"{exc}: computing on the CPU")
        device, notice = self._devices[preference]
        if notice:
            notices.append(notice)
        return device

    def _name(self, device: torch.device) -> str:
        if device not in self._names:
            self._names[device] = device_name(device)
        return self._names[device]

    def _checked_image(self, request: ForwardRequest) -> np.ndarray:
        image = request.image
        # dtype against a dtype object: against np.float32 numpy converts it first.
        # Read-only arrays are copied: torch warns on wrapping one (x is a view).
        if not isinstance(image, np.ndarray) or image.dtype != _FLOAT32:
            image = np.ascontiguousarray(image, dtype=np.float32)
        elif not (image.flags.c_contiguous and image.flags.writeable):
            image = np.array(image, dtype=np.float32, order="C")
        expected = request.architecture.input.as_tuple()
        if image.shape != expected:
            got, takes = shape_text(image.shape), shape_text(expected)
            raise ComputeError(
                f"the image is {got} but the network takes {takes} (channels × height × width)"
            )
        return image

    def _compute(self, model, image, request, device, should_cancel, notices):
        try:
            return self._forward_on(model, image, request, device, should_cancel), device
        except Exception as exc:
            if device.type == "cpu" or not is_out_of_memory(exc):
                raise
            log.warning("%s out of memory; running this request on the CPU", device_name(device))
        release_memory(device)
        notices.append(fallback_notice(device))
        cpu = torch.device("cpu")
        return self._forward_on(model, image, request, cpu, should_cancel), cpu

    def _place(self, model: nn.Sequential, device: torch.device, train_mode: bool) -> None:
        # Module.to and Module.train walk every tensor: skip them when nothing changed.
        if self._placed != (model, device):
            model.to(device)
            self._placed = (model, device)
        if self._mode != (model, train_mode):
            model.train(train_mode)
            self._mode = (model, train_mode)

    def _forward_on(self, model, image, request, device, should_cancel):
        self._place(model, device, request.train_mode)
        # No copy of the image: build_model makes every layer out of place,
        # so the forward only reads x (and a copy is a twentieth of a small one).
        x = torch.from_numpy(image).unsqueeze(0)
        if device.type != "cpu":
            x = x.to(device)
        sizes = self.keeper.output_sizes if model is self.keeper.model else None
        train = request.train_mode
        try:
            with _when(train, _buffers_kept, model):
                return record_forward(
                    model,
                    x,
                    image,
                    sizes=sizes,
                    pool=self._buffers,
                    should_cancel=should_cancel,
                    seed=request.seed if train else None,
                )
        except LayerFailure as exc:
            raise ComputeError(str(exc)) from None
