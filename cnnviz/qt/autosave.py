"""Autosave of the current work, and the offer to restore it after a crash.

Each running cnnviz is a *session* in ``<app data>/autosave``: it holds a
``QLockFile`` ``<session>.lock`` for as long as it runs and writes its latest
snapshot (the project text the window provides) to ``<session>.cnnviz`` with
``QSaveFile``, so a crash during a write never leaves half a file. A clean
shutdown removes both, so the lock doubles as the "did not shut down cleanly"
marker. At the next start a snapshot whose lock no running process holds
(QLockFile checks that the owner process is gone) belongs to a crashed
session, and ``offer_restore`` asks whether to bring it back. Either way the
snapshot is moved to ``autosave/recovered`` (the last few are kept), so
saying "Discard" by mistake loses nothing.

Wiring (two calls)::

    text = offer_restore(window)            # at start-up, before the first edit
    autosaver = Autosaver(document.snapshot) # str | None; None = nothing unsaved
    document.changed.connect(autosaver.schedule)
    autosaver.start()                        # stops cleanly on aboutToQuit
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import (
    QCoreApplication,
    QIODevice,
    QLockFile,
    QObject,
    QSaveFile,
    QTimer,
    Signal,
)
from PySide6.QtWidgets import QMessageBox, QWidget

from cnnviz.qt.crash import app_data_dir

LOG = logging.getLogger(__name__)

SNAPSHOT_SUFFIX = ".cnnviz"
LOCK_SUFFIX = ".lock"
RECOVERED_DIR_NAME = "recovered"
KEEP_RECOVERED = 10
MAX_SNAPSHOT_BYTES = 50 * 1024 * 1024
DEFAULT_INTERVAL_MS = 20_000
DEBOUNCE_MS = 1_500
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
    """Writes ``snapshot()`` to this session's autosave file when it changes."""

    saved = Signal(str)  # the file written
    failed = Signal(str)  # why it could not be written, in plain words

    def __init__(
        self,
        snapshot: Callable[[], str | None],
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
        self._lock = _session_lock(self.folder / f"{self.session_id}{LOCK_SUFFIX}")
        self._last_written: str | None = None
        self._failure_reported = False
        self._periodic = QTimer(self)
        self._periodic.setInterval(interval_ms or _interval_from_env())
        self._periodic.timeout.connect(self.save_now)
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(DEBOUNCE_MS)
        self._debounce.timeout.connect(self.save_now)

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

    def schedule(self, *_args: object) -> None:
        """Save soon (after a short pause in the edits); connect to 'document changed'."""
        self._debounce.start()

    def save_now(self) -> bool:
        """Write the snapshot if it changed; True if the file on disk is now current."""
        try:
            text = self._snapshot()
        except Exception:
            LOG.exception("Autosave: the snapshot could not be taken")
            return False
        if text is None:
            # Nothing unsaved: after a crash there would be nothing to restore.
            self._remove_snapshot()
            return True
        if text == self._last_written:
            return True
        error = _write_atomically(self.snapshot_path, text)
        if error:
            if not self._failure_reported:
                LOG.warning("Autosave failed: %s", error)
                self._failure_reported = True
            self.failed.emit(error)
            return False
        self._last_written = text
        self._failure_reported = False
        self.saved.emit(str(self.snapshot_path))
        return True

    def stop(self, clean: bool = True) -> None:
        """End autosaving; a clean stop removes the snapshot and the running marker."""
        self._periodic.stop()
        self._debounce.stop()
        if clean:
            self._remove_snapshot()
            self._lock.unlock()

    def _remove_snapshot(self) -> None:
        self._last_written = None
        self.snapshot_path.unlink(missing_ok=True)


def _write_atomically(path: Path, text: str) -> str | None:
    """Write via QSaveFile (all or nothing); the reason on failure, else None."""
    out = QSaveFile(str(path))
    if not out.open(QIODevice.OpenModeFlag.WriteOnly):
        return f"cannot write {path}: {out.errorString()}"
    data = text.encode("utf-8")
    if out.write(data) != len(data):
        reason = out.errorString()
        out.cancelWriting()
        out.commit()
        return f"cannot write {path}: {reason}"
    if not out.commit():
        return f"cannot write {path}: {out.errorString()}"
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
        with self.snapshot_path.open("rb") as stream:
            data = stream.read(MAX_SNAPSHOT_BYTES + 1)
        if len(data) > MAX_SNAPSHOT_BYTES:
            raise ValueError(f"autosave {self.snapshot_path} is larger than expected")
        return data.decode("utf-8")

    def describe(self) -> str:
        """E.g. "TinyVGG (5 layers), autosaved on 2025-05-01 at 14:02"."""
        when = time.strftime("on %Y-%m-%d at %H:%M", time.localtime(self.saved_at))
        what = _describe_snapshot(self.snapshot_path)
        return f"{what}, autosaved {when}" if what else f"Work autosaved {when}"

    def archive(self, recovered_dir: Path) -> None:
        """Move out of the way of the next start, keeping a copy."""
        recovered_dir.mkdir(parents=True, exist_ok=True)
        self.snapshot_path.replace(recovered_dir / self.snapshot_path.name)
        kept = sorted(recovered_dir.glob(f"*{SNAPSHOT_SUFFIX}"), key=lambda p: p.stat().st_mtime)
        for old in kept[:-KEEP_RECOVERED]:
            old.unlink(missing_ok=True)


def _describe_snapshot(path: Path) -> str | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        arch = data.get("architecture", data)
        layers = len(arch["layers"])
        name = arch.get("name") or "Untitled network"
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
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
    text = None
    if wanted:
        try:
            text = newest.text()
        except (OSError, ValueError) as exc:
            LOG.warning("The autosave could not be read: %s", exc)
    for session in sessions:
        session.archive(folder / RECOVERED_DIR_NAME)
    LOG.info("Autosave %s %s", newest.snapshot_path.name, "restored" if text else "set aside")
    return text
