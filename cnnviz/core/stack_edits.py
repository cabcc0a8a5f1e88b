"""Edits of the layer stack as pure functions: insert, remove, move, duplicate.

Each returns the new tuple of layers, where the affected rows ended up (for the
selection after the edit) and a map from old to new row for the rows that
survive, so that things attached to a row (hand-set kernels) follow it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from cnnviz.core.jobs import KernelEdit


@dataclass(frozen=True)
class StackEdit:
    items: tuple
    # Rows of the inserted, moved or duplicated items in the new stack.
    rows: tuple[int, ...]
    # Old row → new row, for every row that is still there.
    index_map: dict[int, int]


def _clean_rows(rows: Iterable[int], count: int) -> list[int]:
    cleaned = sorted(set(rows))
    for row in cleaned:
        if not 0 <= row < count:
            raise IndexError(f"row {row} is outside the stack of {count}")
    return cleaned


def insert(items: Sequence, position: int, new_items: Sequence) -> StackEdit:
    """`new_items` inserted before row `position` (clamped to 0..len)."""
    position = max(0, min(position, len(items)))
    result = (*items[:position], *new_items, *items[position:])
    index_map = {i: (i if i < position else i + len(new_items)) for i in range(len(items))}
    return StackEdit(result, tuple(range(position, position + len(new_items))), index_map)


def remove(items: Sequence, rows: Iterable[int]) -> StackEdit:
    gone = set(_clean_rows(rows, len(items)))
    kept = [i for i in range(len(items)) if i not in gone]
    result = tuple(items[i] for i in kept)
    # The selection after a delete: the row that now sits where the first one was.
    first = min(gone) if gone else 0
    after = (min(first, len(result) - 1),) if result else ()
    return StackEdit(result, after, {old: new for new, old in enumerate(kept)})


def move(items: Sequence, rows: Iterable[int], position: int) -> StackEdit:
    """The `rows` (kept in their order) moved to before the old row `position`.

    `position` counts in the stack before the move (0..len), as a drop
    indicator between two rows does.
    """
    moving = _clean_rows(rows, len(items))
    position = max(0, min(position, len(items)))
    staying = [i for i in range(len(items)) if i not in set(moving)]
    # Where the block lands among the rows that stay.
    insert_at = sum(1 for i in staying if i < position)
    order = staying[:insert_at] + moving + staying[insert_at:]
    result = tuple(items[i] for i in order)
    index_map = {old: new for new, old in enumerate(order)}
    return StackEdit(result, tuple(index_map[i] for i in moving), index_map)


def move_by(items: Sequence, rows: Iterable[int], step: int) -> StackEdit:
    """The rows moved one place up (step -1) or down (+1) as a block."""
    moving = _clean_rows(rows, len(items))
    if not moving:
        return StackEdit(tuple(items), (), {i: i for i in range(len(items))})
    if step < 0:
        return move(items, moving, max(0, moving[0] + step))
    return move(items, moving, min(len(items), moving[-1] + 1 + step))


def duplicate(items: Sequence, rows: Iterable[int]) -> StackEdit:
    """Copies of the rows (in order) inserted right after the last of them."""
    chosen = _clean_rows(rows, len(items))
    if not chosen:
        return StackEdit(tuple(items), (), {i: i for i in range(len(items))})
    return insert(items, chosen[-1] + 1, [items[i] for i in chosen])


def remap_kernel_edits(
    edits: Iterable[KernelEdit], index_map: dict[int, int]
) -> tuple[KernelEdit, ...]:
    """Hand-set kernels follow their layer; those of removed layers are dropped."""
    return tuple(replace(e, layer=index_map[e.layer]) for e in edits if e.layer in index_map)
