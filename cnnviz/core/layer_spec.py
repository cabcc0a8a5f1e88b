"""What a layer type is made of: its parameters (kinds, defaults, ranges), its
palette entry and its rules (shape, counts, receptive field, memory, formula
text, what torch infers from the input).

Each leaf type is declared in one module, ``cnnviz/core/layers/<type>.py``;
catalogue.py collects them. Blocks (blocks.py) are LayerTypes too, without
rules of their own: analysis.py walks their paths and blocks.py merges them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

GROUPS = (
    "convolution",
    "pooling",
    "activation",
    "normalization",
    "regularization",
    "shape",
    "dense",
    "block",
)

# Parameter kinds. A "pair" is an int or an (h, w) pair of ints, as torch takes
# for kernel_size/stride/padding. "padding" is a pair or 'same'/'valid'.
# "padding4" is an int or (left, right, top, bottom), as ZeroPad2d takes it.
# The optional kinds also take None (torch's "not given").
INT, FLOAT, BOOL, CHOICE, PAIR, OPT_PAIR, PADDING, OPT_INT = (
    "int",
    "float",
    "bool",
    "choice",
    "pair",
    "optional_pair",
    "padding",
    "optional_int",
)
OPT_FLOAT, OPT_BOOL, PAD4 = ("optional_float", "optional_bool", "padding4")
# Kinds only an imported layer holds (layers/opaque.py), never edited: "text"
# (a string of at most ``maximum`` characters) and "shape" (a tensor's sizes
# without the batch, 1 to 3 whole numbers, each at most ``maximum``).
TEXT, SHAPE = ("text", "shape")


@dataclass(frozen=True)
class Param:
    """One constructor argument of a layer type."""

    name: str
    kind: str
    default: Any = None
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple = ()
    required: bool = False
    help: str = ""
    # Shown in the one-line description of a stack row.
    key: bool = False
    # Accepted in files but not offered in the editor (e.g. inplace).
    hidden: bool = False


@dataclass(frozen=True)
class MemoryRule:
    """What a layer holds and takes in memory beyond its parameters and its
    output (core/memory.py adds these up; tests/core/test_memory.py and
    tests/compute/test_memory_measured.py check them against torch). Each is
    optional: None means nothing extra.

    * workspace(layer, in_shape, out_shape, weight_bytes, train_mode) → bytes
      torch's CPU kernel takes while it computes, beyond its fresh output;
    * buffers(layer, in_shape) → bytes of buffers in its state_dict that are
      not parameters (BatchNorm2d's running statistics);
    * shares_input(layer, train_mode) → whether torch hands on its input's
      values as they are (a view: Flatten, Identity, Dropout in eval mode).
    """

    workspace: Callable[..., int] | None = None
    buffers: Callable[..., int] | None = None
    shares_input: Callable[..., bool] | None = None


@dataclass(frozen=True)
class LayerType:
    """Everything the catalogue knows about one ``torch.nn`` layer class."""

    name: str
    group: str
    glyph: str
    summary: str
    explanation: str
    params: tuple[Param, ...] = field(default=())
    # Spatial layers need a (C, H, W) input; the others take any shape.
    needs_spatial: bool = False
    # The rules, declared by the type's module (cnnviz/core/layers/); None for
    # blocks. Each takes (layer, input shape without the batch):
    # cost → shapes.LayerCost (output shape, weights, biases, MACs: they share
    # their arithmetic, so one function), size_lines → the output-size formula
    # lines, param_line → how the parameter count comes about, inferred → the
    # constructor arguments torch needs from the input (in_channels ← C, ...).
    cost: Callable[..., Any] | None = None
    size_lines: Callable[..., list[str]] | None = None
    param_line: Callable[..., str] | None = None
    inferred: Callable[..., dict[str, Any]] | None = None
    # How the receptive field changes (layers/_common.py: FieldRule).
    field_rule: Any = None
    # What it needs in memory beyond parameters and output (MemoryRule).
    memory: MemoryRule = MemoryRule()
    # Values a layer fresh from the palette starts with, beyond torch's defaults
    # (e.g. Upsample's scale_factor: torch's default gives no size at all).
    starter: Mapping[str, Any] = field(default_factory=dict, hash=False, compare=False)
    # The parameter holding a TorchScript program that compute runs instead of
    # a ``torch.nn`` class (an imported module cnnviz cannot express: Opaque).
    program: str | None = None

    @property
    def is_activation(self) -> bool:
        return self.group == "activation"

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(name)

    def defaults(self) -> dict[str, Any]:
        return {p.name: p.default for p in self.params if not p.required}

    @property
    def tooltip(self) -> str:
        return f"{self.name}: {self.summary}\n\n{self.explanation}"
