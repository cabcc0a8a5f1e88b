"""What a layer type is made of: its parameters (kinds, defaults, ranges) and
its palette entry. The entries themselves are in catalogue.py."""

from __future__ import annotations

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
)

# Parameter kinds. A "pair" is an int or an (h, w) pair of ints, as torch takes
# for kernel_size/stride/padding. "padding" is a pair or 'same'/'valid'.
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
