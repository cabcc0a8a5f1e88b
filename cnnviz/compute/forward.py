"""The hooked forward: every layer's output as numpy, with statistics.

``layer_outputs`` runs an ``nn.Sequential`` layer by layer (exactly what its
own ``forward`` does) and records every output tensor; between layers it asks
``should_cancel`` and stops with ``Cancelled`` (the compute thread's "latest
wins"). Recording keeps references instead of copying each output inside the
loop; torch's version counters then prove no in-place operation overwrote a
recorded output, and if one did, the forward is run again copying each output
as it is made. ``gather`` then copies every output into one float32 buffer in
a single pass (real copies that share no memory with torch) and computes the
per-layer statistics with one vectorised reduction per statistic over that
buffer, so the bookkeeping stays a small fraction of even a tiny network's
forward (tests/benchmarks/bench_forward.py measures it against plain torch).
"""

from __future__ import annotations

import contextlib
import math
import weakref
from collections.abc import Callable, Iterator

import numpy as np
import torch
from torch import nn
from torch.nn.modules import module as _module_globals

from cnnviz.compute.device import is_out_of_memory
from cnnviz.core.jobs import LayerActivation, LayerStats

CancelCheck = Callable[[], bool] | None


class Cancelled(Exception):
    """The forward was superseded by a newer request and stopped between layers."""


class LayerFailure(RuntimeError):
    """A layer raised while computing; the message names the layer."""

    def __init__(self, index: int, type_name: str, exc: BaseException):
        detail = str(exc).strip().splitlines()
        reason = detail[0] if detail else type(exc).__name__
        super().__init__(f"layer {index} {type_name} failed: {reason}")
        self.index = index


_GLOBAL_HOOKS = (
    "_global_forward_hooks",
    "_global_forward_pre_hooks",
    "_global_backward_hooks",
    "_global_backward_pre_hooks",
)


def _steps(model: nn.Sequential) -> list[Callable]:
    """What to call for each layer: its forward, or the module itself if hooked.

    Module.__call__ spends ~2 µs per layer finding that there are no hooks and
    then calls forward; calling forward directly is the same call, cheaper.
    """
    if torch._C._get_tracing_state() or any(
        getattr(_module_globals, name, True) for name in _GLOBAL_HOOKS
    ):
        return list(model)
    return [
        m
        if m._forward_hooks or m._forward_pre_hooks or m._backward_hooks or m._backward_pre_hooks
        else m.forward
        for m in model
    ]


def _run_layers(
    model: nn.Sequential, x: torch.Tensor, should_cancel: CancelCheck, copy_each: bool
) -> tuple[list[torch.Tensor], list[int]]:
    outputs: list[torch.Tensor] = []
    versions: list[int] = []
    h = x
    for index, step in enumerate(_steps(model)):
        if should_cancel is not None and should_cancel():
            raise Cancelled
        try:
            h = step(h)
        except Exception as exc:
            if is_out_of_memory(exc):
                raise
            raise LayerFailure(index, type(model[index]).__name__, exc) from exc
        # Copies are recorded, the original goes on: a later in-place layer
        # writes into its own input, never into what was recorded.
        recorded = h.clone() if copy_each else h
        outputs.append(recorded)
        versions.append(recorded._version)
    return outputs, versions


@contextlib.contextmanager
def _seeded(device: torch.device, seed: int | None) -> Iterator[None]:
    """Dropout draws from a stream seeded per request, leaving torch's own alone."""
    if seed is None:
        yield
        return
    devices = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


def layer_outputs(
    model: nn.Sequential,
    x: torch.Tensor,
    *,
    should_cancel: CancelCheck = None,
    seed: int | None = None,
) -> list[torch.Tensor]:
    """Every layer's output for the batch ``x``, none overwritten by a later layer.

    ``seed`` makes random layers (dropout in train mode) repeatable; it is
    needed for the rare second pass after an in-place layer.
    """
    with torch.no_grad():
        with _seeded(x.device, seed):
            outputs, versions = _run_layers(model, x, should_cancel, copy_each=False)
        if all(t._version == v for t, v in zip(outputs, versions, strict=True)):
            return outputs
        # A layer wrote into an earlier output (an in-place op): run again, copying.
        with _seeded(x.device, seed):
            outputs, _ = _run_layers(model, x, should_cancel, copy_each=True)
        return outputs


def _same_data(a: torch.Tensor, b: torch.Tensor) -> bool:
    """True when b holds exactly a's values in a's order (Flatten, eval Dropout)."""
    if a is b:
        return True
    return (
        a.data_ptr() == b.data_ptr()
        and a.numel() == b.numel()
        and a.dtype == b.dtype
        and a.is_contiguous()
        and b.is_contiguous()
    )


def _one_buffer(unique: list[torch.Tensor]) -> np.ndarray:
    """All outputs, flattened and concatenated into one new float32 CPU array.

    torch.cat is the single copy; it is cheaper than numpy's concatenate here
    because ``Tensor.numpy()`` is slow the first time on each fresh tensor.
    """
    flat = torch.cat([t.reshape(-1) for t in unique])
    if flat.device.type != "cpu" or flat.dtype != torch.float32:
        flat = flat.to("cpu", torch.float32)
    return flat.numpy()


def _segment_stats(buffer: np.ndarray, starts: list[int], sizes: list[int]) -> list[LayerStats]:
    """min, max, mean and fraction of zeros of each segment, one reduction each."""
    minimum = np.minimum.reduceat(buffer, starts).tolist()
    maximum = np.maximum.reduceat(buffer, starts).tolist()
    # numpy sums each segment pairwise: float32 keeps ~7 digits even for 10⁷ values.
    total = np.add.reduceat(buffer, starts).tolist()
    is_zero = buffer == 0
    return [
        LayerStats(
            minimum[i],
            maximum[i],
            total[i] / size,
            int(np.count_nonzero(is_zero[start : start + size])) / size,
        )
        for i, (start, size) in enumerate(zip(starts, sizes, strict=True))
    ]


def gather(
    model: nn.Sequential, outputs: list[torch.Tensor], image: np.ndarray
) -> tuple[LayerActivation, ...]:
    """The outputs as LayerActivations: float32 numpy copies without the batch axis.

    Each layer's ``input`` is the previous layer's output array (the image for
    layer 0), the same object, not another copy.
    """
    if not outputs:
        return ()
    # Layers that only re-label their input (Flatten, eval Dropout) share its
    # copy and statistics instead of copying the same values again.
    owner: list[int] = []
    unique: list[torch.Tensor] = []
    starts: list[int] = []
    sizes: list[int] = []
    previous_tensor = None
    for t in outputs:
        if previous_tensor is not None and _same_data(previous_tensor, t):
            owner.append(owner[-1])
        else:
            owner.append(len(unique))
            starts.append(starts[-1] + sizes[-1] if sizes else 0)
            sizes.append(t.numel())
            unique.append(t)
        previous_tensor = t
    buffer = _one_buffer(unique)
    stats = _segment_stats(buffer, starts, sizes)
    layers = []
    previous = image
    for index, (module, t, u) in enumerate(zip(model, outputs, owner, strict=True)):
        start = starts[u]
        array = buffer[start : start + sizes[u]].reshape(t.shape[1:])
        layers.append(LayerActivation(index, type(module).__name__, array, stats[u], previous))
        previous = array
    return tuple(layers)


def class_probabilities(model: nn.Sequential, last: np.ndarray) -> np.ndarray | None:
    """Softmax of the class scores when the last layer gives a vector of them.

    If the last layer already is a Softmax its output is returned as it is.
    """
    if last.ndim != 1 or last.size < 2:
        return None
    if isinstance(model[-1], nn.Softmax):
        return last.copy()
    scores = last.astype(np.float64)
    scores -= scores.max()
    np.exp(scores, out=scores)
    total = scores.sum()
    if not math.isfinite(total):  # NaN or inf scores: no meaningful probabilities
        return None
    scores /= total
    return scores.astype(np.float32)


class FilterCache:
    """Numpy copies of Conv2d weights, copied again only when a tensor changed.

    A tensor's ``_version`` grows with every in-place write (loading, kernel
    edits, restoring them), so an unchanged version means unchanged values;
    a weak reference makes sure the cached entry belongs to the same tensor.
    """

    def __init__(self) -> None:
        self._entries: dict[int, tuple[weakref.ref, int, np.ndarray]] = {}

    def _copy(self, tensor: torch.Tensor, fresh: dict) -> np.ndarray:
        key = id(tensor)
        entry = self._entries.get(key)
        if entry is not None and entry[0]() is tensor and entry[1] == tensor._version:
            array = entry[2]
        else:
            array = tensor.detach().to("cpu", torch.float32, copy=True).numpy()
        fresh[key] = (weakref.ref(tensor), tensor._version, array)
        return array

    def filters(self, model: nn.Sequential) -> dict[int, tuple[np.ndarray, np.ndarray | None]]:
        fresh: dict = {}
        out = {}
        for index, module in enumerate(model):
            if isinstance(module, nn.Conv2d):
                bias = None if module.bias is None else self._copy(module.bias, fresh)
                out[index] = (self._copy(module.weight, fresh), bias)
        self._entries = fresh
        return out
