"""The hooked forward: every layer's output (and input) as numpy.

``record_forward`` runs the network layer by layer and can be cancelled
between layers (the loop, named failures and seeded dropout live in
cnnviz.compute.forward_loop; its names are importable from here too). Every
layer's values end up in float32 arrays that nothing in torch will write into
again, so no in-place layer and no later forward can change them. Three ways
to get there:

* small networks on the CPU record the output tensors (``layer_outputs``)
  and the result takes them over as numpy views (``gather``): a copy would
  cost a fifth of such a forward. Torch's version counters prove no in-place
  layer wrote into a recorded output; if one did, the forward runs again,
  cloning each output as it is made;
* on a GPU the recorded outputs are concatenated there and brought over in
  one transfer;
* large networks (sizes known from the analysis) copy each output into one
  result buffer the moment it is made and go on from that copy, so torch
  frees its own output at once: a layer computes with one fresh output
  alive beyond what is kept, and the peak stays near a plain forward that
  keeps every output (tests/benchmarks/bench_memory.py).

A failed allocation (torch's, numpy's, a GPU's) is ``OutOfMemory``, one line
naming the layer; cnnviz.core.memory estimates beforehand what a forward needs.

A model with blocks (cnnviz.compute.blocks) runs the same three ways along
its Plan: results are by flat index (the analysis' pre-order), and each
layer's input is what it received (the block's input for a path's first layer).

Each LayerActivation computes its statistics when first asked for them
(LayerStats.of): done here for every layer, they cost as much as the whole
forward of a small network, and most results are superseded unseen.
tests/benchmarks/bench_forward.py measures all this against plain torch.
"""

from __future__ import annotations

import functools
import logging
import math

import numpy as np
import torch
from torch import nn

from cnnviz.compute.blocks import BLOCK_MODULES, Plan
from cnnviz.compute.caches import BufferPool
from cnnviz.compute.forward_loop import (
    CancelCheck,
    Cancelled,
    LayerFailure,
    OutOfMemory,
    layer_outputs,
    one_layer,
    one_step,
    seeded,
)
from cnnviz.compute.layer_calls import block_plan, prepared
from cnnviz.core.jobs import LayerActivation

# What callers import from here; the loop's names among them (defined in forward_loop).
__all__ = [
    "COPY_AS_MADE_FROM",
    "CancelCheck",
    "Cancelled",
    "LayerFailure",
    "OutOfMemory",
    "class_probabilities",
    "gather",
    "layer_outputs",
    "output_index",
    "record_forward",
]

log = logging.getLogger(__name__)


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


def _signature(outputs: list[torch.Tensor]) -> tuple:
    """Each output's shape and whether it shares the previous one's data: what
    decides the layout (the full check only where the data pointers agree)."""
    pointers = [t.data_ptr() for t in outputs]
    return tuple(
        (
            t.shape,
            i > 0 and pointers[i] == pointers[i - 1] and _same_data(outputs[i - 1], t),
        )
        for i, t in enumerate(outputs)
    )


class _Segments:
    """Where each layer's values sit in the one buffer; re-labelling layers share."""

    def __init__(self) -> None:
        self.owner: list[int] = []  # layer → segment
        self.starts: list[int] = []
        self.sizes: list[int] = []
        self.shapes: list[tuple[int, ...]] = []  # per layer, without the batch axis

    @property
    def end(self) -> int:
        return self.starts[-1] + self.sizes[-1] if self.sizes else 0

    def add(self, shape: tuple[int, ...], shared: bool) -> int:
        """Record a layer output of batched ``shape``; its offset, or -1 if shared."""
        self.shapes.append(tuple(shape[1:]))
        if shared:
            self.owner.append(self.owner[-1])
            return -1
        start = self.end
        self.owner.append(len(self.starts))
        self.starts.append(start)
        self.sizes.append(math.prod(shape))
        return start


class _Layout:
    """A finished _Segments with what every forward of that layout reuses.

    Built once per layout (output shapes and which outputs share data) and
    cached: a small network's forward is well under a millisecond, and
    rebuilding this bookkeeping each time cost a sizeable part of it.
    """

    def __init__(self, seg: _Segments, unique: tuple[int, ...]) -> None:
        self.end = seg.end
        self.unique = unique  # layers that own a segment, in buffer order
        # Per layer: start, stop and shape of its values.
        self.places = tuple(
            (seg.starts[u], seg.starts[u] + seg.sizes[u], shape)
            for u, shape in zip(seg.owner, seg.shapes, strict=True)
        )


@functools.lru_cache(maxsize=64)
def _layout(signature: tuple) -> _Layout:
    """The layout for outputs of these (shape, shares-the-previous-output) pairs."""
    seg = _Segments()
    unique = [index for index, pair in enumerate(signature) if seg.add(*pair) >= 0]
    return _Layout(seg, tuple(unique))


def _assemble(
    model, buffer: np.ndarray, places, image, plan: Plan | None = None
) -> tuple[LayerActivation, ...]:
    """LayerActivations over ``buffer``: ``places`` gives each layer's (start, stop,
    shape); each input is the previous output (the plan's source inside blocks)."""
    arrays = [buffer[start:stop].reshape(shape) for start, stop, shape in places]
    if plan is not None:
        return _with_plan_inputs(plan, arrays, image)
    names = [type(module).__name__ for module in model]
    inputs = [image, *arrays[:-1]]
    return tuple(map(LayerActivation, range(len(arrays)), names, arrays, inputs))


def _with_plan_inputs(plan: Plan, arrays: list, image) -> tuple[LayerActivation, ...]:
    values = [image, *arrays]  # by slot
    inputs = [values[slot] for slot in plan.inputs]
    return tuple(map(LayerActivation, range(len(arrays)), plan.names, arrays, inputs))


def _take(pool: BufferPool | None, size: int) -> np.ndarray:
    return pool.take(size) if pool is not None else np.empty(size, np.float32)


def gather(
    model: nn.Sequential,
    outputs: list[torch.Tensor],
    image: np.ndarray,
    pool: BufferPool | None = None,
    plan: Plan | None = None,
) -> tuple[LayerActivation, ...]:
    """Recorded outputs as LayerActivations: float32 numpy arrays without the batch axis.

    The result takes the CPU tensors over (their arrays are views of them):
    the caller must not keep them, which ``record_forward`` does not. Outputs
    elsewhere are concatenated there and copied into one buffer from ``pool``.
    Each layer's ``input`` is the previous layer's output array (the image for
    layer 0), the same object, not another copy; inside a block (``plan``, outputs
    by flat index) the output of the layer before it in its path, or the block's input.
    """
    # is_cpu and dtype, not .device: a device object per tensor costs more.
    if all(t.is_cpu and t.dtype is torch.float32 for t in outputs):
        return _adopted(model, outputs, image, plan)
    layout = _layout(_signature(outputs))
    buffer = _take(pool, layout.end)
    if layout.unique:
        flats = [outputs[i].reshape(-1) for i in layout.unique]
        # Concatenated where they are (a GPU), then one transfer.
        torch.from_numpy(buffer).copy_(torch.cat(flats))
    return _assemble(model, buffer, layout.places, image, plan)


def _adopted(model, outputs: list[torch.Tensor], image, plan=None) -> tuple[LayerActivation, ...]:
    arrays = [t.numpy()[0] for t in outputs]
    if plan is not None:
        return _with_plan_inputs(plan, arrays, image)
    names = [type(m).__name__ for m in model]
    inputs = [image, *arrays[:-1]]  # each layer's input is the previous output
    return tuple(map(LayerActivation, range(len(arrays)), names, arrays, inputs))


# Values per forward from which copying each output as it is made pays off.
COPY_AS_MADE_FROM = 1 << 20


class _PlanMismatch(Exception):
    """An output larger than the analysis said, or a layer that wrote into its input:
    fall back to recording tensors (which copies where a layer writes in place)."""


def record_forward(
    model: nn.Sequential,
    x: torch.Tensor,
    image: np.ndarray,
    *,
    sizes: list[int] | None = None,
    pool: BufferPool | None = None,
    should_cancel: CancelCheck = None,
    seed: int | None = None,
) -> tuple[LayerActivation, ...]:
    """The forward with every layer's output, as LayerActivations.

    With ``sizes`` (each layer's output size, from the analysis) and large
    outputs, every output is copied into the result buffer the moment it is
    made, so torch can reuse its memory as in a plain forward (VGG-11 at 224:
    66 MB of activations) and no later in-place layer can reach the copy.
    Otherwise the outputs are recorded and handed over at the end (gather),
    which costs fewer calls per layer: what matters for small networks.
    """
    prep = prepared(model)
    calls, plan = prep
    count = len(model) if plan is None else len(plan.modules)
    if sizes is not None and len(sizes) == count and sum(sizes) >= COPY_AS_MADE_FROM:
        try:
            if plan is not None:
                return _copy_plan_as_made(model, plan, x, image, sizes, pool, should_cancel, seed)
            return _copy_as_made(model, calls, x, image, sizes, pool, should_cancel, seed)
        except _PlanMismatch as exc:
            log.warning("%s; recording the outputs instead", exc)
    outputs = layer_outputs(model, x, should_cancel=should_cancel, seed=seed, prep=prep)
    return gather(model, outputs, image, pool, plan)


def _copy_as_made(model, calls, x, image, sizes, pool, should_cancel, seed):
    capacity = sum(sizes)
    buffer = _result_buffer(pool, capacity)
    target = torch.from_numpy(buffer)
    seg = _Segments()
    previous, previous_version = None, -1
    with torch.no_grad(), seeded(x, seed):
        h = x
        for index, step in enumerate(calls):
            version = target._version
            h = one_layer(model, index, step, h, should_cancel)
            if target._version != version:
                raise _PlanMismatch(f"layer {index} wrote into its input, a recorded output")
            # Shared only if unchanged since copied: an in-place layer returns
            # its input tensor, but with new values (and a new version).
            shared = (
                previous is not None and h._version == previous_version and _same_data(previous, h)
            )
            start = seg.add(h.shape, shared)
            if start >= 0:
                if start + h.numel() > capacity:
                    raise _PlanMismatch("layer outputs differ from the analysis")
                kept = target[start : start + h.numel()].view(h.shape)
                kept.copy_(h)
                if h.is_cpu and h.dtype is torch.float32:
                    # Go on from the copy: torch frees its own output now, so a
                    # layer computes with one fresh output alive, not two.
                    h = kept
            previous, previous_version = h, h._version
    unique = tuple(seg.owner.index(u) for u in range(len(seg.starts)))
    return _assemble(model, buffer[: seg.end], _Layout(seg, unique).places, image)


def _result_buffer(pool: BufferPool | None, capacity: int) -> np.ndarray:
    try:
        return _take(pool, capacity)
    except MemoryError as exc:
        raise OutOfMemory("the result (every layer's output)", exc) from exc


def _copy_plan_as_made(model, plan: Plan, x, image, sizes, pool, should_cancel, seed):
    """_copy_as_made through blocks: each output (a merge's too) is copied into the
    buffer as it is made and the forward goes on from the copy; what no later
    step reads is let go at once (a block's input after its merge)."""
    capacity = sum(sizes)
    buffer = _result_buffer(pool, capacity)
    target = torch.from_numpy(buffer)
    places: list = [None] * len(plan.modules)
    values: list = [None] * (len(plan.modules) + 1)
    versions = [-1] * len(values)
    values[0], end = x, 0
    with torch.no_grad(), seeded(x, seed):
        for step in plan.steps:
            index, _, sources, is_merge, released = step
            version = target._version
            h = one_step(model, plan, step, values, should_cancel)
            if target._version != version:
                raise _PlanMismatch(f"layer {plan.addresses[index]} wrote into a recorded output")
            source = sources[0]
            if (
                not is_merge
                and source
                and h._version == versions[source]
                and _same_data(values[source], h)
            ):
                places[index] = (*places[source - 1][:2], tuple(h.shape[1:]))
            else:
                if end + h.numel() > capacity:
                    raise _PlanMismatch("layer outputs differ from the analysis")
                kept = target[end : end + h.numel()].view(h.shape)
                kept.copy_(h)
                places[index] = (end, end + h.numel(), tuple(h.shape[1:]))
                end += h.numel()
                if h.is_cpu and h.dtype is torch.float32:
                    h = kept  # go on from the copy: torch frees its own output now
            values[index + 1], versions[index + 1] = h, h._version
            for slot in released:
                values[slot] = None
    return _assemble(model, buffer[:end], places, image, plan)


def output_index(model: nn.Sequential) -> int:
    """The flat index of the network's output: the last layer, or the last block
    (whose merge runs after the layers inside it, which come after it in the list)."""
    last = next(reversed(model._modules.values()), None)  # cheaper than model[-1]
    if not isinstance(last, BLOCK_MODULES):
        return -1
    return block_plan(model).steps[-1][0]


def class_probabilities(last: LayerActivation) -> np.ndarray | None:
    """Softmax of the class scores when the last layer gives a vector of them.

    If the last layer already is a Softmax its output is returned as it is.
    Torch computes it, as a plain prediction would: right after a forward its
    code is warm, and numpy's would cost several times more.
    """
    scores = last.output
    if scores.ndim != 1 or scores.size < 2:
        return None
    if last.type == "Softmax":
        return scores.copy()
    probabilities = torch.softmax(torch.from_numpy(scores), 0).numpy()
    # NaN or infinite scores give no meaningful probabilities. (A Python sum:
    # a tensor reduction and .item() cost more than the softmax itself.)
    if not math.isfinite(sum(probabilities.tolist())):
        return None
    return probabilities
