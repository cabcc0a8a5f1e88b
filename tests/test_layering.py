"""Imports only point down: core (numpy) <- compute (torch) <- qt (Qt, never torch).

Each check imports every module of a layer in a fresh interpreter and looks at
what got loaded, so an indirect import is caught too.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

import cnnviz

PACKAGE_DIR = Path(cnnviz.__file__).parent
QT_MODULES = ("PySide6", "pyqtgraph", "shiboken6")


def modules_of(subpackage: str) -> list[str]:
    """Every module under cnnviz/<subpackage>, sub-packages included, by full name.

    Found from the files, not with pkgutil.walk_packages on a bare path: that
    names modules relative to the path and does not descend into sub-packages.
    """
    root = PACKAGE_DIR / subpackage.replace(".", "/")
    names = []
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


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


QT_FILES = sorted((PACKAGE_DIR / "qt").rglob("*.py"))


def qt_id(path: Path) -> str:
    return str(path.relative_to(PACKAGE_DIR / "qt"))


@pytest.mark.parametrize("path", QT_FILES, ids=qt_id)
def test_only_the_compute_thread_touches_compute(path):
    # The compute thread is bridge/compute_*.py: the GUI's handle, the thread
    # and its jobs. Nothing else in qt may reach cnnviz.compute.
    names = imported_names(path)
    assert not any(n == "torch" or n.startswith("torch.") for n in names)
    if not (path.parent.name == "bridge" and path.name.startswith("compute_")):
        assert not any(n.startswith("cnnviz.compute") for n in names)


# What each folder of cnnviz/qt may import from the others: imports point down
# window -> labs -> bridge -> editor, inputs -> panels -> style.
QT_ROLES = {
    "window": {"labs", "bridge", "editor", "inputs", "panels", "style"},
    "labs": {"bridge", "editor", "inputs", "panels", "style"},
    "bridge": {"editor", "inputs", "style"},
    "editor": {"style"},
    "inputs": {"panels", "style"},
    "panels": {"style"},
    "style": set(),
}


def test_qt_has_one_folder_per_role_and_no_loose_modules():
    qt = PACKAGE_DIR / "qt"
    assert sorted(p.name for p in qt.glob("*.py")) == ["__init__.py"]
    folders = {p.parent.name for p in qt.glob("*/__init__.py")}
    assert folders == set(QT_ROLES)
    assert modules_of("qt.window")[0] == "cnnviz.qt.window"
    assert "cnnviz.qt.panels.conv_stepper_scene" in modules_of("qt")


@pytest.mark.parametrize("path", [p for p in QT_FILES if p.parent.name != "qt"], ids=qt_id)
def test_qt_folders_import_only_downwards(path):
    role = path.relative_to(PACKAGE_DIR / "qt").parts[0]
    used = {n.split(".")[2] for n in imported_names(path) if n.startswith("cnnviz.qt.")}
    assert used - {role} <= QT_ROLES[role], f"{role} may import only {sorted(QT_ROLES[role])}"
