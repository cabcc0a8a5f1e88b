"""Where torch computes: CUDA, then Apple MPS, then the CPU.

``resolve_device("auto")`` picks the best device present; an explicit
``"cpu"``, ``"cuda"`` (or ``"cuda:1"``) or ``"mps"`` from ``--device`` or the
settings overrides it, and a device that is not there is a ``DeviceError``
with a sentence the user can act on. ``device_name`` is what the status bar
shows. A forward that runs out of GPU memory is retried on the CPU by the
caller (``is_out_of_memory`` recognises the error; ``release_memory`` frees
what the failed attempt cached).
"""

from __future__ import annotations

import logging

import torch

log = logging.getLogger(__name__)

DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")
CPU_FALLBACK_NOTICE = "{name} ran out of memory: this run used the CPU"


class DeviceError(ValueError):
    """The requested device cannot be used here; the message says why."""


def mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def resolve_device(preference: str | None = "auto") -> torch.device:
    """The torch device for a preference: auto, cpu, cuda, cuda:N or mps."""
    choice = (preference or "auto").strip().lower()
    if choice == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if choice == "cpu":
        return torch.device("cpu")
    if choice == "mps":
        if not mps_available():
            raise DeviceError("Apple MPS is not available here (it needs a Mac with Apple silicon)")
        return torch.device("mps")
    if choice == "cuda" or choice.startswith("cuda:"):
        return _cuda_device(choice)
    raise DeviceError(f"unknown device {preference!r} (choose {', '.join(DEVICE_CHOICES)})")


def _cuda_device(choice: str) -> torch.device:
    if not torch.cuda.is_available():
        reason = (
            "this torch build has no CUDA support"
            if torch.version.cuda is None
            else "no NVIDIA GPU was found"
        )
        raise DeviceError(f"CUDA is not available here ({reason}); use --device cpu or auto")
    try:
        device = torch.device(choice)
    except RuntimeError:
        raise DeviceError(f"bad CUDA device {choice!r} (e.g. cuda or cuda:0)") from None
    count = torch.cuda.device_count()
    if device.index is not None and device.index >= count:
        raise DeviceError(f"there is no {choice} (this machine has {count} CUDA device(s))")
    return device


def device_name(device: torch.device | str) -> str:
    """Human-readable: ``CPU``, ``CUDA: NVIDIA H100 80GB HBM3`` or ``Apple MPS``."""
    device = torch.device(device)
    if device.type == "cuda":
        try:
            return f"CUDA: {torch.cuda.get_device_name(device)}"
        except (RuntimeError, AssertionError):
            return "CUDA"
    if device.type == "mps":
        return "Apple MPS"
    return "CPU"


def is_out_of_memory(exc: BaseException) -> bool:
    """True for torch's out-of-memory errors on CUDA and MPS."""
    if isinstance(exc, torch.OutOfMemoryError):
        return True
    # MPS (and older CUDA builds) raise a plain RuntimeError.
    return isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()


def release_memory(device: torch.device) -> None:
    """Give back what a failed attempt left cached on the GPU."""
    if device.type == "cuda":
        torch.cuda.empty_cache()
    elif device.type == "mps" and hasattr(torch, "mps"):
        torch.mps.empty_cache()


def fallback_notice(device: torch.device) -> str:
    return CPU_FALLBACK_NOTICE.format(name=device_name(device))


def set_cpu_threads(count: int) -> None:
    """Torch's intra-op threads for work started from the calling thread.

    The compute thread calls this from itself: one thread leaves the other
    core to the GUI (tests/benchmarks/bench_gui_responsiveness.py).
    """
    torch.set_num_threads(max(1, int(count)))
