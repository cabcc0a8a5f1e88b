"""torchvision's ImageNet checkpoints read into the classic presets' models.

torchvision names its modules (``conv1``, ``layer2.0.downsample.0``, ``fc``;
``features.3``, ``classifier.1``; ``features.2.conv.1.0``); a cnnviz model is
one ``nn.Sequential`` whose keys are flat indices, with ``N.body.i`` and
``N.shortcut.i`` inside residual blocks. :func:`to_model_keys` renames a
torchvision state dict into the presets' keys. The layout is read from the
file alone (which keys exist, and the channels of MobileNetV2's blocks), so
the presets must lay their layers out as torchvision runs them:

- AlexNet, VGG: ``features.i`` → ``i``; after the features come the adaptive
  average pool and a Flatten, then ``classifier.j`` → ``len(features) + 2 + j``.
  torchvision's features end with the last conv's (batch norm,) ReLU and max
  pool, so ``len(features)`` is the last parametrised index + 3.
- ResNet: ``conv1``/``bn1`` → ``0``/``1`` (ReLU 2, max pool 3); each block k
  (in stage then block order) is the Residual at ``4 + 2k`` followed by its
  ReLU: ``convM``/``bnM`` → ``N.body.{3(M-1)}``/``{3(M-1)+1}``, ``downsample.0/1``
  → ``N.shortcut.0/1``; then the pool, a Flatten and ``fc``.
- MobileNetV2: the stem (``features.0``) is 0–2; a block whose input and output
  channels are equal adds its input (torchvision's ``use_res_connect``) and
  is one Residual entry with its layers in ``body``; any other block is laid
  out flat (expansion conv, BN, ReLU6, depthwise conv, BN, ReLU6, projection
  conv, BN; without expansion the first three are missing); then the last
  1×1 conv, BN, ReLU6, the pool, a Flatten, and ``classifier.j``.

Files are read as every weights file is (``torch.load(weights_only=True)``, in
cnnviz.compute.weights); a renamed file that does not fit the stack is refused
there with the first key or shape that differs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_INDEX = re.compile(r"^features\.(\d+)\.")


def to_model_keys(state: Mapping[str, Any], expected: Mapping[str, Any]) -> dict[str, Any]:
    """``state`` with torchvision's names renamed to a preset's keys; unchanged when
    it already uses the model's keys or is no torchvision layout cnnviz knows."""
    state = dict(state)
    if not state or any(key in expected for key in state):
        return state
    renames = module_renames(state)
    if not renames:
        return state
    return {_renamed(key, renames): value for key, value in state.items()}


def module_renames(state: Mapping[str, Any]) -> dict[str, str]:
    """torchvision module name → cnnviz module address, for the layout `state` has
    ({} when it is none of AlexNet, VGG, ResNet, MobileNetV2)."""
    if "conv1.weight" in state and "fc.weight" in state:
        return _resnet(state)
    if "features.0.0.weight" in state and "features.1.conv.0.0.weight" in state:
        return _mobilenet_v2(state)
    if "features.0.weight" in state and any(k.startswith("classifier.") for k in state):
        return _features_classifier(state)
    return {}


def _renamed(key: str, renames: Mapping[str, str]) -> str:
    module, _, tensor = key.rpartition(".")
    target = renames.get(module)
    return f"{target}.{tensor}" if target is not None else key


def _modules(state: Mapping[str, Any], prefix: str) -> list[str]:
    """The module names under `prefix` that hold tensors, in the file's order."""
    seen: dict[str, None] = {}
    for key in state:
        if key.startswith(prefix):
            seen[key.rpartition(".")[0]] = None
    return list(seen)


def _classifier(state: Mapping[str, Any], start: int) -> dict[str, str]:
    """``classifier.j`` → ``start + j``."""
    renames = {}
    for module in _modules(state, "classifier."):
        index = module.split(".")[1]
        if index.isdigit():
            renames[module] = str(start + int(index))
    return renames


def _features_classifier(state: Mapping[str, Any]) -> dict[str, str]:
    features = [m for m in _modules(state, "features.") if m.count(".") == 1]
    indices = [int(m.split(".")[1]) for m in features if m.split(".")[1].isdigit()]
    if not indices:
        return {}
    renames = {f"features.{i}": str(i) for i in indices}
    # ReLU and max pool after the last conv (or its BN), then avgpool and Flatten.
    return renames | _classifier(state, max(indices) + 3 + 2)


def _resnet(state: Mapping[str, Any]) -> dict[str, str]:
    renames = {"conv1": "0", "bn1": "1"}
    blocks = sorted(
        {tuple(int(p) for p in m.split(".")[:2]) for m in _block_modules(state)},
    )
    for k, (stage, block) in enumerate(blocks):
        source, target = f"layer{stage}.{block}", str(4 + 2 * k)
        for module in _modules(state, source + "."):
            inner = module[len(source) + 1 :]
            found = re.fullmatch(r"(conv|bn)(\d+)", inner)
            if found:
                position = 3 * (int(found.group(2)) - 1) + (found.group(1) == "bn")
                renames[module] = f"{target}.body.{position}"
            elif inner in ("downsample.0", "downsample.1"):
                renames[module] = f"{target}.shortcut.{inner[-1]}"
    renames["fc"] = str(4 + 2 * len(blocks) + 2)  # after the pool and the Flatten
    return renames


def _block_modules(state: Mapping[str, Any]) -> list[str]:
    """'1.0' for layer1.0.conv1 and the like: stage and block numbers as text."""
    out = []
    for module in _modules(state, "layer"):
        found = re.match(r"layer(\d+)\.(\d+)\.", module)
        if found:
            out.append(f"{found.group(1)}.{found.group(2)}")
    return out


# MobileNetV2's inverted residual: torchvision's inner names → offset in cnnviz's
# flat run of layers (the ReLU6s sit at the gaps), and that run's length.
_EXPANDED = (
    {"conv.0.0": 0, "conv.0.1": 1, "conv.1.0": 3, "conv.1.1": 4, "conv.2": 6, "conv.3": 7},
    8,
)
_NOT_EXPANDED = ({"conv.0.0": 0, "conv.0.1": 1, "conv.1": 3, "conv.2": 4}, 5)


def _mobilenet_v2(state: Mapping[str, Any]) -> dict[str, str]:
    numbers = sorted({int(_INDEX.match(k).group(1)) for k in state if _INDEX.match(k)})
    renames = {"features.0.0": "0", "features.0.1": "1"}
    cursor = 3  # after the stem's conv, BN, ReLU6
    for n in numbers[1:]:
        block = f"features.{n}"
        if f"{block}.conv.0.0.weight" not in state:  # the last 1×1 conv, BN, ReLU6
            renames |= {f"{block}.0": str(cursor), f"{block}.1": str(cursor + 1)}
            cursor += 3
            continue
        expanded = f"{block}.conv.3.weight" in state
        offsets, length = _EXPANDED if expanded else _NOT_EXPANDED
        first = state[f"{block}.conv.0.0.weight"].shape
        projection = state[f"{block}.conv.{2 if expanded else 1}.weight"].shape
        channels_in = first[1] if expanded else first[0]
        if channels_in == projection[0]:  # adds its input: one Residual entry
            renames |= {f"{block}.{name}": f"{cursor}.body.{i}" for name, i in offsets.items()}
            cursor += 1
        else:
            renames |= {f"{block}.{name}": str(cursor + i) for name, i in offsets.items()}
            cursor += length
    return renames | _classifier(state, cursor + 2)  # after the pool and the Flatten
