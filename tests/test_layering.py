"""Imports only point down: core (numpy) <- compute (torch) <- qt (Qt, never torch).

Each check imports every module of a layer in a fresh interpreter and looks at
what got loaded, so an indirect import is caught too.
"""

from __future__ import annotations

import ast
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import cnnviz

PACKAGE_DIR = Path(cnnviz.__file__).parent
QT_MODULES = ("PySide6", "pyqtgraph", "shiboken6")


def modules_of(subpackage: str) -> list[str]:
    path = PACKAGE_DIR / subpackage.replace(".", "/")
    return [
        f"cnnviz.{subpackage}.{m.name}"
        for m in pkgutil.walk_packages([str(path)])
        if not m.name.startswith("_")
    ]


def loaded_after_importing(modules: list[str]) -> set[str]:
    code = (
        "import importlib, json, sys\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        "print(json.dumps(sorted({n.split('.')[0] for n in sys.modules})))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={"QT_QPA_PLATFORM": "offscreen", "PATH": ""},
    )
    assert out.returncode == 0, out.stderr
    return set(json.loads(out.stdout))


def test_core_imports_neither_qt_nor_torch():
    loaded = loaded_after_importing(modules_of("core"))
    assert "numpy" in loaded
    assert not loaded & {"torch", *QT_MODULES}


def test_compute_does_not_import_qt():
    loaded = loaded_after_importing(modules_of("compute"))
    assert "torch" in loaded
    assert not loaded & set(QT_MODULES)


def test_qt_never_loads_torch_at_import():
    # The compute thread imports torch lazily, inside its worker: the window
    # must appear before torch has loaded.
    loaded = loaded_after_importing(modules_of("qt"))
    assert "PySide6" in loaded
    assert "torch" not in loaded


def imported_names(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("path", sorted((PACKAGE_DIR / "qt").rglob("*.py")), ids=lambda p: p.name)
def test_only_the_compute_thread_touches_compute(path):
    names = imported_names(path)
    assert not any(n == "torch" or n.startswith("torch.") for n in names)
    if path.name != "compute_thread.py":
        assert not any(n.startswith("cnnviz.compute") for n in names)
