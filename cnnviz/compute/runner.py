"""A ForwardRequest in, a ForwardResult out: the compute side of one request.

``ForwardRunner`` lives as long as the compute thread (or one CLI run) and
keeps the state that makes successive requests cheap and faithful to the
user's edits: the current model (``ModelKeeper``: weights survive unrelated
edits), the weights file in use, and cached copies of conv filters. It picks
the device (falling back to the CPU, with a notice, when the GPU runs out of
memory or the requested device is absent), applies teaching kernel edits for
the one run, and turns every problem the user can fix into a ``ComputeError``
with one line of plain words.

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
import weakref
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from cnnviz.compute.blocks import flat_modules
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
from cnnviz.compute.model import ModelKeeper, build_model
from cnnviz.compute.weights import (
    WeightsError,
    load_fitting_layers,
    load_into,
    read_weights,
    state_as_numpy,
)
from cnnviz.core.analysis import analyze
from cnnviz.core.architecture import Architecture, ArchitectureError
from cnnviz.core.jobs import ForwardRequest, ForwardResult, KernelEdit
from cnnviz.core.memory import BUDGET_ENV, MemoryEstimate, estimate

log = logging.getLogger(__name__)

_FLOAT32 = np.dtype(np.float32)


class ComputeError(ValueError):
    """A request that cannot be computed, for a reason the user can act on."""


class MemoryRefused(ComputeError):
    """The request needs more memory than the budget; nothing was allocated."""


# Below this a request is not checked against the budget: reading what the
# system has free costs more than a small forward (unless a budget is set).
CHECK_MEMORY_FROM = 64_000_000


def _shape(shape) -> str:
    return "×".join(str(s) for s in shape)


def _file_token(path: str | None) -> tuple | None:
    """Identifies a weights file *and its contents' version* (a retrained file reloads)."""
    if not path:
        return None
    try:
        stat = Path(path).stat()
    except OSError:
        raise ComputeError(f"{path}: no such weights file") from None
    return (str(Path(path).resolve()), stat.st_mtime_ns, stat.st_size)


def _edit_problem(modules: list[nn.Module], edit: KernelEdit) -> str | None:
    if not 0 <= edit.layer < len(modules) or not isinstance(modules[edit.layer], nn.Conv2d):
        return "it is not a Conv2d layer"
    weight = modules[edit.layer].weight
    if not 0 <= edit.out_channel < weight.shape[0]:
        return f"there is no output channel {edit.out_channel} (0 to {weight.shape[0] - 1})"
    kernel = np.asarray(edit.kernel)
    if kernel.shape != tuple(weight.shape[1:]):
        return (
            f"the kernel is {_shape(kernel.shape)} but the layer needs {_shape(weight.shape[1:])}"
        )
    if not np.all(np.isfinite(kernel)):
        return "the kernel holds a value that is not a finite number"
    return None


@contextlib.contextmanager
def kernel_edits_applied(model: nn.Sequential, edits, notices: list[str]) -> Iterator[None]:
    """Set hand-made kernels for one run, then put the model's own weights back."""
    if not edits:
        yield
        return
    saved: list[tuple[torch.Tensor, int, torch.Tensor]] = []
    modules = flat_modules(model)  # edit.layer is the flat index, inside blocks too
    with torch.no_grad():
        try:
            for edit in edits:
                problem = _edit_problem(modules, edit)
                if problem:
                    notices.append(f"kernel edit on layer {edit.layer} ignored: {problem}")
                    continue
                conv = modules[edit.layer]
                targets = [(conv.weight, np.asarray(edit.kernel))]
                if edit.bias is not None:
                    if conv.bias is None:
                        notices.append(f"layer {edit.layer} has no bias: the edit's bias ignored")
                    else:
                        targets.append((conv.bias, np.float32(edit.bias)))
                for tensor, value in targets:
                    saved.append((tensor, edit.out_channel, tensor[edit.out_channel].clone()))
                    tensor[edit.out_channel] = torch.as_tensor(value, dtype=tensor.dtype)
            yield
        finally:
            for tensor, channel, original in reversed(saved):
                tensor[channel] = original


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


class ForwardRunner:
    """Runs ForwardRequests one after another, keeping what they can share."""

    def __init__(self) -> None:
        self.keeper = ModelKeeper()
        self._filters = FilterCache()
        self._buffers = BufferPool()
        self._weights_token: tuple | None = None
        self._placed: tuple[nn.Module, torch.device] | None = None
        self._mode: tuple[nn.Module, bool] | None = None
        self._devices: dict[str, tuple[torch.device, str | None]] = {}
        self._names: dict[torch.device, str] = {}
        self._estimate: tuple[Architecture, bool, MemoryEstimate] | None = None
        # Which model the last weights snapshot was of: weights change only by
        # a new model (built, loaded, trained), never in place between requests.
        self._snapshot_of: weakref.ref | None = None
        self._snapshot_token = 0
        self._snapshot_fresh = False
        self._installed = False  # weights installed (trained) since the last file or reset

    # -- the model ---------------------------------------------------------
    def model_for(self, request: ForwardRequest) -> nn.Sequential:
        """The model for the request's stack, seed and weights file."""
        arch, seed = request.architecture, request.seed
        token = _file_token(request.weights_path)
        try:
            if token != self._weights_token:
                return self._switch_weights(arch, seed, request.weights_path, token)
            seed_changed = self.keeper.seed is not None and seed != self.keeper.seed
            model = self.keeper.update(arch, seed)
        except ArchitectureError as exc:
            raise ComputeError(str(exc)) from None
        if seed_changed and request.weights_path:
            self._refill_from_file(model, request.weights_path)
        return model

    def _switch_weights(self, arch, seed, path, token) -> nn.Sequential:
        # Build and fill a new model before adopting it: if the file does not
        # fit, the current model (perhaps trained) stays as it was.
        model = build_model(arch, seed)
        self._installed = False
        if path:
            try:
                load_into(model, read_weights(path), Path(path).name)
            except WeightsError as exc:
                raise ComputeError(str(exc)) from None
        self.keeper.adopt(arch, seed, model)
        self._weights_token = token
        return model

    def _refill_from_file(self, model: nn.Sequential, path: str) -> None:
        """After a new seed, the file's weights go back into every layer they fit."""
        try:
            load_fitting_layers(model, read_weights(path))
        except WeightsError as exc:
            log.warning("could not reapply %s: %s", path, exc)

    def install_state(self, arch: Architecture, state: Mapping[str, Any], seed: int = 0) -> None:
        """Make ``state`` (e.g. freshly trained weights for ``arch``) the current weights."""
        seed = self.keeper.seed if self.keeper.seed is not None else seed
        try:
            model = build_model(arch, seed)
            load_into(model, state, "trained weights")
        except (ArchitectureError, WeightsError) as exc:
            raise ComputeError(str(exc)) from None
        self.keeper.adopt(arch, seed, model)
        self._installed = True

    def forget(self) -> None:
        """Drop the current model: the next request builds or loads its own (a new document)."""
        self.keeper.reset()
        self._weights_token = None
        self._installed = False

    def weights_snapshot(
        self, request: ForwardRequest, known: int | None = None
    ) -> tuple[int, dict[str, np.ndarray] | None, bool]:
        """(token, state, fresh): the weights of the request's stack, for saving.

        The token changes whenever the weights may have; with ``known`` equal to
        it, nothing has changed and no copy is made (state None). ``fresh``: they
        are the request seed's random initialisation of this stack (no weights
        file, no training), which the project keeps as its seed: there is
        nothing to save (state None). Hand-set kernels are not in it:
        they are applied for each run only.
        """
        model = self.model_for(request)
        if self._snapshot_of is None or self._snapshot_of() is not model:
            self._snapshot_of = weakref.ref(model)
            self._snapshot_token += 1
            self._snapshot_fresh = self._is_fresh(model, request.architecture, request.seed)
        token, fresh = self._snapshot_token, self._snapshot_fresh
        if known == token or fresh:
            return token, None, fresh
        return token, state_as_numpy(model), False

    def _is_fresh(self, model: nn.Sequential, arch: Architecture, seed: int) -> bool:
        if self._weights_token is not None or self._installed:
            return False  # a file's or trained weights: never a new network's
        fresh = build_model(arch, seed).state_dict()
        state = model.state_dict()
        return state.keys() == fresh.keys() and all(
            torch.equal(value.cpu(), fresh[key]) for key, value in state.items()
        )

    # -- one request -------------------------------------------------------
    def run(self, request: ForwardRequest, should_cancel: CancelCheck = None) -> ForwardResult:
        """The result for ``request``; ComputeError for problems (MemoryRefused above
        the memory budget, before anything is allocated), Cancelled if superseded."""
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
        keeper = self.keeper
        same = (
            keeper.model is not None
            and keeper.seed == request.seed
            and keeper.architecture == request.architecture
            and _file_token(request.weights_path) == self._weights_token
        )
        return est.weights + est.filters if same else 0

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
            raise ComputeError(
                f"the image is {_shape(image.shape)} but the network takes {_shape(expected)} "
                "(channels × height × width)"
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
