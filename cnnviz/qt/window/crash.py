"""Unexpected errors: logged to a file, shown in one dialog, and the app keeps running.

``install_crash_handler()`` is the first call of the GUI start-up. From then on
an exception that nobody caught, in a slot, a virtual override, the compute
``QThread`` or a Python thread, is written with its traceback to
``<app data>/logs/cnnviz.log`` and shown in a dialog whose details can be
copied. Qt's own warnings go to the same log. A hard crash (segmentation
fault, abort) cannot be caught, so ``faulthandler`` writes the Python stacks
of every thread to ``<app data>/logs/crash-faulthandler.log`` instead.
"""

from __future__ import annotations

import faulthandler
import logging
import logging.handlers
import os
import sys
import threading
import time
import traceback
from pathlib import Path
from types import TracebackType
from typing import TextIO

import shiboken6
from PySide6.QtCore import (
    QCoreApplication,
    QMessageLogContext,
    QObject,
    QStandardPaths,
    Qt,
    QtMsgType,
    QUrl,
    Signal,
    qInstallMessageHandler,
)
from PySide6.QtGui import QDesktopServices, QFontDatabase, QGuiApplication
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QStyle,
    QVBoxLayout,
    QWidget,
)

from cnnviz import __version__

LOG = logging.getLogger("cnnviz.crash")
QT_LOG = logging.getLogger("cnnviz.qt.messages")

LOG_FILE_NAME = "cnnviz.log"
FAULT_LOG_NAME = "crash-faulthandler.log"
DATA_DIR_ENV = "CNNVIZ_DATA_DIR"
# A faulthandler log larger than this is started afresh, so it cannot grow forever.
MAX_FAULT_LOG_BYTES = 1_000_000

_QT_LEVELS = {
    QtMsgType.QtDebugMsg: logging.DEBUG,
    QtMsgType.QtInfoMsg: logging.INFO,
    QtMsgType.QtWarningMsg: logging.WARNING,
    QtMsgType.QtCriticalMsg: logging.ERROR,
    QtMsgType.QtFatalMsg: logging.CRITICAL,
}


def app_data_dir() -> Path:
    """The user's cnnviz data folder (logs, autosave), created if missing.

    ``$CNNVIZ_DATA_DIR`` wins (portable use, tests); otherwise the platform's
    data location, e.g. ``~/.local/share/cnnviz`` on Linux (XDG_DATA_HOME is
    honoured). It does not depend on the QApplication's names being set yet.
    """
    override = os.environ.get(DATA_DIR_ENV)
    if override:
        folder = Path(override)
    else:
        base = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.GenericDataLocation)
        folder = Path(base or Path.home() / ".local" / "share") / "cnnviz"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


class CrashDialog(QDialog):
    """One non-modal dialog for all unexpected errors of a session.

    It is shown with ``show()``, never ``exec()``: a nested event loop would let
    the next exception open a dialog inside the dialog. Later errors only
    update the count and append their details.
    """

    def __init__(self, log_file: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("cnnviz: unexpected error")
        self.setMinimumWidth(560)
        self._log_file = log_file
        self._reports: list[str] = []
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.details = QPlainTextEdit(readOnly=True)
        self.details.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.details.setMinimumHeight(220)
        self.details.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.copy_button = QPushButton("Copy details")
        self.copy_button.clicked.connect(self.copy_details)
        folder_button = QPushButton("Open log folder")
        folder_button.clicked.connect(self._open_log_folder)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.addButton(self.copy_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.addButton(folder_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.close)
        icon = QLabel()
        warning = self.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning)
        icon.setPixmap(warning.pixmap(40, 40))
        icon.setAlignment(Qt.AlignmentFlag.AlignTop)
        header = QHBoxLayout()
        header.addWidget(icon)
        header.addWidget(self.summary, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(header)
        layout.addWidget(self.details)
        layout.addWidget(buttons)

    @property
    def report_count(self) -> int:
        return len(self._reports)

    def add_report(self, headline: str, details: str) -> None:
        self._reports.append(details)
        self.copy_button.setText("Copy details")
        if len(self._reports) == 1:
            text = f"<b>{_escape(headline)}</b>"
        else:
            text = f"<b>{len(self._reports)} unexpected errors</b>, the latest: {_escape(headline)}"
        self.summary.setText(
            f"{text}<br><br>Your work is still open: you can keep working, and saving "
            "under a new name is a good idea if something looks wrong. The details are "
            f"in {_escape(str(self._log_file))}; please include them when you report this."
        )
        self.details.setPlainText(self.all_details())
        self.details.verticalScrollBar().setValue(self.details.verticalScrollBar().maximum())

    def all_details(self) -> str:
        header = f"cnnviz {__version__}, Python {sys.version.split()[0]}, {sys.platform}\n"
        return header + "\n".join(self._reports)

    def copy_details(self) -> None:
        QGuiApplication.clipboard().setText(self.all_details())
        self.copy_button.setText("Copied")

    def _open_log_folder(self) -> None:
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(self._log_file.parent)))


class CrashHandler(QObject):
    """Routes uncaught exceptions to the log file and the dialog on the GUI thread."""

    # (headline, details); emitted from any thread, delivered on the GUI thread.
    error_reported = Signal(str, str)

    def __init__(self, log_dir: Path, show_dialog: bool = True) -> None:
        super().__init__()
        self.log_dir = Path(log_dir)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.log_file = self.log_dir / LOG_FILE_NAME
        self.fault_log_file = self.log_dir / FAULT_LOG_NAME
        self.show_dialog = show_dialog
        self.dialog: CrashDialog | None = None
        self._seen: dict[str, int] = {}
        self._handling = threading.local()
        self._file_handler: logging.Handler | None = None
        self._terminal_handler: logging.Handler | None = None
        self._fault_stream: TextIO | None = None
        self._fault_was_enabled = False
        self._previous_hooks: tuple = ()
        self.error_reported.connect(self._show_report)

    # -- installing -------------------------------------------------------

    def install(self) -> None:
        cnnviz_logger = logging.getLogger("cnnviz")
        self._file_handler = logging.handlers.RotatingFileHandler(
            self.log_file, maxBytes=2_000_000, backupCount=2, encoding="utf-8"
        )
        self._file_handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(threadName)s] %(message)s")
        )
        cnnviz_logger.addHandler(self._file_handler)
        if not logging.getLogger().handlers:
            # Nobody shows log messages yet: one line each on stderr, the
            # traceback stays in the file. An application that configured
            # logging itself keeps its own terminal output.
            self._terminal_handler = logging.StreamHandler(sys.stderr)
            self._terminal_handler.setLevel(logging.WARNING)
            self._terminal_handler.setFormatter(_FirstLineFormatter("cnnviz: %(message)s"))
            cnnviz_logger.addHandler(self._terminal_handler)
        self._previous_hooks = (sys.excepthook, threading.excepthook)
        sys.excepthook = self.handle_exception
        threading.excepthook = self._handle_thread_exception
        qInstallMessageHandler(_qt_message_handler)
        self._enable_faulthandler()
        # Straight to the file, whatever the logging level: where each session starts.
        self._file_handler.handle(
            LOG.makeRecord(
                LOG.name, logging.INFO, __file__, 0,
                "cnnviz %s started (pid %d)", (__version__, os.getpid()), None,
            )
        )  # fmt: skip

    def uninstall(self) -> None:
        """Put back what install() replaced (tests; a clean shutdown)."""
        if self._previous_hooks:
            sys.excepthook, threading.excepthook = self._previous_hooks
            self._previous_hooks = ()
        qInstallMessageHandler(None)
        if self._fault_stream is not None:
            faulthandler.disable()
            self._fault_stream.close()
            self._fault_stream = None
            if self._fault_was_enabled:  # e.g. pytest's, reporting to stderr
                faulthandler.enable(file=sys.__stderr__, all_threads=True)
        for handler in (self._file_handler, self._terminal_handler):
            if handler is not None:
                logging.getLogger("cnnviz").removeHandler(handler)
                handler.close()
        self._file_handler = self._terminal_handler = None
        if self.dialog is not None:
            self.dialog.close()
            self.dialog = None

    def _enable_faulthandler(self) -> None:
        if (
            self.fault_log_file.exists()
            and self.fault_log_file.stat().st_size > MAX_FAULT_LOG_BYTES
        ):
            self.fault_log_file.unlink()
        self._fault_was_enabled = faulthandler.is_enabled()
        # Kept open for the whole session: faulthandler writes to the raw file
        # descriptor from a signal handler, where nothing can be opened.
        self._fault_stream = open(self.fault_log_file, "a", encoding="utf-8")  # noqa: SIM115
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        self._fault_stream.write(f"--- cnnviz {__version__} pid {os.getpid()} started {stamp}\n")
        self._fault_stream.flush()
        faulthandler.enable(file=self._fault_stream, all_threads=True)

    # -- handling ---------------------------------------------------------

    def handle_exception(
        self,
        exc_type: type[BaseException],
        exc: BaseException,
        tb: TracebackType | None,
    ) -> None:
        """sys.excepthook: log, then report to the GUI thread. Never raises."""
        if issubclass(exc_type, KeyboardInterrupt):
            # Ctrl+C in the terminal: quit as the user asked, not an error.
            app = QCoreApplication.instance()
            if app is not None:
                app.quit()
            return
        if getattr(self._handling, "active", False):
            # The handler itself failed: print, do not recurse.
            traceback.print_exception(exc_type, exc, tb)
            return
        self._handling.active = True
        try:
            self._report(exc_type, exc, tb)
        except Exception:  # the last line of defence must not raise
            traceback.print_exc()
        finally:
            self._handling.active = False

    def _handle_thread_exception(self, args: threading.ExceptHookArgs) -> None:
        if args.exc_type is SystemExit:
            return
        self.handle_exception(args.exc_type, args.exc_value, args.exc_traceback)

    def _report(
        self, exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None
    ) -> None:
        details = "".join(traceback.format_exception(exc_type, exc, tb))
        headline = f"{exc_type.__name__}: {exc}".strip().rstrip(":")
        thread = threading.current_thread().name
        seen = self._seen.get(details, 0)
        self._seen[details] = seen + 1
        if seen == 0:
            LOG.error(
                "Unexpected error: %s (thread %s; details in %s)\n%s",
                headline,
                thread,
                self.log_file,
                details.rstrip(),
            )
        else:
            # A slot failing on every repaint must not flood the log.
            LOG.error("The same unexpected error again (%d times): %s", seen + 1, headline)
        if seen == 0 or self.dialog is None:
            self.error_reported.emit(headline, f"[{thread}] {details}")

    def _show_report(self, headline: str, details: str) -> None:
        if not self.show_dialog or QApplication.instance() is None:
            return
        if self.dialog is None or not shiboken6.isValid(self.dialog):
            # (A parent window that closed takes its children along.)
            self.dialog = CrashDialog(self.log_file, _active_window())
        self.dialog.add_report(headline, details)
        self.dialog.show()
        self.dialog.raise_()


_installed: CrashHandler | None = None


def install_crash_handler(log_dir: Path | None = None, show_dialog: bool = True) -> CrashHandler:
    """Catch every unexpected error from now on; call once, first thing in app.main.

    Works before the QApplication exists (the dialog waits for one). Calling
    it again replaces the previous handler.
    """
    global _installed
    if _installed is not None:
        _installed.uninstall()
    handler = CrashHandler(log_dir or app_data_dir() / "logs", show_dialog=show_dialog)
    handler.install()
    _installed = handler
    return handler


# Platform-plugin remarks that say nothing about cnnviz (the offscreen plugin
# used for screenshots and tests): kept in the log at debug level only.
_PLATFORM_NOISE = ("does not support propagateSizeHints",)


def _qt_message_handler(mode: QtMsgType, context: QMessageLogContext, message: str) -> None:
    level = _QT_LEVELS.get(mode, logging.WARNING)
    if any(noise in message for noise in _PLATFORM_NOISE):
        level = logging.DEBUG
    where = f" ({context.file}:{context.line})" if context.file else ""
    QT_LOG.log(level, "%s%s", message, where)


class _FirstLineFormatter(logging.Formatter):
    """The terminal gets one line per message; the traceback stays in the log file."""

    def format(self, record: logging.LogRecord) -> str:
        return super().format(record).splitlines()[0]


def _active_window() -> QWidget | None:
    app = QApplication.instance()
    return app.activeWindow() if isinstance(app, QApplication) else None


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
