"""The classic architectures bundled as architecture files in resources/presets."""

from __future__ import annotations

from pathlib import Path

from cnnviz.core import hub_files, package_files
from cnnviz.core.architecture import Architecture, ArchitectureError, load
from cnnviz.core.resources import resource_path

# Menu order: small to large.
PRESETS = {
    "interview": "interview.json",
    "lenet5": "lenet5.json",
    "resnetdigits": "resnet_digits.json",
    "tinyvgg": "tinyvgg.json",
    "inceptionsmall": "inception_small.json",
    "mobilenetv2": "mobilenet_v2.json",
    "efficientnetlite0": "efficientnet_lite0.json",
    "resnet18": "resnet18.json",
    "alexnet": "alexnet.json",
    "vgg11": "vgg11.json",
    "vgg16": "vgg16.json",
}


def preset_path(name: str) -> Path:
    key = name.lower().replace("-", "").replace("_", "")
    if key not in PRESETS:
        raise ArchitectureError(f"unknown preset {name!r} (presets: {', '.join(PRESETS)})")
    return resource_path("presets", PRESETS[key])


def load_preset(name: str) -> Architecture:
    return load(preset_path(name))


def load_any(name_or_path: str | Path) -> Architecture:
    """An architecture from a file path, or else from a preset name."""
    path = Path(name_or_path)
    if path.suffix or path.exists():
        return load(path)
    return load_preset(str(name_or_path))


def weights_path(arch: Architecture, arch_file: Path | None = None) -> Path | None:
    """The weights file named in the architecture's metadata, if it exists; else its
    torchvision checkpoint ("hub_weights") when that is in the torch hub cache; else
    the file its weights package ("package_weights") installed."""
    name = arch.metadata.get("weights")
    if name:
        folder = arch_file.parent if arch_file else resource_path("presets")
        path = folder / name
        if path.is_file():
            return path
    return hub_files.cached(arch.metadata) or package_files.cached(arch.metadata)
