"""The installed package carries every subpackage and the resources."""

from __future__ import annotations

import tomllib
from pathlib import Path

import cnnviz
from cnnviz.core.resources import resource_path

ROOT = Path(cnnviz.__file__).resolve().parents[1]


def test_every_subpackage_is_listed_in_pyproject():
    listed = set(
        tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    )
    found = {
        ".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "cnnviz").rglob("__init__.py")
    }
    assert found <= listed, f"add to pyproject [tool.setuptools] packages: {found - listed}"


def test_resources_are_found():
    assert resource_path("presets", "vgg16.json").is_file()
