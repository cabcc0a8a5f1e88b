"""The open document: the architecture being edited and what goes with it.

One `Document` per window. Every edit of the architecture or the hand-set
kernels goes through `undo_stack` (see `cnnviz.qt.editor.commands`), which calls
`apply_state`; `changed` then tells the stack, the properties panel and the
compute controller. The modified flag is the undo stack's clean state plus
changes that are not undoable (a new image, new weights).

Saving writes what the network holds now: the weights come from the compute
thread (`weights_provider`, set by the controller), so trained weights are
saved, not the file they started from; a drawn or pasted image is saved as an
array. Reopening gives the same forward, value for value.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoStack

from cnnviz.core import project as project_file
from cnnviz.core import project_files
from cnnviz.core.analysis import Analysis, analyze
from cnnviz.core.architecture import Architecture, InputShape
from cnnviz.core.jobs import KernelEdit
from cnnviz.core.layers.hooked import edit_refusal, is_hooked_metadata, save_refusal
from cnnviz.core.preprocess import declared_settings
from cnnviz.core.project import Project, ProjectError
from cnnviz.core.resources import resources_dir

log = logging.getLogger(__name__)

UNTITLED = "untitled"

# (known token, timeout) → (token, state dict or None when unchanged or fresh, fresh),
# or None without a model; see ForwardRunner.weights_snapshot.
WeightsProvider = Callable[..., "tuple[int, dict[str, np.ndarray] | None, bool] | None"]


def default_architecture() -> Architecture:
    """What File > New starts from: a small net that already shows something."""
    from cnnviz.core.architecture import Layer

    layers = (
        Layer.make("Conv2d", out_channels=8, kernel_size=3, padding=1),
        Layer.make("ReLU"),
        Layer.make("MaxPool2d", kernel_size=2),
    )
    return Architecture(UNTITLED, InputShape(3, 64, 64), layers)


@dataclass(frozen=True)
class Snapshot:
    """Unsaved work for autosave: the project, and where its current weights come from
    when they are in no file yet (trained since the last save)."""

    project: Project
    weights: WeightsProvider | None = None


@dataclass(frozen=True)
class DocumentState:
    """What an undoable edit changes."""

    architecture: Architecture
    kernel_edits: tuple[KernelEdit, ...] = ()
    weights: str | None = None  # safetensors / .pt file for the stack


class _EditStack(QUndoStack):
    """The undo stack, refusing every edit of a read-only document (a hooked view of a
    model cnnviz could not trace) in one line: nothing is pushed, nothing changes.
    An edit that leaves the view for a network of its own (a preset) is let through."""

    def __init__(self, doc: Document) -> None:
        super().__init__(doc)
        self._doc = doc

    def push(self, command) -> None:
        after = getattr(command, "after", None)
        leaves = after is not None and not is_hooked_metadata(after.architecture.metadata)
        if self._doc.read_only is not None and not leaves:
            log.info("edit refused: %s", self._doc.read_only)
            self._doc.edit_refused.emit(self._doc.read_only)
            return
        super().push(command)


class Document(QObject):
    # The architecture or the hand-set kernels changed (after every edit).
    changed = Signal()
    # Layers the views should select after an edit, undo or redo: flat indices
    # into `analysis.layers` (pre-order; the rows of a network without blocks).
    selection_requested = Signal(list)
    # The network input's source changed: a new image, drawing or none.
    image_changed = Signal()
    weights_changed = Signal()  # the weights file (or none) the document refers to
    # The network's weights changed outside any file (an epoch of training).
    weights_trained = Signal()
    path_changed = Signal()
    modified_changed = Signal(bool)
    # A whole new document (new, open, restore): views reload everything.
    reset_done = Signal()
    # An edit of a read-only document was refused: the one line saying why.
    edit_refused = Signal(str)

    def __init__(self, architecture: Architecture | None = None, parent: QObject | None = None):
        super().__init__(parent)
        self.undo_stack = _EditStack(self)
        self.undo_stack.cleanChanged.connect(self._emit_modified)
        self._state = DocumentState(architecture or default_architecture())
        self._analysis = analyze(self._state.architecture)
        self._path: Path | None = None
        self._dirty = False  # changes outside the undo stack
        self.image_path: str | None = None
        self.image: np.ndarray | None = None  # (H, W, 3) or (H, W) float32 in [0, 1]
        self.image_label = ""
        self.preprocessing: dict[str, Any] = {}
        self.seed = 0  # of the random initialisation of layers without loaded weights
        # Asks the compute thread for the weights the network holds (the controller sets it).
        self.weights_provider: WeightsProvider | None = None
        # The network's weights changed in a way no file holds (a training) since the last save.
        self.weights_dirty = False
        self._saved_weights: tuple[int, str, int, int] | None = None  # token, file, mtime, size

    # -- the state edits change ----------------------------------------------

    @property
    def architecture(self) -> Architecture:
        return self._state.architecture

    @property
    def kernel_edits(self) -> tuple[KernelEdit, ...]:
        return self._state.kernel_edits

    @property
    def state(self) -> DocumentState:
        return self._state

    @property
    def analysis(self) -> Analysis:
        """The analysis of the current architecture (computed once per edit)."""
        return self._analysis

    @property
    def weights_path(self) -> str | None:
        return self._state.weights

    @property
    def read_only(self) -> str | None:
        """Why no edit is taken (a hooked view of a model cnnviz could not trace), or None."""
        metadata = self._state.architecture.metadata
        return edit_refusal(metadata) if is_hooked_metadata(metadata) else None

    def address_of(self, index: int) -> str:
        """The torch module name ("3", "3.body.0") of the layer at flat index `index`."""
        return self._analysis.layers[index].address

    def index_of(self, address: str) -> int:
        """The flat index (position in `analysis.layers`) of the layer at `address`."""
        return self._analysis.at(address).index

    def apply_state(self, state: DocumentState, selection: list[int] | None = None) -> None:
        """Called by the undo commands only; everything else pushes a command."""
        if state.architecture is not self._state.architecture:
            self._analysis = analyze(state.architecture)
        weights_differ = state.weights != self._state.weights
        self._state = state
        self.changed.emit()
        if weights_differ:
            self.weights_changed.emit()
        if selection is not None:
            self.selection_requested.emit(list(selection))

    # -- modified flag and file path -----------------------------------------

    @property
    def path(self) -> Path | None:
        return self._path

    @property
    def display_name(self) -> str:
        return self._path.name if self._path else self.architecture.name or UNTITLED

    @property
    def modified(self) -> bool:
        if self.read_only is not None:  # nothing in it can be saved, so nothing to lose
            return False
        return self._dirty or not self.undo_stack.isClean()

    def mark_dirty(self) -> None:
        was = self.modified
        self._dirty = True
        if not was:
            self.modified_changed.emit(True)

    def _emit_modified(self, _clean: bool = True) -> None:
        self.modified_changed.emit(self.modified)

    def mark_weights_changed(self) -> None:
        """The network's weights changed outside any file (training): unsaved work."""
        self.weights_dirty = True
        self.mark_dirty()
        self.weights_trained.emit()

    def _mark_saved(self, path: Path | None) -> None:
        self._dirty = False
        self.weights_dirty = False
        self.undo_stack.setClean()
        if path != self._path:
            self._path = path
            self.path_changed.emit()
        self.modified_changed.emit(self.modified)

    # -- whole documents -------------------------------------------------------

    def reset(self, project: Project, path: Path | None) -> None:
        """Replace everything (File > New/Open): a fresh undo history."""
        self.undo_stack.clear()
        self._state = DocumentState(
            project.architecture, tuple(project.kernel_edits), project.weights
        )
        self._analysis = analyze(self._state.architecture)
        self.image_path = project.image
        # None chosen yet: the network's own (the ImageNet presets': resize 256, crop 224).
        self.preprocessing = dict(project.preprocessing) or declared_settings(
            project.architecture.metadata
        )
        self.seed = project.seed
        self._saved_weights = None
        self.changed.emit()
        self.weights_changed.emit()
        self.selection_requested.emit([0] if self.architecture.layers else [])
        self._mark_saved(path)
        self.reset_done.emit()

    def to_project(self) -> Project:
        return Project(
            self.architecture,
            weights=self.weights_path,
            image=self.image_path,
            preprocessing=dict(self.preprocessing),
            kernel_edits=self.kernel_edits,
            # Drawn or pasted: no file holds it, so the project does.
            image_data=self.image if self.image_path is None else None,
            seed=self.seed,
        )

    def open(self, path: str | Path) -> Project:
        """Load a project or architecture file; on ProjectError nothing changes."""
        path = Path(path).resolve()
        project = project_file.load(path)
        # A bundled preset opens untitled, so Save never overwrites the original.
        self.reset(project, None if _is_bundled(path) else path)
        return project

    def save(self, path: str | Path) -> None:
        """Write the project (or a plain architecture for .json) with the weights the
        network holds now; each file all or nothing. OSError with the reason."""
        path = Path(path).resolve()
        if self.read_only is not None:
            raise OSError(save_refusal(self.architecture.metadata))
        if _is_json(path):
            project_files.write_atomically(path, self.architecture.dumps().encode("utf-8"))
        else:
            project, weights, token = self._weights_for(path)
            try:
                project_file.write(project, path, weights)
            except ProjectError as exc:
                raise OSError(str(exc)) from None
            if token is not None:
                self._remember_weights(token, project_files.sidecar(path, WEIGHTS))
        log.info("saved %s", path)
        self._mark_saved(path)

    def _weights_for(self, path: Path) -> tuple[Project, dict | None, int | None]:
        """(project, weights to write or None, their token): the network's weights now.

        Without a model (nothing computed yet) the document's weights file is what
        the network holds, and so it is when the weights are a new network's.
        Unchanged weights already in the sidecar are not written again (a large
        network's file is only rewritten after it changed)."""
        project = self.to_project()
        target = project_files.sidecar(path, WEIGHTS)
        try:
            current = self.current_weights(self._written_token(target))
        except RuntimeError as exc:
            if not self.weights_dirty:
                log.warning("saving the weights file reference only: %s", exc)
                return project, None, None
            raise OSError(f"the network's weights cannot be saved: {exc}") from None
        if current is None:
            return project, None, None
        token, state, fresh = current
        if fresh:  # a new network's random weights: the project needs no file for them
            return project, None, None
        if state is None:
            return replace(project, weights=str(target)), None, token
        return project, state, token

    def current_weights(self, known: int | None = None, timeout_s: float = 60.0):
        """(token, state or None if unchanged since `known`), or None without a model."""
        if self.weights_provider is None:
            return None
        return self.weights_provider(known, timeout_s)

    def _written_token(self, target: Path) -> int | None:
        """The token of the weights last written to `target`, if the file is still theirs."""
        if self._saved_weights is None or self._saved_weights[1] != str(target):
            return None
        try:
            stat = target.stat()
        except OSError:
            return None
        same = self._saved_weights[2:] == (stat.st_mtime_ns, stat.st_size)
        return self._saved_weights[0] if same else None

    def _remember_weights(self, token: int, target: Path) -> None:
        stat = target.stat()
        self._saved_weights = (token, str(target), stat.st_mtime_ns, stat.st_size)

    def snapshot(self) -> Snapshot | None:
        """The unsaved work for autosave, or None when there is nothing unsaved."""
        if not self.modified:
            return None
        return Snapshot(self.to_project(), self.weights_provider if self.weights_dirty else None)

    def restore_snapshot(self, snapshot: str | Snapshot) -> Project:
        """Bring back autosaved work as an unsaved document; ProjectError if unusable."""
        if isinstance(snapshot, Snapshot):
            project = snapshot.project
        else:
            project = project_file.loads(snapshot)
        self.reset(project, None)
        self.mark_dirty()
        return project

    # -- inputs that are not undoable ----------------------------------------

    def set_image(self, image: np.ndarray | None, path: str | None, label: str = "") -> None:
        """A new network input source; `path` None for drawings and pastes."""
        self.image = image
        self.image_label = label or (Path(path).name if path else "")
        if path != self.image_path:
            self.image_path = path
            self.mark_dirty()
        self.image_changed.emit()

    def set_seed(self, seed: int) -> None:
        """Another random initialisation (not undoable, like a new weights file)."""
        if seed != self.seed:
            self.seed = seed
            self.mark_dirty()
            self.weights_changed.emit()

    def set_preprocessing(self, settings: dict[str, Any]) -> None:
        if settings != self.preprocessing:
            self.preprocessing = dict(settings)
            self.mark_dirty()
            self.image_changed.emit()


def _is_bundled(path: Path) -> bool:
    try:
        return path.is_relative_to(resources_dir().resolve())
    except FileNotFoundError:
        return False


WEIGHTS = project_files.WEIGHTS_SUFFIX


def _is_json(path: Path) -> bool:
    return path.suffix.lower() == ".json"


__all__ = ["Document", "DocumentState", "ProjectError", "Snapshot", "default_architecture"]
