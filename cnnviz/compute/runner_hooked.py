"""Forwards of a hooked view (issue 18): the live model runs, not the rows.

A model torch.fx cannot trace opens as rows of ``Hooked`` layers
(core/layers/hooked.py), one per module call, with ``metadata["hooked"]``
naming the model (``FILE.py:NAME``, its weights file). For such an
architecture ``ForwardRunner`` hands the request here: the model is loaded
from its file (that runs the file: the person asked for this import), kept
while file and weights stay the same, and run on the image with a hook on
every row's module; each row's output is its module's output for the image.

The rows were recorded on a test input. On another image the model may take
another path: a row whose module did not run shows zeros and a module that ran
but has no row is not shown; the notice names both, so nothing is hidden. The
notice starts with the view's own line (read-only, and the line that stopped
the trace), so the window's status bar keeps saying it.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from cnnviz.compute.forward import class_probabilities
from cnnviz.compute.importers import ModelImportError, first_line
from cnnviz.compute.importers.hooked_view import Call, run_hooked
from cnnviz.compute.runner_model import ComputeError, shape_text
from cnnviz.core.architecture import Architecture
from cnnviz.core.jobs import ForwardRequest, ForwardResult, LayerActivation
from cnnviz.core.layers.hooked import METADATA_KEY, call_name, is_hooked_metadata


def is_hooked(arch: Architecture) -> bool:
    """A read-only hooked view, whose forwards run the live model."""
    return is_hooked_metadata(arch.metadata)


def _file_token(path: str | None) -> tuple | None:
    """A file and its contents' version (an edited model file reloads). Not
    runner_model's: that one refuses a missing file as a missing *weights* file,
    while here load_model says what is missing (the model's file or its weights),
    and a missing file keeps its path in the key, never matching a loaded model."""
    if not path:
        return None
    try:
        stat = Path(path).stat()
    except OSError:
        return (path,)
    return (path, stat.st_mtime_ns, stat.st_size)


def load_model(entry: dict) -> nn.Module:
    """The model a hooked view names, with its weights file; ComputeError in one line."""
    from cnnviz.compute.importers.sources import load_python, load_weights_file

    path, _, name = entry["source"].rpartition(":")
    try:
        model = load_python(Path(path), name)
        weights = entry.get("model_weights")
        if weights:
            load_weights_file(model, weights)
    except ModelImportError as exc:
        raise ComputeError(str(exc)) from None
    return model.eval()


def _output(call: Call | None, shape: tuple[int, ...]) -> np.ndarray:
    if call is None or call.output is None:
        return np.zeros(shape, np.float32)
    values = call.output[0].detach().to("cpu", torch.float32).numpy()
    # As the row holds it (hooked_view.shown_shape): more axes, or none, as a vector.
    return np.ascontiguousarray(values if 1 <= values.ndim <= 3 else values.reshape(-1))


class HookedRunner:
    """Runs forwards of hooked views, keeping the last model loaded."""

    def __init__(self) -> None:
        self._key: tuple | None = None
        self._model: nn.Module | None = None

    def model_for(self, entry: dict) -> nn.Module:
        source, weights = entry["source"], entry.get("model_weights")
        key = (_file_token(source.rpartition(":")[0]), source, _file_token(weights))
        if key != self._key or self._model is None:
            self._model, self._key = load_model(entry), key
        return self._model

    def run(self, request: ForwardRequest) -> ForwardResult:
        started = time.perf_counter()
        arch = request.architecture
        model = self.model_for(arch.metadata[METADATA_KEY])
        image = np.ascontiguousarray(request.image, dtype=np.float32)
        if image.shape != arch.input.as_tuple():
            raise ComputeError(
                f"the image is {shape_text(image.shape)} but the model takes "
                f"{shape_text(arch.input.as_tuple())} (channels × height × width)"
            )
        try:
            output, calls = run_hooked(model, torch.from_numpy(image.copy()).unsqueeze(0))
        except Exception as exc:  # the model's own code, on this image
            raise ComputeError(f"{arch.name} failed on this image: {first_line(exc)}") from None
        layers, notice = self._rows(arch, calls)
        probabilities = None
        if torch.is_tensor(output) and output.ndim == 2 and output.shape[0] == 1:
            scores = output[0].detach().to("cpu", torch.float32).numpy()
            probabilities = class_probabilities(LayerActivation(-1, "output", scores))
        return ForwardResult(
            request_id=request.request_id,
            input=image,
            layers=layers,
            probabilities=probabilities,
            device="CPU",
            elapsed_ms=(time.perf_counter() - started) * 1000.0,
            notice=notice,
        )

    @staticmethod
    def _rows(arch: Architecture, calls: list[Call]):
        """Each row's output for this run, and a notice naming what did not match."""
        by_key = {(call.module, call.call): call for call in calls}
        layers, missing = [], []
        for index, layer in enumerate(arch.layers):
            call = by_key.pop((layer.get("module"), layer.get("call")), None)
            if call is None:
                missing.append(layer.get("label"))
            output = _output(call, tuple(layer.get("out_shape")))
            layers.append(LayerActivation(index, layer.type, output))
        notes = []
        if missing:
            notes.append(f"on this image the model did not run {', '.join(missing)} (zeros shown)")
        if by_key:
            extra = ", ".join(call_name(c.module, c.call) for c in by_key.values())
            notes.append(f"it ran {extra}, which this view has no row for")
        # The view's own line first: it stands in the window's status bar while it is open.
        message = arch.metadata[METADATA_KEY].get("message")
        return tuple(layers), "; ".join([message, *notes] if message else notes) or None
