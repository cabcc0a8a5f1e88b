"""Autosave of the current work, and the offer to restore it after a crash.

Each running cnnviz is a *session* in ``<app data>/autosave``: it holds a
``QLockFile`` ``<session>.lock`` for as long as it runs and writes its latest
snapshot of the unsaved work to ``<session>.cnnviz``, with the same sidecars a
saved project has (``<session>.data.safetensors`` for a drawn image or large
kernels, ``<session>.weights.safetensors`` for trained weights), each file all
or nothing, so a crash during a write never leaves half a file. A clean
shutdown removes them all, so the lock doubles as the "did not shut down
cleanly" marker. At the next start a snapshot whose lock no running process
holds (QLockFile checks that the owner process is gone) belongs to a crashed
session, and ``offer_restore`` asks whether to bring it back. Either way the
snapshot is moved to ``autosave/recovered`` (the last few are kept), so
saying "Discard" by mistake loses nothing.

When: on the next turn of the event loop after every edit (a small project
is written in about a millisecond, and only when it changed), so a crash right
after an edit still finds it on disk; and every ``interval`` as a safety net.
Weights are large and change only when trained: they are asked of the compute
thread a moment after a change, and written only when they differ.

Wiring::

    text = offer_restore(window)             # at start-up, before the first edit
    autosaver = Autosaver(document.snapshot) # str | Snapshot | None; None = nothing unsaved
    autosaver.follow(document)               # every kind of edit schedules a save
    autosaver.start()                        # stops cleanly on aboutToQuit
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from PySide6.QtCore import QCoreApplication, QLockFile, QObject, QTimer, Signal
from PySide6.QtWidgets import QMessageBox, QWidget

from cnnviz.core import project as project_file
from cnnviz.core import project_files, safe_json
from cnnviz.core.project import ProjectError
from cnnviz.core.project_files import DATA_SUFFIX, WEIGHTS_SUFFIX, sidecar
from cnnviz.qt.window.crash import app_data_dir

LOG = logging.getLogger(__name__)

SNAPSHOT_SUFFIX = ".cnnviz"
LOCK_SUFFIX = ".lock"
RECOVERED_DIR_NAME = "recovered"
KEEP_RECOVERED = 10
SIDECARS = (DATA_SUFFIX, WEIGHTS_SUFFIX)
DEFAULT_INTERVAL_MS = 20_000
# After the weights changed (a training epoch), ask for them this much later:
# an epoch's end comes with other work, and a burst of changes becomes one write.
WEIGHTS_DELAY_MS = 1_000
# The compute thread answers between forwards or training steps; waiting longer
# than this would freeze the window, so the weights wait for the next try (the
# next change, or the periodic save).
WEIGHTS_TIMEOUT_S = 0.5
# Environment: seconds between periodic autosaves, and an answer to the restore
# question ("restore" or "discard") for scripted starts and tests.
INTERVAL_ENV = "CNNVIZ_AUTOSAVE_SECONDS"
RESTORE_ENV = "CNNVIZ_RESTORE"


def autosave_dir() -> Path:
    folder = app_data_dir() / "autosave"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _session_lock(path: Path) -> QLockFile:
    lock = QLockFile(str(path))
    # Age alone never makes a lock stale: only its owner process having gone.
    lock.setStaleLockTime(0)
    return lock


class Autosaver(QObject):
    """Writes ``snapshot()`` (project text, or a document `Snapshot`) to this
    session's autosave files when it changes."""

    saved = Signal(str)  # the file written
    failed = Signal(str)  # why it could not be written, in plain words

    def __init__(
        self,
        snapshot: Callable[[], Any],
        folder: Path | None = None,
        interval_ms: int | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._snapshot = snapshot
        self.folder = Path(folder) if folder is not None else autosave_dir()
        self.folder.mkdir(parents=True, exist_ok=True)
        self.session_id = f"{int(time.time() * 1000)}-{os.getpid()}"
        self.snapshot_path = self.folder / f"{self.session_id}{SNAPSHOT_SUFFIX}"
        self.data_path = sidecar(self.snapshot_path, DATA_SUFFIX)
        self.weights_path = sidecar(self.snapshot_path, WEIGHTS_SUFFIX)
        self._lock = _session_lock(self.folder / f"{self.session_id}{LOCK_SUFFIX}")
        self._last_written: tuple[str, bytes | None] | None = None
        self._failure_reported = False
        self._weights_source: Callable | None = None
        self._weights_token: int | None = None  # of the weights in weights_path
        self._periodic = QTimer(self)
        self._periodic.setInterval(interval_ms or _interval_from_env())
        self._periodic.timeout.connect(self.save_now)
        self._soon = QTimer(self)  # the next turn of the event loop
        self._soon.setSingleShot(True)
        self._soon.setInterval(0)
        self._soon.timeout.connect(self.save_now)
        self._weights_timer = QTimer(self)
        self._weights_timer.setSingleShot(True)
        self._weights_timer.setInterval(WEIGHTS_DELAY_MS)
        self._weights_timer.timeout.connect(self.refresh_weights)

    @property
    def running(self) -> bool:
        return self._periodic.isActive()

    def start(self) -> None:
        """Mark this session as running and autosave from now on."""
        if not self._lock.tryLock(0):
            LOG.warning("Autosave: cannot create the session lock in %s", self.folder)
        self._periodic.start()
        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.stop)

    def follow(self, document: QObject) -> None:
        """Save after every change of `document`: edits, image, weights, modified flag."""
        for name in ("changed", "image_changed", "weights_changed", "weights_trained"):
            signal = getattr(document, name, None)
            if signal is not None:
                signal.connect(self.schedule)
        document.modified_changed.connect(self.schedule)

    def schedule(self, *_args: object) -> None:
        """Save on the next turn of the event loop (edits in one turn: one write)."""
        self._soon.start()

    def save_now(self) -> bool:
        """Write the snapshot if it changed; True if the files on disk are now current."""
        self._soon.stop()
        try:
            snapshot = self._snapshot()
            files = None if snapshot is None else self._encode(snapshot)
        except ProjectError as exc:
            return self._failed(str(exc))
        except Exception:
            LOG.exception("Autosave: the snapshot could not be taken")
            return False
        if files is None:
            # Nothing unsaved: after a crash there would be nothing to restore.
            self._remove_files()
            return True
        if files == self._last_written:
            return True
        error = _write_files(self.snapshot_path, self.data_path, files, self._last_written)
        if error:
            self._last_written = None  # unsure what is on disk now: write all next time
            return self._failed(error)
        self._last_written = files
        self._failure_reported = False
        self.saved.emit(str(self.snapshot_path))
        return True

    def _encode(self, snapshot: Any) -> tuple[str, bytes | None]:
        if isinstance(snapshot, str):
            return snapshot, None
        project = snapshot.project
        self._weights_source = snapshot.weights
        if snapshot.weights is not None:
            # Trained weights in no file yet: refer to this session's copy once
            # written, and bring that copy up to date soon.
            if not self._weights_timer.isActive():
                self._weights_timer.start()
            if self._weights_token is not None:
                project = replace(project, weights=str(self.weights_path))
        encoded = project_file.encode(project, self.snapshot_path)
        return encoded.text, encoded.data

    def refresh_weights(self) -> bool:
        """Write the network's weights if they changed since the last time; True if current."""
        source = self._weights_source
        if source is None:
            return True
        try:
            current = source(self._weights_token, WEIGHTS_TIMEOUT_S)
        except RuntimeError as exc:
            LOG.info("Autosave: the weights are not available now (%s)", exc)
            return False
        if current is None or current[1] is None:
            return True  # unchanged, or a new network's: nothing (more) to write
        token, state = current[:2]
        try:
            project_files.write_weights(state, self.weights_path)
        except OSError as exc:
            return self._failed(f"{exc.strerror or exc} ({self.folder})")
        first = self._weights_token is None
        self._weights_token = token
        return self.save_now() if first else True

    def _failed(self, error: str) -> bool:
        if not self._failure_reported:
            LOG.warning("Autosave failed: %s", error)
            self._failure_reported = True
        self.failed.emit(error)
        return False

    def stop(self, clean: bool = True) -> None:
        """End autosaving; a clean stop removes the snapshot and the running marker."""
        self._periodic.stop()
        self._soon.stop()
        self._weights_timer.stop()
        if clean:
            self._remove_files()
            self._lock.unlock()

    def _remove_files(self) -> None:
        self._last_written = None
        self._weights_token = None
        for path in (self.snapshot_path, self.data_path, self.weights_path):
            path.unlink(missing_ok=True)


def _write_files(
    path: Path,
    data_path: Path,
    files: tuple[str, bytes | None],
    last: tuple[str, bytes | None] | None,
) -> str | None:
    """The data file, then the JSON (which refers to it), each all or nothing and
    only if it changed (a stroke on the draw pad changes only the data); the
    reason on failure, else None."""
    text, data = files
    try:
        if data is not None and (last is None or last[1] != data):
            project_files.write_atomically(data_path, data, durable=False)
        if last is None or last[0] != text:
            project_files.write_atomically(path, text.encode("utf-8"), durable=False)
    except OSError as exc:
        return f"{exc.strerror or exc} ({path.parent})"
    if data is None:
        data_path.unlink(missing_ok=True)
    return None


def _interval_from_env() -> int:
    raw = os.environ.get(INTERVAL_ENV)
    try:
        seconds = float(raw) if raw else 0.0
    except ValueError:
        LOG.warning("%s=%r is not a number of seconds; using the default", INTERVAL_ENV, raw)
        seconds = 0.0
    return max(100, int(seconds * 1000)) if seconds > 0 else DEFAULT_INTERVAL_MS


@dataclass(frozen=True)
class CrashedSession:
    """The autosave of a session that ended without a clean shutdown."""

    snapshot_path: Path
    saved_at: float  # seconds since the epoch

    def text(self) -> str:
        """The snapshot's project text (bounded), its paths absolute: its sidecars
        lie beside it, wherever it has been moved."""
        try:
            text = project_file.read_text(self.snapshot_path)
        except ProjectError as exc:
            raise ValueError(str(exc)) from None
        return project_files.with_absolute_paths(text, self.snapshot_path.parent)

    def describe(self) -> str:
        """E.g. "TinyVGG (5 layers), autosaved on 2025-05-01 at 14:02"."""
        when = time.strftime("on %Y-%m-%d at %H:%M", time.localtime(self.saved_at))
        what = _describe_snapshot(self.snapshot_path)
        return f"{what}, autosaved {when}" if what else f"Work autosaved {when}"

    def archive(self, recovered_dir: Path) -> CrashedSession:
        """Move out of the way of the next start, keeping a copy (with its sidecars)."""
        recovered_dir.mkdir(parents=True, exist_ok=True)
        for path in _session_files(self.snapshot_path):
            if path.exists():
                path.replace(recovered_dir / path.name)
        kept = sorted(recovered_dir.glob(f"*{SNAPSHOT_SUFFIX}"), key=lambda p: p.stat().st_mtime)
        for old in kept[:-KEEP_RECOVERED]:
            for path in _session_files(old):
                path.unlink(missing_ok=True)
        return CrashedSession(recovered_dir / self.snapshot_path.name, self.saved_at)


def _session_files(snapshot: Path) -> list[Path]:
    return [snapshot] + [sidecar(snapshot, suffix) for suffix in SIDECARS]


def _describe_snapshot(path: Path) -> str | None:
    try:
        data = safe_json.parse(project_file.read_text(path))
        arch = data.get("architecture", data)
        layers = len(arch["layers"])
        name = arch.get("name") or "Untitled network"
    except (ValueError, RecursionError, KeyError, TypeError, AttributeError):
        return None
    return f"{name} ({layers} layer{'s' if layers != 1 else ''})"


def find_crashed_sessions(folder: Path | None = None) -> list[CrashedSession]:
    """Snapshots whose session is no longer running and did not stop cleanly; newest first."""
    folder = Path(folder) if folder is not None else autosave_dir()
    crashed = []
    for snapshot in folder.glob(f"*{SNAPSHOT_SUFFIX}"):
        lock = _session_lock(snapshot.with_suffix(LOCK_SUFFIX))
        # Succeeds only when no live process holds the lock; a stale lock left
        # by a killed process is removed by QLockFile on the way.
        if not lock.tryLock(0):
            continue
        lock.unlock()
        try:
            crashed.append(CrashedSession(snapshot, snapshot.stat().st_mtime))
        except OSError:
            continue
    return sorted(crashed, key=lambda session: session.saved_at, reverse=True)


def ask_to_restore(parent: QWidget | None, session: CrashedSession) -> bool:
    """The question, as a message box; True to restore."""
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Question)
    box.setWindowTitle("Restore unsaved work?")
    box.setText("cnnviz did not shut down properly last time.")
    box.setInformativeText(
        f"{session.describe()}.\n\nRestore it? A copy is kept in "
        f"{session.snapshot_path.parent / RECOVERED_DIR_NAME} either way."
    )
    restore = box.addButton("Restore", QMessageBox.ButtonRole.AcceptRole)
    box.addButton("Discard", QMessageBox.ButtonRole.DestructiveRole)
    box.setDefaultButton(restore)
    box.exec()
    return box.clickedButton() is restore


def offer_restore(
    parent: QWidget | None = None,
    folder: Path | None = None,
    ask: Callable[[QWidget | None, CrashedSession], bool] = ask_to_restore,
) -> str | None:
    """After a crash, ask whether to restore the newest autosave; its text or None.

    ``$CNNVIZ_RESTORE`` = ``restore`` or ``discard`` answers without asking.
    """
    folder = Path(folder) if folder is not None else autosave_dir()
    sessions = find_crashed_sessions(folder)
    if not sessions:
        return None
    newest = sessions[0]
    answer = os.environ.get(RESTORE_ENV, "").strip().lower()
    wanted = answer == "restore" if answer in ("restore", "discard") else ask(parent, newest)
    archived = []
    for session in sessions:
        try:
            archived.append(session.archive(folder / RECOVERED_DIR_NAME))
        except OSError as exc:
            LOG.warning("The autosave %s could not be set aside: %s", session.snapshot_path, exc)
            archived.append(session)
    text = None
    if wanted:
        try:
            text = archived[0].text()
        except (OSError, ValueError) as exc:
            LOG.warning("The autosave could not be read: %s", exc)
    LOG.info("Autosave %s %s", newest.snapshot_path.name, "restored" if text else "set aside")
    return text
