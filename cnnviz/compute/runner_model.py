"""The model a ForwardRequest runs on: built, kept, filled with weights, edited for one run.

``ModelHolder`` (the base of ForwardRunner) keeps the current model
(``ModelKeeper``: weights survive unrelated edits) and the weights file in
use: a changed file reloads, a new seed refills the layers the file fits,
trained weights can be installed, and the weights are copied for saving only
when they may have changed. ``kernel_edits_applied`` sets hand-made kernels
for one run and puts the model's own weights back. Problems the user can fix
are a ``ComputeError`` with one line of plain words.
"""

from __future__ import annotations

import contextlib
import logging
import weakref
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from cnnviz.compute.blocks import flat_modules
from cnnviz.compute.model import ModelKeeper, build_model
from cnnviz.compute.weights import (
    WeightsError,
    load_fitting_layers,
    load_into,
    read_weights,
    state_as_numpy,
)
from cnnviz.core.architecture import Architecture, ArchitectureError
from cnnviz.core.jobs import ForwardRequest, KernelEdit
from cnnviz.core.layers.hooked import READ_ONLY, is_hooked_metadata

log = logging.getLogger(__name__)


class ComputeError(ValueError):
    """A request that cannot be computed, for a reason the user can act on."""


def shape_text(shape) -> str:
    """A shape as people write it: 3×28×28."""
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
        given, needed = shape_text(kernel.shape), shape_text(weight.shape[1:])
        return f"the kernel is {given} but the layer needs {needed}"
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


class ModelHolder:
    """The current model and the weights in it, kept from one request to the next."""

    def __init__(self) -> None:
        self.keeper = ModelKeeper()
        self._weights_token: tuple | None = None
        # Which model the last weights snapshot was of: weights change only by
        # a new model (built, loaded, trained), never in place between requests.
        self._snapshot_of: weakref.ref | None = None
        self._snapshot_token = 0
        self._snapshot_fresh = False
        self._installed = False  # weights installed (trained) since the last file or reset

    def model_for(self, request: ForwardRequest) -> nn.Sequential:
        """The model for the request's stack, seed and weights file."""
        arch, seed = request.architecture, request.seed
        if is_hooked_metadata(arch.metadata):  # its live model runs (runner_hooked)
            raise ComputeError(READ_ONLY)
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

    def holds_model_for(self, request: ForwardRequest) -> bool:
        """Whether the current model is the request's: same stack, seed and weights file."""
        keeper = self.keeper
        return (
            keeper.model is not None
            and keeper.seed == request.seed
            and keeper.architecture == request.architecture
            and _file_token(request.weights_path) == self._weights_token
        )

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
