"""Kill cnnviz in the middle of work; the next start brings the work back.

Two real cnnviz processes (offscreen, with their own HOME and XDG folders):
the first opens LeNet-5, adds a layer and draws a digit, and is killed with
SIGKILL two turns of its event loop later, without waiting for anything; the
second starts with the restore question answered "restore" ($CNNVIZ_RESTORE)
and must show the edited stack and the drawing, unsaved.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from cnnviz.core.resources import resource_path
from cnnviz.qt.window.autosave import RECOVERED_DIR_NAME, RESTORE_ENV
from tests.qt.crash_restore_driver import drawing

DRIVER = Path(__file__).with_name("crash_restore_driver.py")
REPO = Path(__file__).resolve().parents[2]
TIMEOUT_S = 60


def _env(home: Path) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("XDG_", "CNNVIZ_", "QT_"))
    }
    env.update(
        HOME=str(home),
        XDG_DATA_HOME=str(home / "share"),
        XDG_CONFIG_HOME=str(home / "config"),
        XDG_CACHE_HOME=str(home / "cache"),
        QT_QPA_PLATFORM="offscreen",
    )
    return env


def _wait_for(condition, what: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + TIMEOUT_S
    while not condition():
        if process.poll() is not None:
            out, err = process.communicate()
            raise AssertionError(f"cnnviz ended before {what}:\n{out}\n{err}")
        if time.monotonic() > deadline:
            process.kill()
            out, err = process.communicate()
            raise AssertionError(f"no {what} within {TIMEOUT_S} s:\n{out}\n{err}")
        time.sleep(0.05)


def _start(mode: str, out: Path, env: dict[str, str], *cnnviz_args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(DRIVER), mode, str(out), *cnnviz_args],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _lenet5_types() -> list[str]:
    lenet5 = json.loads(resource_path("presets", "lenet5.json").read_text(encoding="utf-8"))
    return [layer["type"] for layer in lenet5["layers"]]


def _autosaves(folder: Path) -> list[Path]:
    return list(folder.glob("*.cnnviz")) if folder.is_dir() else []


def test_killed_during_work_then_the_next_start_restores_the_stack(tmp_path):
    home = tmp_path / "home"
    autosave_dir = home / "share" / "cnnviz" / "autosave"
    env = _env(home)

    edited = tmp_path / "edited.json"
    first = _start("edit", edited, env, str(resource_path("presets", "lenet5.json")))
    try:
        _wait_for(edited.exists, "the edit", first)
    finally:
        first.send_signal(signal.SIGKILL)
        first.communicate(timeout=TIMEOUT_S)  # reaped: the pid no longer exists
    assert first.returncode == -signal.SIGKILL
    shown = json.loads(edited.read_text(encoding="utf-8"))
    expected = shown["architecture"]
    edited_types = [layer["type"] for layer in expected["layers"]]
    assert edited_types.count("Dropout") == _lenet5_types().count("Dropout") + 1
    assert shown["image"] == drawing().tolist()

    reported = tmp_path / "reported.json"
    second = _start("report", reported, {**env, RESTORE_ENV: "restore"})
    out, err = second.communicate(timeout=TIMEOUT_S)
    assert second.returncode == 0, f"{out}\n{err}"

    state = json.loads(reported.read_text(encoding="utf-8"))
    assert state["architecture"] == expected
    assert state["image"] == shown["image"]  # the drawing, value for value
    assert state["modified"] is True  # restored work is unsaved work
    # The crashed session's autosave was set aside (a copy kept), and the
    # second session quit cleanly, leaving nothing to offer next time.
    assert _autosaves(autosave_dir) == []
    assert len(list((autosave_dir / RECOVERED_DIR_NAME).glob("*.cnnviz"))) == 1
    assert "Traceback" not in err
