"""What the forward runner keeps between requests: result buffers and filter copies."""

from __future__ import annotations

import sys
import weakref

import numpy as np
import torch
from torch import nn

from cnnviz.compute.blocks import flat_modules
from cnnviz.core.memory import REUSED_BUFFER_UP_TO


class BufferPool:
    """Float32 buffers for results, reused once no result refers to them any more.

    A fresh 66 MB buffer (VGG-11's activations) costs more in page faults than
    the copy into it. The GUI keeps only the latest result, so in steady state
    two buffers alternate: the one the GUI shows, and the one being filled.
    A buffer is reused only when nothing but this pool refers to it (every
    result array is a view of it, and a view holds a reference to it).

    Memory comes first, though: a free buffer that does not fit is let go
    before a new one is made (never two sizes resident at once), and buffers
    above ``retain_up_to`` values are never kept: for them the page faults
    are a small part of the forward, and a kept one would hold that much
    memory while idle and alongside the next (tests/benchmarks/bench_memory.py).
    """

    def __init__(self, keep: int = 2, retain_up_to: int = REUSED_BUFFER_UP_TO // 4) -> None:
        self._buffers: list[np.ndarray] = []
        self._keep = keep
        self._retain_up_to = retain_up_to  # values (float32), as the memory estimate assumes
        # What getrefcount reports for a buffer only the pool holds (the list's
        # reference plus the interpreter's own), measured rather than assumed.
        self._buffers.append(np.empty(0, np.float32))
        self._alone = self._references(0)
        self._buffers.clear()

    def _references(self, index: int) -> int:
        return sys.getrefcount(self._buffers[index])

    def _free(self, index: int) -> bool:
        return self._references(index) == self._alone

    def take(self, size: int) -> np.ndarray:
        """A float32 array of ``size`` values that no earlier result still uses."""
        # Indices, not the arrays: a loop variable would be one more reference.
        for index in range(len(self._buffers)):
            # Not much larger than needed: a small net must not pin a big buffer.
            fits = size <= self._buffers[index].size <= 2 * size + 65536
            if fits and self._free(index):
                return self._buffers[index][:size]
        # Nothing free fits: let the free ones go before allocating anew.
        for index in reversed([i for i in range(len(self._buffers)) if self._free(i)]):
            del self._buffers[index]
        fresh = np.empty(size, np.float32)
        if size > self._retain_up_to:
            return fresh
        self._buffers.append(fresh)
        if len(self._buffers) > self._keep:
            self._buffers.pop(0)  # all in use: stop tracking the oldest
        return fresh[:size]

    def __len__(self) -> int:
        return len(self._buffers)


class FilterCache:
    """Numpy copies of Conv2d weights, copied again only when a tensor changed.

    A tensor's ``_version`` grows with every in-place write (loading, kernel
    edits, restoring them), so an unchanged version means unchanged values;
    a weak reference makes sure the cached entry belongs to the same tensor.
    """

    def __init__(self) -> None:
        self._entries: dict[int, tuple[weakref.ref, int, np.ndarray]] = {}
        self._convs: tuple[nn.Sequential, list, list] | None = None
        self._last: tuple[nn.Sequential, list, dict] | None = None

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
        tensors, every_tensor = self._conv_tensors(model)
        versions = [t._version for t in every_tensor]
        if self._last is not None and self._last[0] is model and self._last[1] == versions:
            return dict(self._last[2])  # nothing was written since: the same copies
        fresh: dict = {}
        out = {}
        for index, weight, bias in tensors:
            out[index] = (
                self._copy(weight, fresh),
                None if bias is None else self._copy(bias, fresh),
            )
        self._entries = fresh
        self._last = (model, versions, out)
        return dict(out)

    def _conv_tensors(self, model: nn.Sequential) -> tuple[list, list[torch.Tensor]]:
        """(flat index, weight, bias) of each Conv2d, inside blocks too, and all
        those tensors in one list."""
        if self._convs is None or self._convs[0] is not model:
            convs = [
                (index, module.weight, module.bias)
                for index, module in enumerate(flat_modules(model))
                if isinstance(module, nn.Conv2d)
            ]
            every_tensor = [t for _, w, b in convs for t in (w, b) if t is not None]
            self._convs = (model, convs, every_tensor)
        return self._convs[1], self._convs[2]
