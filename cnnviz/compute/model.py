"""Architecture → torch ``nn.Sequential`` whose index is the layer index.

Blocks are modules holding the layers inside them (cnnviz.compute.blocks),
so the state_dict keys follow the architecture file: ``3.body.0.weight``.

Every type is built the same way, ``getattr(nn, type)(**params, **inferred)``:
the sizes torch needs from the previous layer (in_channels, in_features,
num_features, num_channels) are what the type's module declares it infers
from the input shape the core's analysis gives, so the built model and the
analysis can never disagree about them.

Initialisation is deterministic per layer: each layer draws from its own
random stream, seeded by the global seed and the layer's *key* (its type,
parameters and input shape) and its occurrence among the layers that are
not blocks, rather than its position, so inserting or removing a layer does
not re-randomise the others. ``ModelKeeper`` goes one
step further for an edited stack: it aligns the old and new keys (difflib)
and keeps the very modules, with whatever weights they hold (loaded, trained,
edited), of every layer whose own parameters and input shape did not change,
inside blocks too (the alignment runs over the flat list of such layers).
"""

from __future__ import annotations

import difflib
import hashlib
import logging
import math
from collections import Counter
from collections.abc import Hashable
from typing import Any

import torch
from torch import nn

from cnnviz.compute.blocks import BLOCK_MODULES, assemble, flat_modules
from cnnviz.compute.programs import ProgramError, load_program
from cnnviz.core.analysis import Analysis, LayerInfo, analyze
from cnnviz.core.architecture import Architecture, ArchitectureError, Layer
from cnnviz.core.catalogue import layer_type
from cnnviz.core.layers.hooked import READ_ONLY

log = logging.getLogger(__name__)


def _constructor_args(layer: Layer, input_shape: tuple[int, ...]) -> dict[str, Any]:
    """The layer's parameters plus what its type declares torch needs from the
    input (in_channels ← C, in_features ← the last axis, ...): no per-type code."""
    args = layer.all_params()
    # Never in place: hooks keep views of outputs and inputs (DESIGN.md trap).
    if "inplace" in args:
        args["inplace"] = False
    inferred = layer_type(layer.type).inferred
    if inferred is not None:
        args.update(inferred(layer, tuple(input_shape)))
    return args


def build_layer(layer: Layer, input_shape: tuple[int, ...]) -> nn.Module:
    """One torch module for `layer` receiving (unbatched) `input_shape`: the
    ``torch.nn`` class of the type's name, built from the declared arguments,
    or the TorchScript program the type says the layer holds (an import's Opaque)."""
    program = layer_type(layer.type).program
    if program is not None:
        return _program_module(layer, program)
    cls = getattr(nn, layer.type, None)
    if cls is None:  # a read-only view's row (Hooked): its own model runs, never a built one
        raise ArchitectureError(READ_ONLY)
    return cls(**_constructor_args(layer, input_shape))


def _program_module(layer: Layer, param: str) -> nn.Module:
    try:
        return load_program(layer.get(param))
    except ProgramError as exc:
        raise ArchitectureError(f"{layer.type} {layer.describe()}: {exc}") from None


LayerKey = tuple[Hashable, ...]


def layer_key(layer: Layer, input_shape: tuple[int, ...]) -> LayerKey:
    """What decides a layer's weights: its type, every parameter and its input shape."""
    params = tuple(sorted((name, repr(value)) for name, value in layer.all_params().items()))
    return (layer.type, params, tuple(input_shape))


def layer_seed(seed: int, key: LayerKey, occurrence: int = 0) -> int:
    """A stable 63-bit seed for one layer (the same on every run and machine)."""
    text = repr((seed, key, occurrence)).encode()
    digest = hashlib.blake2b(text, digest_size=8).digest()
    return int.from_bytes(digest, "little") & ((1 << 63) - 1)


def checked_analysis(arch: Architecture) -> Analysis:
    """The analysis of a stack that torch can build; ArchitectureError otherwise."""
    analysis = analyze(arch)
    bad = analysis.first_error
    if bad is not None:
        raise ArchitectureError(bad.error)
    return analysis


def _leaves(analysis: Analysis) -> list[LayerInfo]:
    """The layers that are not blocks, in flat order: those that get a module of their own."""
    return [info for info in analysis.layers if not info.layer.is_block]


def _keys(analysis: Analysis) -> list[LayerKey]:
    """The leaves' keys: a block's weights are those of the layers inside it."""
    return [layer_key(info.layer, info.input_shape) for info in _leaves(analysis)]


def _sizes(analysis: Analysis) -> list[int]:
    return [math.prod(info.output_shape) for info in analysis.layers]


def _occurrences(keys: list[LayerKey]) -> list[int]:
    """For each key, how many equal keys come before it (so twins differ)."""
    seen: Counter = Counter()
    out = []
    for key in keys:
        out.append(seen[key])
        seen[key] += 1
    return out


def _build_one(layer: Layer, input_shape, seed: int | None, key: LayerKey, occurrence: int):
    if seed is None:
        return build_layer(layer, input_shape)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(layer_seed(seed, key, occurrence))
        return build_layer(layer, input_shape)


def build_model(arch: Architecture, seed: int | None = 0) -> nn.Sequential:
    """The whole stack as nn.Sequential; ArchitectureError if a layer is invalid.

    Blocks become cnnviz.compute.blocks' Residual and Parallel around the
    modules of the layers inside them. With a seed, initialisation is
    deterministic, per layer, and does not touch torch's global random state;
    with None it draws from the global state.
    """
    analysis = checked_analysis(arch)
    leaves, keys = _leaves(analysis), _keys(analysis)
    modules = {
        info.index: _build_one(info.layer, info.input_shape, seed, key, occurrence)
        for info, key, occurrence in zip(leaves, keys, _occurrences(keys), strict=True)
    }
    return assemble(analysis.layers, modules)


class ModelKeeper:
    """The current model of an edited stack, keeping the weights edits did not touch.

    ``update(arch, seed)`` returns the model for ``arch``: layers whose key
    (type, parameters, input shape) lines up with a layer of the previous
    stack keep that layer's module and weights; the others are built fresh
    from their per-layer seed. A different seed starts over.
    """

    def __init__(self) -> None:
        self.model: nn.Sequential | None = None
        self.architecture: Architecture | None = None
        self.seed: int | None = None
        self.kept: tuple[int, ...] = ()  # new flat indices whose module was reused
        # Each layer's output size (values per sample), from the analysis.
        self.output_sizes: list[int] = []
        self._keys: list[LayerKey] = []  # of the leaves (layers that are not blocks)
        self._leaf_modules: list[nn.Module] = []

    def reset(self) -> None:
        """Forget the current model: the next update builds everything afresh."""
        self.model = None
        self.architecture = None
        self._keys = []
        self._leaf_modules = []
        self.kept = ()

    def adopt(self, arch: Architecture, seed: int, model: nn.Sequential) -> None:
        """Make ``model`` (built for ``arch``, e.g. with loaded weights) the current one."""
        analysis = checked_analysis(arch)
        self.model, self.architecture, self.seed = model, arch, seed
        self._keys = _keys(analysis)
        self._leaf_modules = _leaf_modules(model)
        self.output_sizes = _sizes(analysis)
        self.kept = ()

    def update(self, arch: Architecture, seed: int = 0) -> nn.Sequential:
        if self.model is not None and arch == self.architecture and seed == self.seed:
            self.kept = tuple(range(len(self.output_sizes)))
            return self.model
        analysis = checked_analysis(arch)
        leaves, keys = _leaves(analysis), _keys(analysis)
        if self.model is None or seed != self.seed:
            self.reset()
        reused = self._aligned(keys)
        occurrences = _occurrences(keys)
        modules = {}
        for n, info in enumerate(leaves):
            if n in reused:
                modules[info.index] = reused[n]
            else:
                modules[info.index] = _build_one(
                    info.layer, info.input_shape, seed, keys[n], occurrences[n]
                )
        # Blocks are made anew around the kept modules: they hold no weights of their own.
        self.model = assemble(analysis.layers, modules)
        self.architecture, self.seed, self._keys = arch, seed, keys
        self._leaf_modules = [modules[info.index] for info in leaves]
        self.output_sizes = _sizes(analysis)
        self.kept = tuple(sorted(leaves[n].index for n in reused))
        log.debug("model for %s: kept layers %s", arch.name, self.kept)
        return self.model

    def _aligned(self, keys: list[LayerKey]) -> dict[int, nn.Module]:
        """New leaf position → old module, for every leaf the alignment matches."""
        if self.model is None:
            return {}
        matcher = difflib.SequenceMatcher(None, self._keys, keys, autojunk=False)
        reused = {}
        for block in matcher.get_matching_blocks():
            for offset in range(block.size):
                reused[block.b + offset] = self._leaf_modules[block.a + offset]
        return reused


def _leaf_modules(model: nn.Sequential) -> list[nn.Module]:
    return [m for m in flat_modules(model) if not isinstance(m, BLOCK_MODULES)]
