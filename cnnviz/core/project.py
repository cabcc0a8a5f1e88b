"""Project files: an architecture plus the weights, image and edits around it.

A ``.cnnviz`` project is JSON::

    {"format": "cnnviz-project", "version": 2,
     "architecture": {...the architecture file's object...},
     "weights": "lenet5.weights.safetensors" | null,
     "image": "photos/cat.jpg" | {"array": "image"} | null,
     "data": "lenet5.data.safetensors",
     "preprocessing": {"resize": "crop", ...},
     "kernel_edits": [{"layer": 0, "out_channel": 3,
                       "kernel": [[[...]]] | {"array": "kernel_edit.0"},
                       "bias": 0.0 | null}]}

``{"array": key}`` is an array in the project's data file (``data``, see
`cnnviz.core.project_files`): an image that is no file (drawn, pasted) and
kernels too large to be readable JSON. Version 1 has neither, and a project
without them is still written as version 1, so older cnnviz reads it.

Paths are written relative to the project's folder when the file lies inside
it (so a project folder can be moved), absolute otherwise, and are always
absolute in memory. A plain architecture file opens as a project too.
`write` saves the project with its sidecar files, each all or nothing.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from cnnviz.core import architecture as arch_file
from cnnviz.core import project_files as files
from cnnviz.core import safe_json
from cnnviz.core.analysis import analyze
from cnnviz.core.architecture import Architecture, ArchitectureError
from cnnviz.core.jobs import KernelEdit
from cnnviz.core.project_files import (
    ArrayRefs,
    DataFile,
    ProjectError,
    image_array,
)
from cnnviz.core.shapes import as_pair

FORMAT = "cnnviz-project"
VERSION = 2
SUFFIX = ".cnnviz"
IMAGE_KEY = "image"
MAX_SEED = 2**31 - 1


@dataclass(frozen=True)
class Project:
    architecture: Architecture
    weights: str | None = None
    image: str | None = None  # an image file
    preprocessing: Mapping[str, Any] = field(default_factory=dict)
    kernel_edits: tuple[KernelEdit, ...] = ()
    # The input image when it is no file (drawn, pasted): (H, W[, C]) float32.
    image_data: np.ndarray | None = None
    # The seed of the random initialisation (Compute > New Random Initialisation):
    # random weights are saved as their seed, never as a file that would pass
    # for trained weights when the project is opened again.
    seed: int = 0


@dataclass(frozen=True)
class Encoded:
    """A project as the bytes of its files: the JSON, and the data file if needed."""

    text: str
    data: bytes | None


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


def kernel_edit_to_json(edit: KernelEdit, arrays: ArrayRefs | None = None, index: int = 0) -> dict:
    kernel = np.asarray(edit.kernel, dtype=np.float32)
    return {
        "layer": edit.layer,
        "out_channel": edit.out_channel,
        "kernel": kernel.tolist() if arrays is None else arrays.kernel(index, kernel),
        "bias": None if edit.bias is None else float(edit.bias),
    }


def _to_json(project: Project, base_dir: Path | None, arrays: ArrayRefs) -> dict[str, Any]:
    if project.image_data is not None:
        image: Any = arrays.ref(IMAGE_KEY, image_array(project.image_data))
    else:
        image = _portable_path(project.image, base_dir)
    edits = [kernel_edit_to_json(e, arrays, i) for i, e in enumerate(project.kernel_edits)]
    return {
        "format": FORMAT,
        "version": 2 if arrays.arrays else 1,
        "architecture": project.architecture.to_json(),
        "weights": _portable_path(project.weights, base_dir),
        "image": image,
        "preprocessing": dict(project.preprocessing),
        "kernel_edits": edits,
        **({"seed": project.seed} if project.seed else {}),
    }


def to_json(project: Project, base_dir: Path | None = None) -> dict[str, Any]:
    """The JSON object of a project that needs no data file (ProjectError if it does)."""
    arrays = ArrayRefs()
    data = _to_json(project, base_dir, arrays)
    if arrays.arrays:
        raise ProjectError("this project has arrays for a data file: write it with `encode`")
    return data


def encode(project: Project, path: str | Path) -> Encoded:
    """The files of `project` saved as `path`; ProjectError if it could not be read back."""
    path = Path(path)
    arrays = ArrayRefs()
    data = _to_json(project, path.parent, arrays)
    blob = None
    if arrays.arrays:
        data["data"] = files.sidecar(path, files.DATA_SUFFIX).name
        try:
            blob = files.encode_data(arrays.arrays)
        except ProjectError as exc:
            raise ProjectError(f"cannot save {path.name}: {exc}") from None
    text = json.dumps(data, indent=2) + "\n"
    if len(text.encode("utf-8")) > files.MAX_JSON_BYTES:
        # Never write what could not be opened again.
        raise ProjectError(f"cannot save {path.name}: the project is too large for its JSON file")
    return Encoded(text, blob)


def dumps(project: Project, base_dir: Path | None = None) -> str:
    return json.dumps(to_json(project, base_dir), indent=2) + "\n"


def write(
    project: Project, path: str | Path, weights: Mapping[str, np.ndarray] | None = None
) -> Project:
    """Save `project` as `path` with its sidecars, each file all or nothing.

    With `weights` (a state dict), they are written as ``<name>.weights.safetensors``
    and the project refers to that file. Returns the project as written.
    OSError when a file cannot be written, ProjectError when the project could
    not be read back (nothing is written then).
    """
    path = Path(path)
    weights_file = files.sidecar(path, files.WEIGHTS_SUFFIX)
    if weights is not None:
        project = replace(project, weights=str(weights_file))
    encoded = encode(project, path)
    if weights is not None:
        files.write_weights(weights, weights_file)
    data_file = files.sidecar(path, files.DATA_SUFFIX)
    if encoded.data is not None:
        files.write_atomically(data_file, encoded.data)
    files.write_atomically(path, encoded.text.encode("utf-8"))
    # Sidecars left by an earlier save that nothing refers to now.
    if encoded.data is None:
        data_file.unlink(missing_ok=True)
    if project.weights is None or Path(project.weights).resolve() != weights_file.resolve():
        weights_file.unlink(missing_ok=True)
    return project


def save(project: Project, path: str | Path) -> None:
    """Write the project (without new weights); see `write`."""
    write(project, path)


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


def _image(raw: Any, base_dir: Path | None, data: DataFile) -> tuple[str | None, Any]:
    """(file path, array): an image file, an array of the data file, or neither."""
    if isinstance(raw, dict):
        return None, image_array(data.array(raw, "the image"))
    return _resolve(raw, "image", base_dir), None


def _kernel_array(index: int, raw: Any, data: DataFile) -> np.ndarray:
    if isinstance(raw, dict):
        raw = data.array(raw, f"kernel edit {index}")
    try:
        kernel = np.asarray(raw, dtype=np.float64)
    except (TypeError, ValueError):
        raise ProjectError(f"kernel edit {index}: the kernel must be numbers") from None
    if kernel.ndim != 3 or kernel.size == 0:
        raise ProjectError(
            f"kernel edit {index}: the kernel must be (in_channels, height, width) numbers"
        )
    # No limit on the size here: the layer's shape decides (kernel_edit_problem),
    # and the files holding the numbers are bounded.
    return files.finite(kernel, f"kernel edit {index}: the kernel")


def _is_index(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _kernel_edit(index: int, raw: Any, data: DataFile) -> KernelEdit:
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
    kernel = _kernel_array(index, raw.get("kernel"), data)
    return KernelEdit(layer, channel, kernel, None if bias is None else float(bias))


def kernel_edit_problem(arch: Architecture, edit: KernelEdit) -> str | None:
    """Why `edit` does not fit `arch` (e.g. after the layer changed), or None."""
    # `edit.layer` is a flat index (Analysis.layers: blocks and what they hold).
    layers = analyze(arch).layers
    if not 0 <= edit.layer < len(layers):
        return f"layer {edit.layer} does not exist"
    info = layers[edit.layer]
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


def _kernel_edits(raw: Any, arch: Architecture, data: DataFile) -> tuple[KernelEdit, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise ProjectError('"kernel_edits" must be a list')
    edits = tuple(_kernel_edit(i, item, data) for i, item in enumerate(raw))
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
    arrays = DataFile(_resolve(data.get("data"), "data", base_dir))
    image, image_data = _image(data.get("image"), base_dir, arrays)
    return Project(
        architecture,
        weights=_resolve(data.get("weights"), "weights", base_dir),
        image=image,
        preprocessing=_check_preprocessing(data.get("preprocessing")),
        kernel_edits=_kernel_edits(data.get("kernel_edits"), architecture, arrays),
        image_data=image_data,
        seed=_seed(data.get("seed", 0)),
    )


def _seed(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_SEED:
        raise ProjectError(f"seed: expected a whole number from 0 to {MAX_SEED}, got {value!r}")
    return value


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


def _parse(text: str) -> Any:
    try:
        return safe_json.parse(text)  # bounded nesting and numbers, no lone surrogates
    except safe_json.JsonError as exc:
        raise ProjectError(str(exc)) from None


def loads(text: str, base_dir: Path | None = None) -> Project:
    """A project or plain architecture from JSON text (its data file read from `base_dir`)."""
    data = _parse(text)
    try:
        if isinstance(data, dict) and data.get("format") == arch_file.FORMAT:
            return _from_architecture(data, base_dir)
        if isinstance(data, dict) and "format" not in data:
            raise ProjectError('not a cnnviz file: it has no "format" key')
        return from_json(data, base_dir)
    except RecursionError:
        raise ProjectError("the architecture is nested too deeply") from None


def read_text(path: Path) -> str:
    """A project file's text, bounded; ProjectError naming the file."""
    data = files.read_bounded(path, files.MAX_JSON_BYTES, "a cnnviz project")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ProjectError(f"{path.name}: not a text file") from None


def load(path: str | Path) -> Project:
    """Read a project or architecture file; ProjectError names the file and the problem."""
    path = Path(path)
    text = read_text(path)
    try:
        return loads(text, path.parent.resolve())
    except ProjectError as exc:
        raise ProjectError(f"{path.name}: {exc}") from None
