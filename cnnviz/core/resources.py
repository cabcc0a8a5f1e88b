"""Where the bundled files (presets, samples, weights, datasets) live.

The repository keeps them in the top-level ``resources/`` folder; an installed
cnnviz carries the same folder as the data package ``cnnviz.resources``.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

_SOURCE_TREE = Path(__file__).resolve().parents[2] / "resources"


def resources_dir() -> Path:
    """The folder holding the bundled resources, installed or in a checkout."""
    frozen_dir = getattr(sys, "_MEIPASS", None)
    if getattr(sys, "frozen", False) and frozen_dir:
        # The standalone build (packaging/cnnviz.spec) puts them at cnnviz/resources.
        return Path(frozen_dir) / "cnnviz" / "resources"
    if _SOURCE_TREE.is_dir():
        return _SOURCE_TREE
    spec = importlib.util.find_spec("cnnviz.resources")
    if spec is not None and spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations)))
    raise FileNotFoundError("cnnviz resources folder not found; is cnnviz installed completely?")


def resource_path(*parts: str) -> Path:
    """Path of one bundled resource, e.g. ``resource_path("presets", "lenet5.json")``."""
    return resources_dir().joinpath(*parts)
