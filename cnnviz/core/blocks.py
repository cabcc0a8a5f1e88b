"""Blocks: layers that hold layers (architecture file version 2).

A block is a `Layer` whose ``paths`` hold stacks of layers, and it is a layer
type like any other (its entry in ``BLOCK_TYPES`` gives the palette its glyph
and the learner its explanation):

* ``Residual``: two paths, ``body`` and ``shortcut`` (empty = identity); the
  output is body(x) + shortcut(x), so both must give the same shape.
* ``Parallel``: any number of ``branches`` fed the same input; ``merge`` is
  ``concat`` (along channels, as ``torch.cat(dim=1)``) or ``add``.

This module knows what a block does with the shapes its paths give: the merged
shape (or the reason there is none), the MACs of the merge, and the union of
the paths' receptive fields. Walking the paths is `analysis`'s job.
"""

from __future__ import annotations

import math

from cnnviz.core.layer_spec import CHOICE, LayerType, Param

Shape = tuple[int, ...]

RESIDUAL = "Residual"
PARALLEL = "Parallel"

BLOCK_TYPES: dict[str, LayerType] = {
    RESIDUAL: LayerType(
        RESIDUAL,
        "block",
        "⊕",
        "adds a shortcut around its body: output = body(x) + shortcut(x).",
        "A residual block (ResNet) feeds its input through the body and, unchanged "
        "(an empty shortcut) or through a few layers, around it, then adds the two. "
        "The body only has to learn a correction to its input, and in backprop the "
        "gradient reaches earlier layers through the shortcut undiminished, which is "
        "why networks of 100+ layers train. The add needs equal shapes: where the "
        "body changes channels or size, the shortcut gets a 1×1 convolution with "
        "the same stride. The add costs one operation per output value.",
    ),
    PARALLEL: LayerType(
        PARALLEL,
        "block",
        "⫴",
        "feeds the same input to several branches and merges their outputs.",
        "Parallel branches (Inception) look at the same input in different ways, "
        "e.g. 1×1, 3×3 and 5×5 convolutions side by side, and merge what they find. "
        "'concat' stacks the branches' channels (their heights and widths must "
        "agree; channels add up), 'add' sums them (all shapes must agree). A 1×1 "
        "convolution before a large kernel cuts its channels and so its cost.",
        (
            Param(
                "merge",
                CHOICE,
                "concat",
                choices=("concat", "add"),
                key=True,
                help="concat stacks the branches' channels; add sums the branches.",
            ),
        ),
    ),
}

# Deeper nesting is refused when a file is read: no real network needs it, and
# every walk over the tree recurses once per level.
MAX_NESTING = 8


def is_block(type_name: str) -> bool:
    return type_name in BLOCK_TYPES


def path_names(type_name: str, n_paths: int) -> tuple[str, ...]:
    """The names of a block's paths, as in torch's state_dict keys."""
    if type_name == RESIDUAL:
        return ("body", "shortcut")
    return tuple(f"branches.{k}" for k in range(n_paths))


def merge_kind(type_name: str, params) -> str:
    """'add' or 'concat'."""
    if type_name == RESIDUAL:
        return "add"
    return params.get("merge", "concat")


def _dims(shape: Shape) -> str:
    return "×".join(str(n) for n in shape)


def merged_shape(type_name: str, params, outputs: dict[str, Shape]) -> Shape:
    """The block's output shape from each path's output shape (path name → shape).

    Raises ValueError with a reason a learner can act on.
    """
    kind = merge_kind(type_name, params)
    shapes = list(outputs.values())
    if kind == "add":
        if len(set(shapes)) > 1:
            raise ValueError(_add_mismatch(type_name, outputs))
        return shapes[0]
    ranks = {len(s) for s in shapes}
    if len(ranks) > 1 or any(s[1:] != shapes[0][1:] for s in shapes):
        given = ", ".join(f"{name} gives {_dims(s)}" for name, s in outputs.items())
        raise ValueError(
            f"{given}; a concat stacks channels, so every branch must give the same "
            "height and width (match their strides and paddings)"
        )
    return (sum(s[0] for s in shapes), *shapes[0][1:])


def _add_mismatch(type_name: str, outputs: dict[str, Shape]) -> str:
    given = ", ".join(f"{name} gives {_dims(s)}" for name, s in outputs.items())
    reason = f"{given}; an add needs equal shapes"
    hint = _shortcut_hint(outputs) if type_name == RESIDUAL else None
    return f"{reason} ({hint})" if hint else reason


def _shortcut_hint(outputs: dict[str, Shape]) -> str | None:
    """What a shortcut needs to match the body, when a 1×1 conv would do it."""
    body, shortcut = outputs.get("body"), outputs.get("shortcut")
    if body is None or shortcut is None or len(body) != 3 or len(shortcut) != 3:
        return None
    (c, h, w), (_, hs, ws) = body, shortcut
    if hs % h or ws % w or hs // h != ws // w:
        return None
    stride = hs // h
    where = f" and stride {stride}" if stride > 1 else ""
    return f"a 1×1 Conv2d with {c} out channels{where} in the shortcut would match"


def merge_macs(type_name: str, params, n_paths: int, output_shape: Shape) -> int:
    """Operations of the merge itself: one add per output value per extra path."""
    if merge_kind(type_name, params) != "add":
        return 0
    return (n_paths - 1) * math.prod(output_shape)
