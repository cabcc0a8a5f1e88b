"""The files of a saved project, and bounded, all-or-nothing reading and writing.

A project ``lenet.cnnviz`` (JSON, small) may have two files beside it::

    lenet.weights.safetensors   the network's weights when it was saved: a plain
                                state dict with torch's keys, so any weights
                                loader (Load Weights, ``cnnviz run``) reads it
    lenet.data.safetensors      the project's own arrays that are no file of
                                their own: a drawn or pasted input image, large
                                hand-set kernels

Both are safetensors (never pickle). Every file is written to a temporary file,
flushed to disk and renamed over the old one, so a crash leaves the old file
or the new one, never half of one; the JSON goes last, so it never refers to
a sidecar that is not there yet.

Reading is bounded, and the writer checks the same bounds before writing, so
everything cnnviz writes it can read back: the JSON at most ``MAX_JSON_BYTES``
(large arrays never go into it), the data file at most ``MAX_DATA_BYTES``.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from cnnviz.core import safe_files, safe_json

WEIGHTS_SUFFIX = ".weights.safetensors"
DATA_SUFFIX = ".data.safetensors"
# The JSON holds structure and small kernels only; arrays go to the data file.
MAX_JSON_BYTES = 64 * 1024 * 1024
# Generous: a drawn image is 0.3 MB, a pasted one at most 48 MB, kernels less.
MAX_DATA_BYTES = 4 * 1024 * 1024 * 1024
_FLOAT32 = np.dtype(np.float32)
# Kernels up to this size stay readable in the JSON (version 1's limit, so such
# a project still opens in older cnnviz); larger ones go to the data file.
INLINE_KERNEL_VALUES = 4096
# Past this many inline values in all, kernels go to the data file too: the
# JSON stays small however many kernels are set by hand.
INLINE_TOTAL_VALUES = 65_536
MAX_IMAGE_SIDE = 16_384


class ProjectError(ValueError):
    """A project file that cannot be used (or written), with a readable one-line reason."""


def sidecar(path: str | Path, suffix: str) -> Path:
    """``lenet.cnnviz`` → ``lenet<suffix>`` in the same folder."""
    path = Path(path)
    return path.with_name(path.stem + suffix)


# -- arrays in the JSON and in the data file ------------------------------------------


class ArrayRefs:
    """Arrays bound for the data file, each replaced in the JSON by a reference."""

    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}
        self.inline_values = 0

    def ref(self, key: str, array: np.ndarray) -> dict[str, str]:
        self.arrays[key] = array
        return {"array": key}

    def kernel(self, index: int, kernel: np.ndarray) -> Any:
        kernel = np.asarray(kernel, dtype=np.float32)
        budget = INLINE_TOTAL_VALUES - self.inline_values
        if kernel.size <= min(INLINE_KERNEL_VALUES, budget):
            self.inline_values += kernel.size
            return kernel.tolist()  # float32 → float is exact, and so is the way back
        return self.ref(f"kernel_edit.{index}", kernel)


class DataFile:
    """A project's data file, read when the first array is asked for."""

    def __init__(self, path: str | None) -> None:
        self.path = path
        self._arrays: dict[str, np.ndarray] | None = None

    def array(self, raw: Mapping[str, Any], what: str) -> np.ndarray:
        key = raw.get("array")
        if not isinstance(key, str):
            raise ProjectError(f'{what}: "array" must name an array of the data file')
        if self.path is None:
            raise ProjectError(f'{what} is in a data file, but the project names none ("data")')
        if self._arrays is None:
            try:
                self._arrays = read_data(self.path)
            except ProjectError as exc:
                raise ProjectError(f"data file {exc}") from None
        if key not in self._arrays:
            raise ProjectError(f"{what}: the data file has no array '{key}'")
        return self._arrays[key]


def finite(array: np.ndarray, what: str) -> np.ndarray:
    """`array` as contiguous float32, or ProjectError if a value is not finite."""
    if not np.all(np.isfinite(array)):
        raise ProjectError(f"{what} holds a value that is not finite")
    return np.ascontiguousarray(array, dtype=np.float32)


def image_array(image: Any) -> np.ndarray:
    """A drawn or pasted image as the reader accepts it (the writer checks it too)."""
    image = np.asarray(image)
    if image.dtype.kind not in "fiu":
        raise ProjectError("the image must be numbers")
    shape = image.shape
    if not (image.ndim == 2 or (image.ndim == 3 and shape[2] in (1, 3, 4))):
        raise ProjectError(f"the image must be (height, width[, channels]), got {shape}")
    if not all(1 <= side <= MAX_IMAGE_SIDE for side in shape[:2]):
        raise ProjectError(f"the image is {shape[1]}×{shape[0]}; sides go up to {MAX_IMAGE_SIDE}")
    return finite(image, "the image")


def with_absolute_paths(text: str, base_dir: Path) -> str:
    """Project text whose relative paths are made absolute against `base_dir`
    (a snapshot moved away from its sidecars' folder); unparsable text unchanged."""
    try:
        data = safe_json.parse(text)
    except ValueError:  # safe_json.JsonError among them
        return text
    if not isinstance(data, dict) or data.get("format") != "cnnviz-project":
        return text
    relative = [
        key
        for key in ("weights", "image", "data")
        if isinstance(data.get(key), str)
        and data[key].strip()
        and not Path(data[key]).is_absolute()
    ]
    if not relative:
        return text
    for key in relative:
        data[key] = str(base_dir / data[key])
    return json.dumps(data, indent=2) + "\n"


# -- writing ---------------------------------------------------------------------


def write_atomically(path: str | Path, data: bytes, durable: bool = True) -> None:
    """Write `data` to `path` all or nothing (temporary file, rename); OSError.

    `durable` also waits for the disk (fsync), so a power cut cannot undo the
    save; autosave, written after every edit, guards against a crashed process
    (the written file outlives it) and skips that wait, most of a write's time."""
    with _replacing(Path(path)) as tmp, tmp.open("wb") as stream:
        stream.write(data)
        stream.flush()
        if durable:
            os.fsync(stream.fileno())


def encode_data(arrays: Mapping[str, np.ndarray]) -> bytes:
    """The data file's bytes for float32 `arrays`; ProjectError if over the bound."""
    from safetensors.numpy import save

    size = sum(np.asarray(a).size * 4 for a in arrays.values())
    if size > MAX_DATA_BYTES:
        raise ProjectError(_too_large("the project's arrays", size, MAX_DATA_BYTES))
    return save({k: np.ascontiguousarray(a, dtype=np.float32) for k, a in arrays.items()})


def write_weights(state: Mapping[str, np.ndarray], path: str | Path) -> None:
    """A state dict (name → numpy array) as a safetensors file, all or nothing; OSError."""
    from safetensors.numpy import save_file

    arrays = {name: np.ascontiguousarray(value) for name, value in state.items()}
    with _replacing(Path(path)) as tmp:
        # Written straight to the file: a large model's bytes never sit in memory twice.
        save_file(arrays, str(tmp), metadata={"format": "pt"})
        with tmp.open("rb+") as stream:
            os.fsync(stream.fileno())


@contextlib.contextmanager
def _replacing(path: Path):
    """A temporary file beside `path` to write; it replaces `path` when the block
    ends, and is removed if the block fails (then OSError naming `path`)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        _reraise(exc, path)


def _reraise(exc: BaseException, path: Path) -> None:
    """An OSError as one line naming the file the person chose; anything else as is."""
    if isinstance(exc, OSError):
        raise OSError(f"cannot write {path.name}: {exc.strerror or exc}") from None
    if isinstance(exc, Exception) and not isinstance(exc, ProjectError):
        # safetensors reports a full disk and the like in its own error types.
        raise OSError(f"cannot write {path.name}: {exc}") from None
    raise exc


# -- reading ---------------------------------------------------------------------


def read_bounded(path: Path, limit: int, what: str) -> bytes:
    """At most `limit` bytes of the regular file `path` (never a pipe or a device,
    which could block or never end); ProjectError (naming the file) otherwise."""
    try:
        return safe_files.read_bytes(path, limit, what)
    except safe_files.UnreadableFile as exc:
        raise ProjectError(str(exc)) from None


def read_data(path: str | Path) -> dict[str, np.ndarray]:
    """The arrays of a project's data file (float32, finite); ProjectError if unusable."""
    from safetensors.numpy import load

    path = Path(path)
    data = read_bounded(path, MAX_DATA_BYTES, "a project's data file")
    try:
        arrays = load(data)
    except Exception as exc:  # safetensors raises its own error types
        first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise ProjectError(f"{path.name}: not a readable safetensors file ({first})") from None
    for key, array in arrays.items():
        if array.dtype != _FLOAT32:
            raise ProjectError(f"{path.name}: '{key}' is {array.dtype}, not float32")
    return arrays


def _too_large(what: str, size: int, limit: int) -> str:
    return f"{what} would be {_megabytes(size)} ({_over(limit)})"


def _over(limit: int) -> str:
    return f"over the {_megabytes(limit)} limit"


def _megabytes(size: int) -> str:
    return f"{size / 2**20:,.0f} MB" if size >= 2**20 else f"{size:,} bytes"
