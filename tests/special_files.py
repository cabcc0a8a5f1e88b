"""Named pipes and devices for tests of readers that must refuse them, and a
guard that fails a test instead of hanging it when a reader blocks anyway."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

needs_fifo = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
DEV_ZERO = Path("/dev/zero")
needs_dev_zero = pytest.mark.skipif(not DEV_ZERO.exists(), reason="no /dev/zero here")


def make_fifo(folder: Path) -> Path:
    """A named pipe that nobody writes to: opening it for reading would block."""
    path = folder / "pipe.json"
    os.mkfifo(path)
    return path


def within(seconds: float, call, fifo: Path | None = None):
    """call()'s result or exception; the test fails (not hangs) if it blocks."""
    outcome: dict = {}

    def target():
        try:
            outcome["value"] = call()
        except BaseException as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        if fifo is not None:  # a writer that leaves at once lets the blocked reader go
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        thread.join(5)
        pytest.fail(f"still blocked after {seconds} s")
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")
