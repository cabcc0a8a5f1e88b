"""Unexpected errors are logged to a file and shown in one dialog; the app keeps running."""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from PySide6.QtCore import QObject, QThread, Signal, qWarning
from PySide6.QtWidgets import QApplication

from cnnviz.qt.window.crash import FAULT_LOG_NAME, LOG_FILE_NAME, CrashDialog, install_crash_handler

REPO = Path(__file__).resolve().parents[2]


class Emitter(QObject):
    fired = Signal(int)


def _kernel_too_large_slot(value: int) -> None:
    raise ValueError(f"kernel 7 larger than input {value}")


class FailingThread(QThread):
    def run(self) -> None:
        raise RuntimeError("forward pass exploded in the compute thread")


@pytest.fixture
def handler(tmp_path):
    installed = install_crash_handler(tmp_path / "logs")
    yield installed
    installed.uninstall()


def _visible_crash_dialogs() -> list[CrashDialog]:
    widgets = QApplication.topLevelWidgets()
    return [w for w in widgets if isinstance(w, CrashDialog) and w.isVisible()]


def _shown_dialog(qtbot, handler) -> CrashDialog:
    qtbot.waitUntil(lambda: handler.dialog is not None and handler.dialog.isVisible())
    qtbot.addWidget(handler.dialog)
    return handler.dialog


def test_exception_in_a_slot_is_logged_with_its_traceback_and_shown(qtbot, handler, tmp_path):
    emitter = Emitter()
    emitter.fired.connect(_kernel_too_large_slot)
    received = []
    emitter.fired.connect(received.append)

    emitter.fired.emit(5)

    dialog = _shown_dialog(qtbot, handler)
    log = (tmp_path / "logs" / LOG_FILE_NAME).read_text(encoding="utf-8")
    assert "ValueError: kernel 7 larger than input 5" in log
    assert "Traceback (most recent call last)" in log
    assert "_kernel_too_large_slot" in log
    assert dialog.report_count == 1
    assert "kernel 7 larger than input 5" in dialog.summary.text()
    assert "_kernel_too_large_slot" in dialog.details.toPlainText()
    # The application goes on: the next emission reaches its slots again.
    emitter.fired.emit(6)
    assert received == [5, 6]


def test_many_errors_share_one_dialog_and_repeats_do_not_flood_the_log(qtbot, handler, tmp_path):
    emitter = Emitter()
    emitter.fired.connect(_kernel_too_large_slot)
    for value in range(12):
        emitter.fired.emit(value)
    for _ in range(5):
        emitter.fired.emit(99)

    dialog = _shown_dialog(qtbot, handler)
    assert _visible_crash_dialogs() == [dialog]
    # 12 different errors and one repeated five times: 13 reports in the dialog.
    assert dialog.report_count == 13
    assert "13 unexpected errors" in dialog.summary.text()
    log = (tmp_path / "logs" / LOG_FILE_NAME).read_text(encoding="utf-8")
    # The first report names it twice (headline, last traceback line); each of
    # the 4 repeats adds one line and no traceback.
    assert log.count("larger than input 99") == 2 + 4
    assert log.count("Traceback (most recent call last)") == 13
    assert "The same unexpected error again (5 times)" in log


def test_exception_in_the_compute_thread_reaches_the_dialog_on_the_gui_thread(qtbot, handler):
    thread = FailingThread()
    shown_on = []
    handler.error_reported.connect(lambda *_: shown_on.append(QThread.currentThread()))
    thread.start()
    assert thread.wait(5000)

    dialog = _shown_dialog(qtbot, handler)
    assert shown_on == [QApplication.instance().thread()]
    assert "forward pass exploded in the compute thread" in dialog.details.toPlainText()


def test_exception_in_a_python_thread_is_reported(qtbot, handler, tmp_path):
    def work():
        raise OSError("dataset folder vanished")

    worker = threading.Thread(target=work, name="loader")
    worker.start()
    worker.join(5)

    dialog = _shown_dialog(qtbot, handler)
    assert "[loader]" in dialog.details.toPlainText()
    log = (tmp_path / "logs" / LOG_FILE_NAME).read_text(encoding="utf-8")
    assert "OSError: dataset folder vanished" in log


def test_copy_details_puts_version_and_traceback_on_the_clipboard(qtbot, handler):
    emitter = Emitter()
    emitter.fired.connect(_kernel_too_large_slot)
    emitter.fired.emit(3)
    dialog = _shown_dialog(qtbot, handler)

    QApplication.clipboard().clear()
    dialog.copy_button.click()

    copied = QApplication.clipboard().text()
    assert copied.startswith("cnnviz ")
    assert "ValueError: kernel 7 larger than input 3" in copied
    assert dialog.copy_button.text() == "Copied"


def test_qt_warnings_go_to_the_log(handler, tmp_path):
    qWarning("QPainter::begin: paint device returned engine == 0 (test)")
    log = (tmp_path / "logs" / LOG_FILE_NAME).read_text(encoding="utf-8")
    assert "WARNING cnnviz.qt.messages" in log
    assert "paint device returned engine == 0 (test)" in log


def test_uninstall_restores_the_previous_hooks(tmp_path):
    before = (sys.excepthook, threading.excepthook)
    handler = install_crash_handler(tmp_path / "logs", show_dialog=False)
    assert sys.excepthook == handler.handle_exception
    handler.uninstall()
    assert (sys.excepthook, threading.excepthook) == before


def test_a_hard_crash_writes_the_faulthandler_log(tmp_path):
    script = (
        "import faulthandler\n"
        "from cnnviz.qt.window.crash import install_crash_handler\n"
        f"install_crash_handler({str(tmp_path / 'logs')!r})\n"
        "def segfault_while_computing():\n"
        "    faulthandler._sigsegv()\n"
        "segfault_while_computing()\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, timeout=60, check=False
    )
    assert result.returncode != 0
    fault_log = (tmp_path / "logs" / FAULT_LOG_NAME).read_text(encoding="utf-8")
    assert "Fatal Python error: Segmentation fault" in fault_log
    assert "segfault_while_computing" in fault_log


def test_platform_plugin_noise_is_kept_out_of_warnings(handler, caplog):
    caplog.set_level(logging.DEBUG, logger="cnnviz.qt.messages")
    qWarning("This plugin does not support propagateSizeHints()")
    qWarning("QPainter::begin: something real (test)")
    levels = {r.getMessage().split(" (")[0]: r.levelno for r in caplog.records}
    assert levels["This plugin does not support propagateSizeHints()"] == logging.DEBUG
    assert levels["QPainter::begin: something real"] == logging.WARNING
