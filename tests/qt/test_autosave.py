"""Autosave writes the snapshot; only a session that did not stop cleanly is offered back."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from cnnviz.qt.autosave import (
    RECOVERED_DIR_NAME,
    RESTORE_ENV,
    Autosaver,
    find_crashed_sessions,
    offer_restore,
)

REPO = Path(__file__).resolve().parents[2]

TINY_PROJECT = json.dumps(
    {
        "format": "cnnviz-project",
        "version": 1,
        "architecture": {
            "format": "cnnviz-architecture",
            "version": 1,
            "name": "TinyVGG",
            "input": {"channels": 3, "height": 64, "width": 64},
            "layers": [{"type": "Conv2d", "out_channels": 10, "kernel_size": 3}, {"type": "ReLU"}],
        },
        "weights": "tinyvgg.safetensors",
    }
)

# A cnnviz session in another process: autosaves, then either quits cleanly
# or is killed with SIGKILL, the way a crash or a power cut ends it.
SESSION_SCRIPT = """
import os, signal, sys
from PySide6.QtCore import QCoreApplication
from cnnviz.qt.autosave import Autosaver
app = QCoreApplication([])
saver = Autosaver(lambda: sys.argv[2], folder=sys.argv[1])
saver.start()
assert saver.save_now()
if sys.argv[3] == "kill":
    os.kill(os.getpid(), signal.SIGKILL)
saver.stop()
"""


def run_session(folder: Path, text: str, ending: str) -> int:
    result = subprocess.run(
        [sys.executable, "-c", SESSION_SCRIPT, str(folder), text, ending],
        cwd=REPO,
        capture_output=True,
        timeout=60,
        check=False,
    )
    return result.returncode


def never_ask(parent, session):
    raise AssertionError(f"restore offered for {session}")


@pytest.fixture(autouse=True)
def no_restore_answer(monkeypatch):
    monkeypatch.delenv(RESTORE_ENV, raising=False)


def test_snapshot_is_written_when_it_changes_and_removed_when_nothing_is_unsaved(qtbot, tmp_path):
    current = {"text": TINY_PROJECT}
    saver = Autosaver(lambda: current["text"], folder=tmp_path, interval_ms=60_000)
    saver.start()
    try:
        assert saver.save_now()
        assert saver.snapshot_path.read_text(encoding="utf-8") == TINY_PROJECT

        current["text"] = TINY_PROJECT.replace("TinyVGG", "TinyVGG edited")
        with qtbot.waitSignal(saver.saved, timeout=5000) as saved:
            saver.schedule()  # what 'document changed' triggers
        assert saved.args == [str(saver.snapshot_path)]
        assert "TinyVGG edited" in saver.snapshot_path.read_text(encoding="utf-8")

        current["text"] = None  # the user saved: nothing to restore after a crash
        assert saver.save_now()
        assert not saver.snapshot_path.exists()
    finally:
        saver.stop()


def test_periodic_autosave_runs_without_any_call(qtbot, tmp_path):
    saver = Autosaver(lambda: TINY_PROJECT, folder=tmp_path, interval_ms=50)
    saver.start()
    try:
        qtbot.waitUntil(saver.snapshot_path.exists, timeout=5000)
        assert saver.snapshot_path.read_text(encoding="utf-8") == TINY_PROJECT
    finally:
        saver.stop()


def test_restore_is_offered_after_the_process_was_killed(qapp, tmp_path):
    assert run_session(tmp_path, TINY_PROJECT, "kill") == -signal.SIGKILL
    asked = []

    def ask(parent, session):
        asked.append(session.describe())
        return True

    assert offer_restore(folder=tmp_path, ask=ask) == TINY_PROJECT
    assert len(asked) == 1
    assert asked[0].startswith("TinyVGG (2 layers), autosaved on ")
    # Offered once: the snapshot moved to recovered/, kept as a copy.
    assert offer_restore(folder=tmp_path, ask=never_ask) is None
    kept = list((tmp_path / RECOVERED_DIR_NAME).glob("*.cnnviz"))
    assert [p.read_text(encoding="utf-8") for p in kept] == [TINY_PROJECT]


def test_no_restore_is_offered_after_a_clean_exit(qapp, tmp_path):
    assert run_session(tmp_path, TINY_PROJECT, "clean") == 0
    assert list(tmp_path.iterdir()) == []
    assert offer_restore(folder=tmp_path, ask=never_ask) is None


def test_a_running_session_is_not_mistaken_for_a_crashed_one(qtbot, tmp_path):
    saver = Autosaver(lambda: TINY_PROJECT, folder=tmp_path, interval_ms=60_000)
    saver.start()
    try:
        assert saver.save_now()
        assert find_crashed_sessions(tmp_path) == []
        assert offer_restore(folder=tmp_path, ask=never_ask) is None
        assert saver.snapshot_path.exists()
    finally:
        saver.stop()


def test_discarding_keeps_a_copy_and_asks_no_more(qapp, tmp_path):
    assert run_session(tmp_path, TINY_PROJECT, "kill") == -signal.SIGKILL
    assert offer_restore(folder=tmp_path, ask=lambda parent, session: False) is None
    assert offer_restore(folder=tmp_path, ask=never_ask) is None
    assert len(list((tmp_path / RECOVERED_DIR_NAME).glob("*.cnnviz"))) == 1


def test_the_environment_can_answer_for_scripted_starts(qapp, tmp_path, monkeypatch):
    assert run_session(tmp_path, TINY_PROJECT, "kill") == -signal.SIGKILL
    monkeypatch.setenv(RESTORE_ENV, "restore")
    assert offer_restore(folder=tmp_path, ask=never_ask) == TINY_PROJECT


def test_the_question_is_a_message_box_whose_restore_button_restores(qtbot, tmp_path):
    assert run_session(tmp_path, TINY_PROJECT, "kill") == -signal.SIGKILL
    seen = {}

    def click_restore():
        box = QApplication.activeModalWidget()
        assert isinstance(box, QMessageBox)
        qtbot.addWidget(box)
        seen["text"] = box.text() + "\n" + box.informativeText()
        restore = next(b for b in box.buttons() if b.text() == "Restore")
        restore.click()

    QTimer.singleShot(0, click_restore)
    assert offer_restore(folder=tmp_path) == TINY_PROJECT
    assert "did not shut down properly" in seen["text"]
    assert "TinyVGG (2 layers)" in seen["text"]
