"""Memory on the compute side: the budget of a device, and allocation failures in one line.

The estimate itself is the core's (cnnviz.core.memory), from the analysis alone.
Here: how much a device may give (the host's budget for the CPU; for CUDA the
device's own free memory, which only torch can tell), and turning whatever an
allocation that still fails raises (torch's "DefaultCPUAllocator: can't
allocate memory", numpy's MemoryError, CUDA's OutOfMemoryError) into one line
of plain words, never a traceback.
"""

from __future__ import annotations

import os
import re

import torch

from cnnviz.core.memory import (
    BUDGET_ENV,
    FAILURE,
    MemoryBudget,
    MemoryEstimate,
    available_memory,
    format_bytes,
    memory_budget,
    refusal,
)

# The share of a GPU's free memory one run may take: nothing else of the
# desktop lives there, but the allocator's caching and cuDNN want some room.
GPU_SHARE = 0.9

_BYTES = re.compile(r"allocate (\d+) bytes")
_SIZED = re.compile(r"allocate ([\d.]+) ?([KMGT]i?B)", re.IGNORECASE)
_UNIT = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


def device_budget(device: torch.device) -> MemoryBudget:
    """How much a run may take on ``device`` (CNNVIZ_MEMORY_BUDGET wins everywhere)."""
    if device.type != "cuda" or os.environ.get(BUDGET_ENV):
        return memory_budget()
    try:
        free, _total = torch.cuda.mem_get_info(device)
    except (RuntimeError, AssertionError):
        return memory_budget()
    return MemoryBudget(int(free * GPU_SHARE), int(free), "free GPU memory")


def placement(
    est: MemoryEstimate, needed: int, device: torch.device
) -> tuple[torch.device, str | None, str | None]:
    """(the device to compute on, a notice, the refusal when nothing fits).

    ``needed`` is what the run allocates anew (the estimate less what is held
    already). On a GPU the weights and the layer computing live there, and the
    kept outputs come over to the host one by one; a network the GPU cannot
    hold runs on the CPU if the host can.
    """
    host = memory_budget()
    if device.type != "cuda":
        return device, None, None if host.allows(needed) else refusal(est, host, needed)
    gpu = device_budget(device)
    on_host = est.outputs + est.filters + est.input
    if gpu.allows(est.weights + est.working) and host.allows(on_host):
        return device, None, None
    if host.allows(needed):
        notice = f"the network does not fit in the GPU's memory ({gpu.describe()}): "
        return torch.device("cpu"), notice + "this run used the CPU", None
    return device, None, refusal(est, host, needed)


def is_allocation_failure(exc: BaseException) -> bool:
    """An allocation that failed: host or device memory ran out."""
    if isinstance(exc, MemoryError | torch.OutOfMemoryError):
        return True
    text = str(exc).lower()
    return isinstance(exc, RuntimeError) and (
        "can't allocate memory" in text or "out of memory" in text
    )


def requested_bytes(exc: BaseException) -> int | None:
    """How much the failed allocation asked for, when its message says."""
    text = str(exc)
    match = _BYTES.search(text)
    if match:
        return int(match.group(1))
    match = _SIZED.search(text)
    if match:
        unit = match.group(2)[0].lower()
        scale = _UNIT[unit] if "i" in match.group(2).lower() else 1000 ** ("kmgt".index(unit) + 1)
        return int(float(match.group(1)) * scale)
    return None


def failure_message(exc: BaseException, where: str | None = None, why: str | None = None) -> str:
    """One line for a failed allocation: where, how much it wanted, what is free,
    and (``why``) what the estimate says costs most."""
    wanted = requested_bytes(exc)
    asked = f"could not get {format_bytes(wanted)}" if wanted else "ran out"
    device = " on the GPU" if "cuda" in str(exc).lower() else ""
    free = available_memory()
    room = f" (about {format_bytes(free)} of memory is free)" if free is not None else ""
    reason = f"; {why}" if why else ""
    return f"{FAILURE}: {where or 'the run'} {asked}{device}{room}{reason}"
