"""File menu work: new, open, save, recent files, the unsaved-changes prompt,
and the ways an image or weights file comes in.

Errors never lose work: a file that cannot be read gets one plain line (in a
message box that does not block, and in the status bar) and the document stays
as it was.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from PySide6.QtCore import QIODevice, QObject, QSaveFile, Signal
from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from cnnviz.core import project as project_file
from cnnviz.core.architecture import ArchitectureError
from cnnviz.core.export_code import export_code
from cnnviz.core.project import Project, ProjectError
from cnnviz.qt.editor import commands
from cnnviz.qt.editor.document import Document, default_architecture
from cnnviz.qt.inputs.network_input import load_image_file
from cnnviz.qt.window import settings
from cnnviz.qt.window.import_folders import ImportFolders
from cnnviz.qt.window.panel_wiring import SAVED_DRAWING

log = logging.getLogger(__name__)

PROJECT_FILTER = "cnnviz projects and architectures (*.cnnviz *.json);;All files (*)"
SAVE_FILTER = "cnnviz project (*.cnnviz);;Architecture only (*.json)"
IMAGE_FILTER = (
    "Images (*.png *.jpg *.jpeg *.gif *.bmp *.tif *.tiff *.webp *.ppm *.pgm);;All files (*)"
)
WEIGHTS_FILTER = "Weights (*.safetensors *.pt *.pth);;All files (*)"
PYTHON_FILTER = "Python files (*.py);;All files (*)"


class FileOps(QObject):
    # One plain line for the status bar after a failure (empty: cleared).
    problem = Signal(str)
    message = Signal(str)
    recent_changed = Signal()

    def __init__(self, doc: Document, parent_widget: QWidget):
        super().__init__(parent_widget)
        self.doc = doc
        self.parent_widget = parent_widget
        self._boxes: list[QMessageBox] = []
        self.import_folders = ImportFolders()  # removed at close (main_window)
        doc.edit_refused.connect(self.problem)  # a read-only view's edits: one line

    # -- talking to the person -----------------------------------------------------

    def show_error(self, title: str, text: str) -> None:
        """The reason in the status bar and a box that does not block the app."""
        log.info("%s: %s", title, text)
        self.problem.emit(text)
        box = QMessageBox(QMessageBox.Icon.Warning, title, text, parent=self.parent_widget)
        box.setObjectName("error_box")
        box.finished.connect(lambda _r, b=box: self._boxes.remove(b) if b in self._boxes else None)
        self._boxes.append(box)
        box.open()

    def ask_to_save(self) -> QMessageBox.StandardButton:
        """Save, Discard or Cancel for a modified document (tests replace this)."""
        return QMessageBox.question(
            self.parent_widget,
            "Unsaved changes",
            f"Save the changes to “{self.doc.display_name}” before closing it?",
            QMessageBox.StandardButton.Save
            | QMessageBox.StandardButton.Discard
            | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Save,
        )

    def maybe_save(self) -> bool:
        """True when it is fine to drop the current document."""
        if not self.doc.modified:
            return True
        answer = self.ask_to_save()
        if answer == QMessageBox.StandardButton.Save:
            return self.save()
        return answer == QMessageBox.StandardButton.Discard

    # -- documents -------------------------------------------------------------------

    def confirm_replacing_weights(self) -> bool:
        """Before the network's weights are replaced (a preset, a weights file): the
        unsaved-changes question when they were trained and not saved since."""
        return not self.doc.weights_dirty or self.maybe_save()

    def new(self) -> bool:
        if not self.maybe_save():
            return False
        self.doc.reset(Project(default_architecture()), None)
        self.doc.set_image(None, None)
        self.message.emit("New network")
        return True

    def open_dialog(self) -> bool:
        if not self.maybe_save():
            return False
        path, _ = QFileDialog.getOpenFileName(
            self.parent_widget, "Open", settings.last_folder("project"), PROJECT_FILTER
        )
        return self.open_path(path) if path else False

    def open_path(self, path: str | Path) -> bool:
        """Open without asking (the caller has asked); on error the work stays."""
        path = Path(path)
        try:
            project = self.doc.open(path)
        except ProjectError as exc:
            self.show_error("Cannot open file", str(exc))
            return False
        if not self.import_folders.adopt(path):  # a temporary import is no recent file
            self._remember(path)
        self.load_project_image(project)
        self.problem.emit("")
        self.message.emit(f"Opened {path.name}")
        return True

    def load_project_image(self, project: Project) -> None:
        if project.image_data is not None:
            # A drawing saved with the project: exactly the array the network saw.
            self.doc.set_image(project.image_data, None, SAVED_DRAWING)
            return
        if project.image is None:
            self.doc.set_image(None, None)
            return
        try:
            image = load_image_file(project.image)
        except ValueError as exc:
            self.doc.set_image(None, None)
            self.show_error("Project image missing", f"The project's image is not usable: {exc}")
            return
        # Same path as the opened project: not an edit, the document stays unmodified.
        self.doc.set_image(image, project.image)

    def open_recent(self, path: str) -> bool:
        if not Path(path).is_file():
            settings.remove_recent_file(path)
            self.recent_changed.emit()
            self.show_error("Cannot open file", f"{Path(path).name}: the file is no longer there")
            return False
        return self.maybe_save() and self.open_path(path)

    def save(self) -> bool:
        if self.doc.path is None:
            return self.save_as()
        return self.save_to(self.doc.path)

    def save_as(self) -> bool:
        name = self.doc.path or Path(settings.last_folder("project")) / (
            _file_stem(self.doc.architecture.name) + project_file.SUFFIX
        )
        path, chosen = QFileDialog.getSaveFileName(
            self.parent_widget, "Save As", str(name), SAVE_FILTER
        )
        if not path:
            return False
        if not Path(path).suffix:
            path += ".json" if chosen.startswith("Architecture") else project_file.SUFFIX
        return self.save_to(path)

    def _remember(self, path: str | Path) -> None:
        """The folder for the next dialog, and the Recent Files menu."""
        settings.remember_folder("project", path)
        settings.add_recent_file(path)
        self.recent_changed.emit()

    def save_to(self, path: str | Path) -> bool:
        try:
            self.doc.save(path)
        except (OSError, ValueError) as exc:
            self.show_error("Cannot save", str(exc))
            return False
        self._remember(path)
        self.problem.emit("")
        self.message.emit(f"Saved {Path(path).name}")
        return True

    def export_pytorch_dialog(self) -> bool:
        name = Path(settings.last_folder("export")) / (
            _file_stem(self.doc.architecture.name) + ".py"
        )
        path, _ = QFileDialog.getSaveFileName(
            self.parent_widget, "Export as PyTorch", str(name), PYTHON_FILTER
        )
        return self.export_pytorch(path) if path else False

    def export_pytorch(self, path: str | Path) -> bool:
        """The network as a standalone PyTorch module (cnnviz.core.export_code);
        a network that cannot be written is one line in the status bar."""
        path = Path(path) if Path(path).suffix else Path(path).with_suffix(".py")
        try:
            write_text(export_code(self.doc.architecture, self.doc.analysis), path)
        except (ArchitectureError, OSError) as exc:
            self.problem.emit(f"Cannot export as PyTorch: {exc}")
            return False
        settings.remember_folder("export", path)
        self.problem.emit("")
        self.message.emit(f"Exported {path.name}: build_model() gives this network in PyTorch")
        return True

    # -- images and weights ----------------------------------------------------------

    def open_image_dialog(self) -> bool:
        path, _ = QFileDialog.getOpenFileName(
            self.parent_widget, "Open Image", settings.last_folder("image"), IMAGE_FILTER
        )
        return self.open_image(path) if path else False

    def open_image(self, path: str | Path, label: str = "") -> bool:
        """Load an image as the network input; a bad file keeps the previous one."""
        try:
            image = load_image_file(str(path))
        except ValueError as exc:
            self.show_error("Cannot use this image", str(exc))
            return False
        settings.remember_folder("image", path)
        self.doc.set_image(image, str(Path(path).resolve()), label)
        self.problem.emit("")
        self.message.emit(f"Input: {label or Path(path).name}")
        return True

    def use_array(self, image: np.ndarray, label: str) -> None:
        """A pasted or drawn picture (no file: the project saves the array itself)."""
        self.doc.set_image(image, None, label)
        self.problem.emit("")

    def load_weights_dialog(self) -> bool:
        path, _ = QFileDialog.getOpenFileName(
            self.parent_widget, "Load Weights", settings.last_folder("weights"), WEIGHTS_FILTER
        )
        if not path:
            return False
        settings.remember_folder("weights", path)
        return self.use_weights(path)

    def save_trained_weights(self, state: dict | None) -> bool:
        """Write the weights of the last training and use that file from now on."""
        if not state:
            self.show_error("No trained weights", "Train the network first (Training panel).")
            return False
        name = Path(settings.last_folder("weights")) / (
            _file_stem(self.doc.architecture.name) + ".safetensors"
        )
        path, _ = QFileDialog.getSaveFileName(
            self.parent_widget, "Save Trained Weights", str(name), WEIGHTS_FILTER
        )
        return self.write_weights(state, path) if path else False

    def write_weights(self, state: dict, path: str | Path) -> bool:
        try:
            write_safetensors(state, path)
        except (OSError, ValueError) as exc:
            self.show_error("Cannot save the weights", str(exc))
            return False
        settings.remember_folder("weights", path)
        self.message.emit(f"Saved weights {Path(path).name}")
        # The file holds the trained weights: nothing is lost by switching to it.
        return self.use_weights(str(Path(path).resolve()), confirm=False)

    def use_weights(self, path: str | None, *, confirm: bool = True) -> bool:
        if confirm and not self.confirm_replacing_weights():
            return False
        text = f"Load weights {Path(path).name}" if path else "Use random weights"
        command = commands.set_weights(self.doc, path, text)
        if command is not None:
            self.doc.undo_stack.push(command)
        return True


def write_text(text: str, path: str | Path) -> None:
    """A UTF-8 text file, atomically (a failed write leaves the old file); OSError."""
    _write_atomically(text.encode("utf-8"), path)


def write_safetensors(state: dict, path: str | Path) -> None:
    """Weights (name → array) as a safetensors file, atomically; OSError on failure."""
    from safetensors.numpy import save

    arrays = {name: np.ascontiguousarray(value) for name, value in state.items()}
    _write_atomically(save(arrays), path)


def _write_atomically(data: bytes, path: str | Path) -> None:
    out = QSaveFile(str(path))
    if not out.open(QIODevice.OpenModeFlag.WriteOnly):
        raise OSError(f"cannot write {Path(path).name}: {out.errorString()}")
    if out.write(data) != len(data) or not out.commit():
        reason = out.errorString()
        out.cancelWriting()
        raise OSError(f"cannot write {Path(path).name}: {reason}")


def _file_stem(name: str) -> str:
    stem = "".join(c if c.isalnum() or c in "-_" else "_" for c in name.lower()).strip("_")
    return stem or "untitled"
