"""The layer catalogue: every layer type a person can put in the stack.

Each type is declared in its own module under ``cnnviz/core/layers/`` (its
constructor parameters with torch's names and defaults, the range each may
take, the palette group and glyph, a paragraph a learner can read in a
tooltip, and its rules); this module collects them. Sizes torch infers from
the previous layer (``in_channels``, ``in_features``, ``num_features``,
``num_channels``) are not parameters: they are never stored, always inferred
(DESIGN.md, architecture file contract).

``CATALOGUE`` holds the leaf types (the palette and the random-stack
generators iterate it); ``layer_type`` also finds the blocks (blocks.py).
"""

from __future__ import annotations

from cnnviz.core.layer_spec import (
    BOOL,
    CHOICE,
    FLOAT,
    GROUPS,
    INT,
    OPT_BOOL,
    OPT_FLOAT,
    OPT_INT,
    OPT_PAIR,
    PAD4,
    PADDING,
    PAIR,
    LayerType,
    Param,
)
from cnnviz.core.layers import IMPORTED_TYPES, LEAF_TYPES

__all__ = [
    "BOOL",
    "CATALOGUE",
    "CHOICE",
    "FLOAT",
    "GROUPS",
    "INT",
    "OPT_BOOL",
    "OPT_FLOAT",
    "OPT_INT",
    "OPT_PAIR",
    "PAD4",
    "PADDING",
    "PAIR",
    "LayerType",
    "Param",
    "by_group",
    "layer_type",
]

CATALOGUE: dict[str, LayerType] = {t.name: t for t in LEAF_TYPES}
# Leaf types only an import makes (Opaque): files hold them, the palette does not.
IMPORTED: dict[str, LayerType] = {t.name: t for t in IMPORTED_TYPES}


def layer_type(name: str) -> LayerType:
    """The catalogue entry for a torch class name, or KeyError naming the choices."""
    spec = CATALOGUE.get(name) or IMPORTED.get(name)
    if spec is not None:
        return spec
    # Blocks are types too; imported here because blocks.py sits above the
    # catalogue's users (architecture.py imports both).
    from cnnviz.core.blocks import BLOCK_TYPES

    try:
        return BLOCK_TYPES[name]
    except KeyError:
        known = ", ".join([*CATALOGUE, *BLOCK_TYPES])
        raise KeyError(f"unknown layer type {name!r} (known: {known})") from None


def by_group() -> dict[str, list[LayerType]]:
    """The catalogue in palette order: group → layer types, the groups that
    have any (the blocks' group stays out until the palette offers blocks)."""
    groups: dict[str, list[LayerType]] = {g: [] for g in GROUPS}
    for t in CATALOGUE.values():
        groups[t.group].append(t)
    return {g: types for g, types in groups.items() if types}
