"""Autosave writes the snapshot; only a session that did not stop cleanly is offered back."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QCoreApplication, QTimer
from PySide6.QtWidgets import QApplication, QMessageBox
from safetensors.numpy import load_file

from cnnviz.core import project as project_file
from cnnviz.core.architecture import Architecture, InputShape, Layer
from cnnviz.core.jobs import KernelEdit
from cnnviz.core.project import Project
from cnnviz.qt.editor import commands
from cnnviz.qt.editor.document import Document, Snapshot
from cnnviz.qt.window.autosave import (
    RECOVERED_DIR_NAME,
    RESTORE_ENV,
    Autosaver,
    CrashedSession,
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
        "weights": None,
    }
)

# A cnnviz session in another process: autosaves, then either quits cleanly
# or is killed with SIGKILL, the way a crash or a power cut ends it.
# Given a project file instead of text, it autosaves that project as a document would.
SESSION_SCRIPT = """
import os, signal, sys
from pathlib import Path
from PySide6.QtCore import QCoreApplication
from cnnviz.core import project as project_file
from cnnviz.qt.window.autosave import Autosaver
from cnnviz.qt.editor.document import Snapshot
app = QCoreApplication([])
work = sys.argv[2]
if work.endswith(".cnnviz") and Path(work).is_file():
    work = Snapshot(project_file.load(work))
saver = Autosaver(lambda: work, folder=sys.argv[1])
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


# -- what a document autosaves, and how soon -------------------------------------------


def wide_arch() -> Architecture:
    """A conv layer with 512 input channels: one hand-set kernel is 4,608 numbers."""
    return Architecture(
        "wide",
        InputShape(3, 8, 8),
        (
            Layer.make("Conv2d", out_channels=512, kernel_size=1),
            Layer.make("Conv2d", out_channels=4, kernel_size=3, padding=1),
        ),
    )


def drawing() -> np.ndarray:
    return (np.arange(28 * 28, dtype=np.float32).reshape(28, 28) % 256) / 255.0


def test_an_edit_is_on_disk_after_the_next_turn_of_the_event_loop(qapp, tmp_path):
    doc = Document(wide_arch())
    saver = Autosaver(doc.snapshot, folder=tmp_path, interval_ms=60_000)
    saver.follow(doc)
    saver.start()
    try:
        doc.undo_stack.push(commands.insert_layers(doc, 2, [Layer.make("ReLU")]))
        QCoreApplication.processEvents()  # one turn: no waiting for a timer to run out
        assert '"ReLU"' in saver.snapshot_path.read_text(encoding="utf-8")

        doc.set_image(drawing(), None, "drawing")  # the document was already modified
        QCoreApplication.processEvents()
        restored = project_file.load(saver.snapshot_path)
        np.testing.assert_array_equal(restored.image_data, drawing())
    finally:
        saver.stop()
    assert list(tmp_path.glob(f"{saver.session_id}*")) == []  # a clean stop leaves nothing


def test_a_large_kernel_and_a_drawing_survive_a_crash(qapp, tmp_path):
    kernel = np.random.default_rng(0).normal(size=(512, 3, 3)).astype(np.float32)
    project = Project(
        wide_arch(), kernel_edits=(KernelEdit(1, 2, kernel, bias=0.25),), image_data=drawing()
    )
    saved = tmp_path / "work" / "wide.cnnviz"
    saved.parent.mkdir()
    project_file.write(project, saved)
    folder = tmp_path / "autosave"
    assert run_session(folder, str(saved), "kill") == -signal.SIGKILL

    text = offer_restore(folder=folder, ask=lambda parent, session: True)
    back = Document().restore_snapshot(text)  # read from where the copy was set aside
    (edit,) = back.kernel_edits
    np.testing.assert_array_equal(edit.kernel, kernel)
    assert (edit.layer, edit.out_channel, edit.bias) == (1, 2, 0.25)
    np.testing.assert_array_equal(back.image_data, drawing())
    assert list(folder.glob("*.safetensors")) == []  # set aside with the snapshot


class Weights:
    """Stands in for the compute thread's weights: a token that changes with them."""

    def __init__(self):
        self.token, self.calls = 1, []
        self.state = {"0.weight": np.ones((512, 3, 1, 1), np.float32)}

    def __call__(self, known, timeout_s):
        self.calls.append(known)
        return self.token, None if known == self.token else dict(self.state), False


def test_trained_weights_are_autosaved_when_they_change_and_only_then(qapp, tmp_path):
    weights = Weights()
    snapshot = Snapshot(Project(wide_arch()), weights)
    saver = Autosaver(lambda: snapshot, folder=tmp_path, interval_ms=60_000)
    saver.start()
    try:
        assert saver.save_now()
        assert saver.refresh_weights()
        written = saver.weights_path.stat().st_mtime_ns
        text = saver.snapshot_path.read_text(encoding="utf-8")
        assert json.loads(text)["weights"] == saver.weights_path.name
        assert saver.refresh_weights() and weights.calls == [None, 1]
        assert saver.weights_path.stat().st_mtime_ns == written  # unchanged: not rewritten

        weights.token, weights.state = 2, {"0.weight": np.zeros((512, 3, 1, 1), np.float32)}
        assert saver.refresh_weights()
        session = CrashedSession(saver.snapshot_path, 0.0).archive(tmp_path / RECOVERED_DIR_NAME)
        back = project_file.loads(session.text())
        assert Path(back.weights).parent == tmp_path / RECOVERED_DIR_NAME
        np.testing.assert_array_equal(
            load_file(back.weights)["0.weight"], weights.state["0.weight"]
        )
    finally:
        saver.stop()
