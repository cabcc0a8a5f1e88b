"""Project files: an architecture plus the weights, image and edits around it.

A ``.cnnviz`` project is JSON (version 1)::

    {"format": "cnnviz-project", "version": 1,
     "architecture": {...the architecture file's object...},
     "weights": "lenet5.safetensors" | null,
     "image": "photos/cat.jpg" | null,
     "preprocessing": {"resize": "crop", ...},
     "kernel_edits": [{"layer": 0, "out_channel": 3,
                       "kernel": [[[...]]], "bias": 0.0 | null}]}

Paths are written relative to the project's folder when the file lies inside
it (so a project folder can be moved), absolute otherwise, and are always
absolute in memory. A plain architecture file opens as a project too.
Writing is left to the caller for atomicity (the GUI uses QSaveFile); `save`
here writes a temporary file and renames it, for callers without Qt.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cnnviz.core import architecture as arch_file
from cnnviz.core.analysis import analyze
from cnnviz.core.architecture import Architecture, ArchitectureError
from cnnviz.core.jobs import KernelEdit
from cnnviz.core.shapes import as_pair

FORMAT = "cnnviz-project"
VERSION = 1
SUFFIX = ".cnnviz"
# A hand-set kernel is for teaching: a few small kernels, never a weight dump.
MAX_KERNEL_VALUES = 4096


class ProjectError(ValueError):
    """A project file that cannot be used, with a readable one-line reason."""


@dataclass(frozen=True)
class Project:
    architecture: Architecture
    weights: str | None = None
    image: str | None = None
    preprocessing: Mapping[str, Any] = field(default_factory=dict)
    kernel_edits: tuple[KernelEdit, ...] = ()


# -- writing ---------------------------------------------------------------


def _portable_path(path: str | None, base_dir: Path | None) -> str | None:
    """`path` relative to `base_dir` when it lies inside it, else absolute."""
    if path is None:
        return None
    absolute = Path(path).resolve()
    if base_dir is not None:
        try:
            return absolute.relative_to(base_dir.resolve()).as_posix()
        except ValueError:
            pass
    return str(absolute)


def kernel_edit_to_json(edit: KernelEdit) -> dict[str, Any]:
    return {
        "layer": edit.layer,
        "out_channel": edit.out_channel,
        "kernel": np.asarray(edit.kernel, dtype=np.float32).tolist(),
        "bias": None if edit.bias is None else float(edit.bias),
    }


def to_json(project: Project, base_dir: Path | None = None) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "version": VERSION,
        "architecture": project.architecture.to_json(),
        "weights": _portable_path(project.weights, base_dir),
        "image": _portable_path(project.image, base_dir),
        "preprocessing": dict(project.preprocessing),
        "kernel_edits": [kernel_edit_to_json(e) for e in project.kernel_edits],
    }


def dumps(project: Project, base_dir: Path | None = None) -> str:
    return json.dumps(to_json(project, base_dir), indent=2) + "\n"


def save(project: Project, path: str | Path) -> None:
    """Write via a temporary file and a rename, so a crash never leaves half a file."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(dumps(project, path.parent), encoding="utf-8")
    os.replace(tmp, path)


# -- reading ---------------------------------------------------------------


def _resolve(value: Any, key: str, base_dir: Path | None) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ProjectError(f'"{key}" must be a file path or null, got {value!r}')
    path = Path(value)
    if not path.is_absolute() and base_dir is not None:
        path = base_dir / path
    return str(path)


def _check_preprocessing(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ProjectError('"preprocessing" must be an object of settings')
    for key, item in value.items():
        if not isinstance(item, str | int | float | bool | list) and item is not None:
            raise ProjectError(f'preprocessing "{key}" must be a plain value, got {item!r}')
    return dict(value)


def _kernel_array(index: int, raw: Any) -> np.ndarray:
    try:
        kernel = np.asarray(raw, dtype=np.float64)
    except (TypeError, ValueError):
        raise ProjectError(f"kernel edit {index}: the kernel must be numbers") from None
    if kernel.ndim != 3 or kernel.size == 0:
        raise ProjectError(
            f"kernel edit {index}: the kernel must be (in_channels, height, width) numbers"
        )
    if kernel.size > MAX_KERNEL_VALUES:
        raise ProjectError(f"kernel edit {index}: the kernel is too large ({kernel.size} values)")
    if not np.all(np.isfinite(kernel)):
        raise ProjectError(f"kernel edit {index}: the kernel holds a value that is not finite")
    return np.ascontiguousarray(kernel, dtype=np.float32)


def _is_index(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _kernel_edit(index: int, raw: Any) -> KernelEdit:
    if not isinstance(raw, dict):
        raise ProjectError(f"kernel edit {index}: must be an object")
    layer, channel = raw.get("layer"), raw.get("out_channel")
    if not _is_index(layer) or not _is_index(channel):
        raise ProjectError(f'kernel edit {index}: "layer" and "out_channel" must be whole numbers')
    bias = raw.get("bias")
    if bias is not None and (
        isinstance(bias, bool) or not isinstance(bias, int | float) or not math.isfinite(bias)
    ):
        raise ProjectError(f'kernel edit {index}: "bias" must be a number or null')
    kernel = _kernel_array(index, raw.get("kernel"))
    return KernelEdit(layer, channel, kernel, None if bias is None else float(bias))


def kernel_edit_problem(arch: Architecture, edit: KernelEdit) -> str | None:
    """Why `edit` does not fit `arch` (e.g. after the layer changed), or None."""
    if edit.layer >= len(arch.layers):
        return f"layer {edit.layer} does not exist"
    info = analyze(arch).layers[edit.layer]
    layer = info.layer
    if layer.type != "Conv2d":
        return f"layer {edit.layer} is a {layer.type}, not a Conv2d"
    if info.input_shape is None or info.output_shape is None:
        return f"layer {edit.layer} is not computable"
    if edit.out_channel >= info.output_shape[0]:
        return f"layer {edit.layer} has no output channel {edit.out_channel}"
    kh, kw = as_pair(layer.get("kernel_size"))
    expected = (info.input_shape[0] // layer.get("groups"), kh, kw)
    if tuple(edit.kernel.shape) != expected:
        shape = "×".join(map(str, edit.kernel.shape))
        return f"the kernel is {shape} but layer {edit.layer} needs {'×'.join(map(str, expected))}"
    return None


def _kernel_edits(raw: Any, arch: Architecture) -> tuple[KernelEdit, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise ProjectError('"kernel_edits" must be a list')
    edits = tuple(_kernel_edit(i, item) for i, item in enumerate(raw))
    for i, edit in enumerate(edits):
        problem = kernel_edit_problem(arch, edit)
        if problem:
            raise ProjectError(f"kernel edit {i}: {problem}")
    return edits


def from_json(data: Any, base_dir: Path | None = None) -> Project:
    """A Project from parsed JSON; ProjectError says what is wrong."""
    arch_file.check_header(data, FORMAT, VERSION, "project", ProjectError)
    try:
        architecture = arch_file.from_json(data.get("architecture"))
    except ArchitectureError as exc:
        raise ProjectError(f"architecture: {exc}") from None
    return Project(
        architecture,
        weights=_resolve(data.get("weights"), "weights", base_dir),
        image=_resolve(data.get("image"), "image", base_dir),
        preprocessing=_check_preprocessing(data.get("preprocessing")),
        kernel_edits=_kernel_edits(data.get("kernel_edits"), architecture),
    )


def _from_architecture(data: Any, base_dir: Path | None) -> Project:
    try:
        architecture = arch_file.from_json(data)
    except ArchitectureError as exc:
        raise ProjectError(str(exc)) from None
    weights = architecture.metadata.get("weights")
    weights_file = None
    if isinstance(weights, str) and base_dir is not None and (base_dir / weights).is_file():
        weights_file = str(base_dir / weights)
    return Project(architecture, weights=weights_file)


def loads(text: str, base_dir: Path | None = None) -> Project:
    """A project or plain architecture from JSON text."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ProjectError(f"not valid JSON (line {exc.lineno}: {exc.msg})") from None
    if isinstance(data, dict) and data.get("format") == arch_file.FORMAT:
        return _from_architecture(data, base_dir)
    if isinstance(data, dict) and "format" not in data:
        raise ProjectError('not a cnnviz file: it has no "format" key')
    return from_json(data, base_dir)


def load(path: str | Path) -> Project:
    """Read a project or architecture file; ProjectError names the file and the problem."""
    path = Path(path)
    text = arch_file.read_text_file(path, "project", ProjectError)
    try:
        return loads(text, path.parent.resolve())
    except ProjectError as exc:
        raise ProjectError(f"{path.name}: {exc}") from None
