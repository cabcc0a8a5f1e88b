"""Bring a person's own PyTorch model into cnnviz (issue 18).

``fx_convert`` traces an ``nn.Module`` with ``torch.fx`` (cnnviz's layer types
as leaves) and turns the graph into an architecture with blocks, with the
model's weights under cnnviz's keys; ``sources`` finds the model (a Python
file and a class or factory name, a TorchScript file) and its weights file.
What cnnviz has no layer type for becomes an Opaque layer running the
original as TorchScript (``opaque_units``); what cannot even be kept so is
refused in one line naming the operation and its source line
(``ModelImportError``); nothing is dropped silently.
"""

from __future__ import annotations

import re
from pathlib import Path

import torch


class ModelImportError(ValueError):
    """A model cannot be imported; the message is one line saying where and why."""


class Untraceable(ModelImportError):
    """torch.fx could not trace the model: ``place`` ("my_net.py:14") and ``code`` of the
    line that stopped it ("" when unknown), ``reason`` (the error's first line), and the
    live ``model`` (eval mode, weights loaded), which a read-only view can still run."""

    def __init__(self, message: str, model, place: str, code: str, reason: str) -> None:
        super().__init__(message)
        self.model, self.place, self.code, self.reason = model, place, code, reason


_FRAME = re.compile(r'File "([^"]+)", line (\d+), in [^\n]*\n[ \t]*([^\n]*)')
_TORCH_DIR = str(Path(torch.__file__).parent)
_CNNVIZ_DIR = str(Path(__file__).parents[2])


def user_frame(frames: list[tuple[str, int, str]]) -> tuple[str, int, str] | None:
    """The innermost (file, line, code) that is the model's own code, not torch's or cnnviz's."""
    for file, line, code in reversed(frames):
        if not (file.startswith(_TORCH_DIR) or file.startswith(_CNNVIZ_DIR)):
            return file, line, code
    return None


def frames_of_text(stack_trace: str | None) -> list[tuple[str, int, str]]:
    """(file, line, code) of each frame in an fx node's recorded stack trace."""
    return [(f, int(n), code.strip()) for f, n, code in _FRAME.findall(stack_trace or "")]


def frames_of_exception(exc: BaseException) -> list[tuple[str, int, str]]:
    import traceback

    return [
        (frame.filename, frame.lineno or 0, (frame.line or "").strip())
        for frame in traceback.extract_tb(exc.__traceback__)
    ]


def where(frames: list[tuple[str, int, str]]) -> tuple[str, str]:
    """(the code, "file.py:LINE") of the model's own innermost frame, or ("", "")."""
    found = user_frame(frames)
    if found is None:
        return "", ""
    file, line, code = found
    return code, f"{Path(file).name}:{line}"


def first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:200]}" if text else type(exc).__name__
