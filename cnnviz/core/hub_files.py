"""torchvision's ImageNet checkpoints that the classic presets can use (no torch here).

A preset names its checkpoint in its metadata (``"hub_weights":
"resnet18-f37072fd.pth"``); the file is looked for where torch.hub keeps it,
``<torch hub dir>/checkpoints/<file name>``, so one downloaded by torchvision,
by ``cnnviz weights download`` or by the window is found by all of them. The
hub dir is found as ``torch.hub.get_dir()`` finds it (``$TORCH_HOME/hub``, else
``$XDG_CACHE_HOME/torch/hub``, else ``~/.cache/torch/hub``), without importing
torch, so the window can say what is there before torch has loaded.

The eight hexadecimal digits at the end of a file name are the start of its
SHA-256, which torch.hub checks on download (never on each load).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_BASE_URL = "https://download.pytorch.org/models/"
# torch.hub's own rule (torch/hub.py HASH_REGEX): "-<hex digits>." in the name.
_HASH = re.compile(r"-([a-f0-9]*)\.")
MIB = 1024 * 1024


@dataclass(frozen=True)
class HubFile:
    """One checkpoint: a short key, torchvision's file name, and its approximate size."""

    key: str  # what `cnnviz weights download` takes
    title: str
    file: str  # torchvision's name, in the hub cache's checkpoints folder
    size_mib: float  # torchvision's `_file_size` metadata

    @property
    def url(self) -> str:
        return _BASE_URL + self.file

    @property
    def hash_prefix(self) -> str:
        found = _HASH.search(self.file)
        return found.group(1) if found else ""

    @property
    def size_text(self) -> str:
        return f"{self.size_mib * MIB / 1e6:.1f} MB"


# Names, sizes and URLs as torchvision 0.29 publishes them (torchvision/models/*.py,
# the IMAGENET1K_V1 weights).
HUB_FILES: dict[str, HubFile] = {
    f.key: f
    for f in (
        HubFile("mobilenet_v2", "MobileNetV2", "mobilenet_v2-b0353104.pth", 13.555),
        HubFile("resnet18", "ResNet-18", "resnet18-f37072fd.pth", 44.661),
        HubFile("alexnet", "AlexNet", "alexnet-owt-7be5be79.pth", 233.087),
        HubFile("vgg11", "VGG-11", "vgg11-8a719046.pth", 506.84),
        HubFile("vgg16", "VGG-16", "vgg16-397923af.pth", 527.796),
    )
}


class UnknownHubFile(KeyError):
    def __str__(self) -> str:
        return str(self.args[0])


def find(name: str) -> HubFile:
    """The checkpoint by key ("resnet18", "ResNet-18") or file name; UnknownHubFile if none."""
    wanted = name.lower().replace("-", "").replace("_", "")
    for hub_file in HUB_FILES.values():
        names = (hub_file.key, hub_file.file, hub_file.title)
        if wanted in {n.lower().replace("-", "").replace("_", "") for n in names}:
            return hub_file
    known = ", ".join(HUB_FILES)
    raise UnknownHubFile(f"no ImageNet weights named {name!r} (known: {known})")


def hub_dir() -> Path:
    """What ``torch.hub.get_dir()`` returns when nobody called ``torch.hub.set_dir``."""
    cache = os.getenv("XDG_CACHE_HOME", "~/.cache")
    torch_home = os.path.expanduser(os.getenv("TORCH_HOME", os.path.join(cache, "torch")))
    return Path(torch_home) / "hub"


def checkpoint_path(hub_file: HubFile) -> Path:
    return hub_dir() / "checkpoints" / hub_file.file


def check_declared(value: Any) -> None:
    """ValueError unless `value` is a plain file name fit for ``"hub_weights"``."""
    if not isinstance(value, str) or not value or Path(value).name != value or value[0] == ".":
        raise ValueError(f'"hub_weights" must be a checkpoint file name, not {value!r}')


def declared(metadata: Mapping[str, Any]) -> HubFile | None:
    """The checkpoint an architecture's metadata names; an unknown name is kept as a
    file to look for (no download offered)."""
    name = metadata.get("hub_weights")
    if not name:
        return None
    try:
        return find(name)
    except UnknownHubFile:
        return HubFile(Path(name).stem, Path(name).stem, name, 0.0)


def cached(metadata: Mapping[str, Any]) -> Path | None:
    """The declared checkpoint's path when the file is in the hub cache, else None."""
    hub_file = declared(metadata)
    if hub_file is None:
        return None
    path = checkpoint_path(hub_file)
    return path if path.is_file() else None


def place_by_hand(hub_file: HubFile) -> str:
    """The one line that says which file to put where, for a machine without a network."""
    return f"download {hub_file.url} and place it as {checkpoint_path(hub_file)}"
