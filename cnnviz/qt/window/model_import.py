"""File > Import PyTorch Model…: a person's own model (a Python file and a class
or factory in it, or a TorchScript file) converted and opened in the window.

Importing a Python file runs it, so the window asks first, and only on this
explicit request. The conversion runs in a process of its own
(``python -m cnnviz.commands.imported``): the person's code and torch stay out
of the window, which never imports torch. The process writes the converted
network as an architecture file beside its weights; the window opens that
file. A model that cannot be imported is one line in the status bar, and the
current work stays as it was.

A model torch.fx cannot trace opens as a read-only view hooked per module
(compute/importers/hooked_view.py): the window then imports the person's
file itself, in its compute thread, to run the live model for each image;
this too happens only because the person asked for this import. The status
bar says that the view is read-only and which line stopped the trace.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from PySide6.QtCore import QObject, QProcess, Signal
from PySide6.QtWidgets import QFileDialog, QInputDialog, QMessageBox

from cnnviz.core.layers.hooked import METADATA_KEY, is_hooked_metadata
from cnnviz.core.model_sources import python_names
from cnnviz.qt.window import settings

log = logging.getLogger(__name__)

MODEL_FILTER = "PyTorch models (*.py *.pt *.pth *.pt2);;All files (*)"
WEIGHTS_FILTER = "Weights under the model's own names (*.safetensors *.pt *.pth);;All files (*)"
WEIGHTS_TITLE = "Its weights (Cancel: the weights its constructor gives)"


class ModelImporter(QObject):
    """Runs one import at a time; ``done(ok)`` when it has ended."""

    done = Signal(bool)

    def __init__(self, files, parent=None) -> None:
        super().__init__(parent)
        self.files = files
        self.process: QProcess | None = None
        self._source = ""

    def dialog(self) -> bool:
        """Ask for the file, the class (for a .py, after saying it runs) and the input."""
        parent = self.files.parent_widget
        path, _ = QFileDialog.getOpenFileName(
            parent, "Import PyTorch Model", settings.last_folder("model"), MODEL_FILTER
        )
        if not path:
            return False
        settings.remember_folder("model", path)
        source = path
        if path.endswith(".py"):
            names = python_names(path) or ["Net"]
            name, ok = QInputDialog.getItem(
                parent, "Import PyTorch Model", "Class or factory (called without arguments):",
                names, 0, True,
            )  # fmt: skip
            if not ok or not name:
                return False
            answer = QMessageBox.warning(
                parent,
                "Import PyTorch Model",
                f"Importing runs {Path(path).name} as Python code. Only import code you trust.",
                QMessageBox.StandardButton.Ok | QMessageBox.StandardButton.Cancel,
            )
            if answer != QMessageBox.StandardButton.Ok:
                return False
            source = f"{path}:{name}"
        if path.endswith(".pt2"):  # an exported program knows its input
            return self.start(source, None)
        c, h, w = self.files.doc.architecture.input.as_tuple()
        size, ok = QInputDialog.getText(
            parent, "Import PyTorch Model", "Input size the model expects (C,H,W):",
            text=f"{c},{h},{w}",
        )  # fmt: skip
        if not ok or not size:
            return False
        weights, _ = QFileDialog.getOpenFileName(
            parent, WEIGHTS_TITLE, str(Path(path).parent), WEIGHTS_FILTER
        )
        return self.start(source, size.strip(), weights or None)

    def start(self, source: str, input_size: str | None, weights: str | None = None) -> bool:
        """Convert ``source`` for inputs of ``input_size`` ("C,H,W") in a process of its own."""
        if self.process is not None or not self.files.maybe_save():
            return False
        arguments = ["-m", "cnnviz.commands.imported", source]
        if input_size:
            arguments += ["--input", input_size]
        if weights:
            arguments += ["--weights", weights]
        self._source = source
        self.process = QProcess(self)
        self.process.finished.connect(self._finished)
        self.files.message.emit(f"Importing {Path(source.split(':')[0]).name}…")
        self.process.start(sys.executable, arguments)
        return True

    def _finished(self, code: int, _status) -> None:
        process, self.process = self.process, None
        out = bytes(process.readAllStandardOutput()).decode(errors="replace").strip()
        err = bytes(process.readAllStandardError()).decode(errors="replace").strip()
        process.deleteLater()
        if code != 0 or not out:
            lines = err.splitlines()
            reason = lines[-1] if lines else f"the import ended with status {code}"
            self.files.show_error("Cannot import the model", reason)
            self.done.emit(False)
            return
        opened = self.files.open_path(out.splitlines()[-1])
        metadata = self.files.doc.architecture.metadata
        if opened and is_hooked_metadata(metadata):  # a model torch.fx could not trace
            self.files.message.emit(metadata[METADATA_KEY].get("message", ""))
        elif opened:
            # A TorchScript import says how it was read (a chain checked numerically,
            # or one opaque layer and why); the note is the network's description.
            note = metadata.get("description", "")
            note = f" ({note})" if note else ""
            self.files.message.emit(f"Imported {Path(self._source).name}{note}: Save As to keep it")
        self.done.emit(opened)
