"""Peak resident memory of one hooked forward, measured in a fresh process.

    python -m tests.memory_probe '{"arch": {...architecture json...}, "forwards": 1}'

prints one JSON line: ``peak`` (bytes the process's peak resident set grew by
during the run: building the model and the forwards), ``estimate`` (what
cnnviz.core.memory says), and the parts. Torch is imported and its kernels
touched on a tiny network first, and the peak is reset (Linux
/proc/self/clear_refs) before the run, so neither counts. ``forwards`` > 1
runs again after dropping each result (the second forward reuses nothing the
first left but the model). Used by tests/compute/test_memory_measured.py.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import torch
from torch import nn


def _status(key: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key):
            return int(line.split()[1]) * 1024
    raise KeyError(key)


def reset_peak() -> int:
    """Resident bytes now, after making the kernel's peak start from here."""
    Path("/proc/self/clear_refs").write_text("5")
    return _status("VmRSS:")


def peak() -> int:
    return _status("VmHWM:")


def _warm_up() -> None:
    """Load the kernels (oneDNN's code, thread pools) on a tiny network first."""
    layers = [nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4).eval(), nn.ReLU()]
    layers += [nn.MaxPool2d(2), nn.LocalResponseNorm(2), nn.Flatten(), nn.Linear(64, 2)]
    with torch.no_grad():
        nn.Sequential(*layers)(torch.rand(1, 3, 8, 8))


def main(spec: dict) -> dict:
    from cnnviz.compute.runner import ForwardRunner
    from cnnviz.core.analysis import analyze
    from cnnviz.core.architecture import from_json
    from cnnviz.core.jobs import ForwardRequest
    from cnnviz.core.memory import estimate

    torch.set_num_threads(1)
    _warm_up()
    arch = from_json(spec["arch"])
    train_mode = bool(spec.get("train_mode", False))
    memory = estimate(analyze(arch), train_mode)
    image = np.random.default_rng(0).random(arch.input.as_tuple(), dtype=np.float32)
    runner = ForwardRunner()
    request = ForwardRequest(1, arch, image, train_mode=train_mode, ignore_memory_limit=True)
    base = reset_peak() - image.nbytes  # the input counts in the estimate: count it here too
    for _ in range(int(spec.get("forwards", 1))):
        result = runner.run(request)
        del result
    return {"peak": peak() - base, "estimate": memory.total, **memory.breakdown()}


if __name__ == "__main__":
    print(json.dumps(main(json.loads(sys.argv[1]))))
