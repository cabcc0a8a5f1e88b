"""What a forward will need in memory, worked out from the analysis before anything is built.

The hooked forward (cnnviz.compute.forward) holds, at its peak:

* every layer's weights and buffers, float32 (batch norm's running statistics
  too; its step counter is an int64);
* a copy of each Conv2d's weights and bias, which the result carries for the
  filters panel;
* every layer's output, kept for the panels (a Flatten, an Identity, and a Dropout outside
  training, hand on their input's values: those cost nothing); inside a
  block every layer's, and the block's merged output one more;
* the network input;
* while one layer computes: its fresh output before it is copied into the
  result, and the working memory torch's CPU kernels take for it (measured on
  torch 2.13's oneDNN kernels). The largest of these counts once: only one
  layer computes at a time.

What is particular to a layer type (the kernel's working memory, buffers
beyond the parameters, an output that is its input) is declared by the
type's module as a ``MemoryRule`` (layer_spec.py); this module adds it up.

``estimate`` adds these up per layer and names the layer that costs most.
``memory_budget`` is how much the run may take: three quarters of the memory
the system says is available (``/proc/meminfo`` MemAvailable, else psutil),
a fixed 2 GB when neither can tell, or ``CNNVIZ_MEMORY_BUDGET`` when set
(e.g. ``500MB``; tests use a tiny one). tests/core/test_memory.py checks the
parts against torch's own tensors, and tests/compute/test_memory_measured.py
the total against the peak resident memory of real forwards.
"""

from __future__ import annotations

import functools
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

from cnnviz.core.analysis import Analysis, LayerInfo
from cnnviz.core.catalogue import layer_type
from cnnviz.core.layers._common import FLOAT_BYTES

FLOAT = FLOAT_BYTES  # torch's default float32
BUDGET_ENV = "CNNVIZ_MEMORY_BUDGET"
# The share of the available memory one run may take: the rest is the system's
# and the other programs' (and the GUI's, which holds the result shown).
BUDGET_SHARE = 0.75
DEFAULT_LIMIT = 2_000_000_000  # when the system does not say what is available
# Result buffers up to this size are kept and reused by the compute side's pool
# (cnnviz.compute.caches.BufferPool): resident whole from a forward's start.
REUSED_BUFFER_UP_TO = 128 << 20
REFUSAL = "not enough free memory"
FAILURE = "out of memory"


@dataclass(frozen=True)
class LayerMemory:
    index: int
    type: str
    weights: int  # bytes of parameters and buffers
    output: int  # bytes of its output kept in the result; 0 when it shares its input's
    workspace: int  # bytes torch takes while computing it, beyond its output
    address: str = ""  # "3.body.0" inside a block (the index is the flat one)

    @property
    def transient(self) -> int:
        """What exists only while this layer computes: its fresh output before it
        is copied into the result (a shared one is not fresh) and the workspace."""
        return self.output + self.workspace


@dataclass(frozen=True)
class MemoryEstimate:
    layers: tuple[LayerMemory, ...]
    input: int  # the network input
    filters: int  # the copies of conv weights the result carries

    @property
    def weights(self) -> int:
        return sum(m.weights for m in self.layers)

    @property
    def outputs(self) -> int:
        return sum(m.output for m in self.layers)

    @functools.cached_property
    def _peak(self) -> tuple[int, LayerMemory | None]:
        """(bytes above the kept outputs at the peak, the layer computing then).

        A buffer the pool reuses (up to REUSED_BUFFER_UP_TO) is resident whole
        from the start: the largest transient comes on top of every output. A
        fresh one fills as the layers compute, so while layer i computes only
        the outputs before it are resident, plus its transient; but not all
        that torch frees goes back to the system at once (the allocator keeps
        some), and oneDNN's copies vary with the shapes. Measured peaks of
        fresh buffers lie between these two bounds, near the middle, which is
        what this takes (tests/compute/test_memory_measured.py).
        """
        if not self.layers:
            return 0, None
        outputs = self.outputs
        largest = max(self.layers, key=lambda m: m.transient)
        if outputs <= REUSED_BUFFER_UP_TO:
            return largest.transient, largest
        filling, before = 0, 0
        for m in self.layers:
            filling = max(filling, before + m.transient - outputs)
            before += m.output
        return (largest.transient + filling) // 2, largest

    @property
    def peak_layer(self) -> LayerMemory | None:
        """The layer whose computing takes the most memory beyond what is kept."""
        return self._peak[1]

    @property
    def working(self) -> int:
        """What the peak needs beyond the weights, copies, kept outputs and input."""
        return self._peak[0]

    @property
    def total(self) -> int:
        return self.weights + self.filters + self.outputs + self.working + self.input

    @staticmethod
    def _held_weights(m: LayerMemory) -> int:
        # A Conv2d's weights twice: the model's, and the copy the result carries.
        return m.weights * (2 if m.type == "Conv2d" else 1)

    def share(self, m: LayerMemory) -> int:
        """What layer ``m`` adds to the total."""
        working = self.working if m is self.peak_layer else 0
        return self._held_weights(m) + m.output + working

    @property
    def dominant(self) -> LayerMemory | None:
        """The layer that costs the most (None for an empty stack)."""
        return max(self.layers, key=self.share, default=None)

    def dominant_phrase(self) -> str:
        """E.g. "layer 14 Linear needs 2.4 GB of weights"."""
        m = self.dominant
        if m is None:
            return f"the input needs {format_bytes(self.input)}"
        share = self.share(m)
        head = f"layer {m.address or m.index} {m.type} needs {format_bytes(share)}"
        weights = self._held_weights(m)
        if weights >= 0.8 * share:
            return f"{head} of weights"
        working = self.working if m is self.peak_layer else 0
        parts = [
            (weights, "of weights"),
            (m.output, "for its output"),
            (working, "while it computes"),
        ]
        shown = ", ".join(f"{format_bytes(n)} {what}" for n, what in parts if n >= 0.05 * share)
        return f"{head} ({shown})"

    def breakdown(self) -> dict[str, int]:
        return {
            "weights": self.weights,
            "filter_copies": self.filters,
            "outputs": self.outputs,
            "working": self.working,
            "input": self.input,
        }

    def describe(self) -> str:
        """One line: the total and its parts."""
        return (
            f"about {format_bytes(self.total)} (weights {format_bytes(self.weights)}, "
            f"outputs {format_bytes(self.outputs)}, working {format_bytes(self.working)})"
        )


def format_bytes(count: float) -> str:
    """Decimal units, two or three figures: 812 kB, 66 MB, 2.4 GB."""
    for unit, size in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if count >= size * 0.95:
            value = count / size
            return f"{value:.1f} {unit}" if value < 10 else f"{value:.0f} {unit}"
    return f"{int(count)} bytes"


# -- per layer ---------------------------------------------------------------------


def _values(shape) -> int:
    return math.prod(shape)


def _weight_bytes(info: LayerInfo) -> int:
    buffers = layer_type(info.layer.type).memory.buffers
    extra = buffers(info.layer, info.input_shape) if buffers else 0
    return (info.weights + info.biases) * FLOAT + extra


def _shares_input(info: LayerInfo, train_mode: bool) -> bool:
    """Torch returns the input or a view of it: no new values to keep."""
    shares = layer_type(info.layer.type).memory.shares_input
    return bool(shares and shares(info.layer, train_mode))


def _workspace(info: LayerInfo, weight_bytes: int, train_mode: bool) -> int:
    workspace = layer_type(info.layer.type).memory.workspace
    if workspace is None:
        return 0
    return workspace(info.layer, info.input_shape, info.output_shape, weight_bytes, train_mode)


def layer_memory(info: LayerInfo, train_mode: bool = False) -> LayerMemory:
    """One computable layer's memory."""
    weights = _weight_bytes(info)
    shared = _shares_input(info, train_mode)
    output = 0 if shared else _values(info.output_shape) * FLOAT
    workspace = _workspace(info, weights, train_mode)
    return LayerMemory(info.index, info.layer.type, weights, output, workspace, info.address)


def estimate(analysis: Analysis, train_mode: bool = False) -> MemoryEstimate:
    """The memory of a hooked forward of the computable layers (those before an
    invalid one, which the app computes)."""
    layers = tuple(layer_memory(info, train_mode) for info in analysis.layers if info.computable)
    filters = sum(m.weights for m in layers if m.type == "Conv2d")
    return MemoryEstimate(layers, _values(analysis.input_shape) * FLOAT, filters)


def training_estimate(estimate: MemoryEstimate, batch_size: int, optimizer: str) -> int:
    """Rough bytes of a training run: weights, their gradients and the optimizer's
    state (Adam: two per weight, SGD with momentum: one), and for each image of
    a batch the outputs autograd keeps for the backward pass, about twice the
    forward's (inputs of convolutions, masks, max-pool indices, gradients)."""
    states = 2 if optimizer == "adam" else 1
    per_image = 2 * estimate.outputs + estimate.working + estimate.input
    return (2 + states) * estimate.weights + max(1, batch_size) * per_image


# -- the budget --------------------------------------------------------------------


@dataclass(frozen=True)
class MemoryBudget:
    limit: int  # bytes a run may take
    free: int | None  # what the system says is available; None when unknown or set by hand
    source: str  # where the limit comes from, for the message

    def allows(self, needed: int) -> bool:
        return needed <= self.limit

    def describe(self) -> str:
        if self.free is None:
            return f"the memory limit ({self.source}) is {format_bytes(self.limit)}"
        return (
            f"about {format_bytes(self.free)} is free (cnnviz may use {format_bytes(self.limit)})"
        )


_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]i?b?|b)?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "b": 1, "k": 1e3, "m": 1e6, "g": 1e9, "t": 1e12}


def parse_size(text: str) -> int:
    """'500MB' → 500_000_000, '2GiB' → 2·2³⁰, '1024' → 1024; ValueError if unreadable."""
    match = _SIZE.match(text)
    if not match:
        raise ValueError(f"{text!r} is not a size (e.g. 500MB, 2GB or a number of bytes)")
    unit = (match.group(2) or "").lower()
    binary = "i" in unit
    base = _UNITS[unit[:1]] if not binary else 1024 ** "bkmgt".index(unit[0])
    return int(float(match.group(1)) * base)


def available_memory(meminfo: Path = Path("/proc/meminfo")) -> int | None:
    """Bytes the system can give without swapping: MemAvailable, else psutil's."""
    try:
        with meminfo.open() as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        import psutil
    except ImportError:
        return None
    return int(psutil.virtual_memory().available)


def memory_budget(environ=None) -> MemoryBudget:
    """How much one run may take on this machine now (host memory)."""
    environ = os.environ if environ is None else environ
    text = environ.get(BUDGET_ENV)
    if text:
        try:
            return MemoryBudget(parse_size(text), None, BUDGET_ENV)
        except ValueError:
            pass  # an unreadable setting is ignored, as if it were not there
    free = available_memory()
    if free is None:
        return MemoryBudget(DEFAULT_LIMIT, None, "a fixed default")
    return MemoryBudget(int(free * BUDGET_SHARE), free, "available memory")


def refusal(
    estimate: MemoryEstimate,
    budget: MemoryBudget,
    needed: int | None = None,
    what: str = "the whole run",
) -> str:
    """The one line that refuses a run: what dominates, the whole, what is free."""
    needed = estimate.total if needed is None else needed
    return (
        f"{REFUSAL}: {estimate.dominant_phrase()}, {what} about "
        f"{format_bytes(needed)}; {budget.describe()}"
    )


def is_refusal(message: str) -> bool:
    """Whether a message is a refusal that 'run anyway' can override."""
    return message.startswith(REFUSAL)
