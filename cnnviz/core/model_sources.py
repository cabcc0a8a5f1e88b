"""Which command-line names are a person's own PyTorch model (issue 18), without
torch: ``my_net.py:Net`` (a Python file and a class or factory in it) or a
TorchScript file (``.pt``, ``.pth``: a zip archive holding ``code/``).

Importing a Python file runs it, so only an explicit request does that (a
command-line argument, File > Import PyTorch Model…); this module only reads
names and a zip directory, never runs anything.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

_PYTHON = re.compile(r"^(?P<file>.+\.py):(?P<name>[A-Za-z_][A-Za-z0-9_]*)$")
TORCHSCRIPT_SUFFIXES = (".pt", ".pth", ".ptl")


def python_source(text: str) -> tuple[Path, str] | None:
    """(file, name) of ``FILE.py:NAME``, else None."""
    found = _PYTHON.match(str(text))
    return (Path(found["file"]), found["name"]) if found else None


def is_torchscript(path: str | Path) -> bool:
    """A TorchScript archive: a zip whose entries include ``<archive>/code/``."""
    path = Path(path)
    if path.suffix.lower() not in TORCHSCRIPT_SUFFIXES or not path.is_file():
        return False
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (OSError, zipfile.BadZipFile):
        return False
    return any("/code/" in name for name in names)


def missing_name(text: str) -> str | None:
    """For a Python file named without its class: what to write instead."""
    path = Path(str(text))
    if path.suffix != ".py" or python_source(str(text)) is not None:
        return None
    return f"{path.name}: name the model's class or factory too, e.g. {text}:Net"


def is_exported(path: str | Path) -> bool:
    """An exported program (``torch.export.save``): a ``.pt2`` file."""
    path = Path(path)
    return path.suffix.lower() == ".pt2" and path.is_file()


def is_model_source(text: str) -> bool:
    """A name the commands and the window import as a PyTorch model."""
    return python_source(text) is not None or is_torchscript(text) or is_exported(text)


MAX_SOURCE_BYTES = 4 * 1024 * 1024


def python_names(path: str | Path) -> list[str]:
    """The top-level classes and functions a Python file defines, read from its syntax
    tree without running it (for the window to offer); [] when it cannot be read."""
    import ast

    path = Path(path)
    try:
        if path.stat().st_size > MAX_SOURCE_BYTES:
            return []
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
        return []
    kinds = (ast.ClassDef, ast.FunctionDef)
    return [node.name for node in tree.body if isinstance(node, kinds) and node.name[0] != "_"]
