"""Shared test set-up: Qt offscreen, and no QThread left running after a test.

Every ``QThread.start`` is recorded (and every ``ComputeThread`` knows its
instances); after each test, a thread still running fails that test, after
being stopped so it cannot disturb the tests that follow. Warnings raised from
cnnviz code are errors (pyproject.toml, filterwarnings).
"""

from __future__ import annotations

import os

# Before anything imports Qt: tests never open real windows.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import sys
import weakref

import pytest
from hypothesis import settings

# CI (which sets CI=true) runs a fixed sequence of examples so that a green run
# can be repeated; locally every run explores new examples.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

_started_threads: weakref.WeakSet = weakref.WeakSet()


def _record_thread_starts() -> None:
    try:
        from PySide6.QtCore import QThread
    except ImportError:  # Qt-free environments still run the core tests
        return
    if getattr(QThread.start, "_cnnviz_recording", False):
        return
    original = QThread.start

    def start(self, *args, **kwargs):
        _started_threads.add(self)
        return original(self, *args, **kwargs)

    start._cnnviz_recording = True
    QThread.start = start


_record_thread_starts()


def _stop(thread) -> None:
    shutdown = getattr(thread, "shutdown", None)
    if shutdown is not None:
        shutdown()
        return
    thread.requestInterruption()
    thread.quit()
    thread.wait(5000)


@pytest.fixture(autouse=True)
def no_qthread_left_running():
    """Fail a test that leaves a QThread (or a ComputeThread) running."""
    yield
    leftovers = []
    compute = sys.modules.get("cnnviz.qt.bridge.compute_thread")
    if compute is not None:
        for owner in list(compute.ComputeThread._instances):
            if owner.is_running():
                leftovers.append(f"ComputeThread {owner!r}")
                _stop(owner)
    for thread in list(_started_threads):
        try:
            running = thread.isRunning()
        except RuntimeError:  # the C++ object is already gone: not running
            continue
        if running:
            leftovers.append(f"QThread {type(thread).__name__}")
            _stop(thread)
    if leftovers:
        pytest.fail("threads left running after the test: " + ", ".join(leftovers))


@pytest.fixture(autouse=True)
def delete_closed_widgets():
    """Process the deferred deletions a test's widgets queued (no event loop runs
    between tests), so the next test never walks widgets half torn down."""
    yield
    widgets = sys.modules.get("PySide6.QtWidgets")
    if widgets is None:  # no Qt loaded: nothing to delete
        return
    from PySide6.QtCore import QEvent

    app = widgets.QApplication.instance()
    if app is not None:
        app.sendPostedEvents(None, QEvent.Type.DeferredDelete)


@pytest.fixture(autouse=True, scope="session")
def empty_torch_hub(tmp_path_factory):
    """An empty torch hub cache: the user's may hold the ImageNet checkpoints the
    presets load by themselves, which would change what the tests see."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TORCH_HOME", str(tmp_path_factory.mktemp("torch_home")))
        yield
