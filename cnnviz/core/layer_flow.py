"""Which layer feeds which, in a network with blocks (pure; no numpy needed).

In a straight stack layer i receives layer i−1's output. With blocks it does
not: the first layer of a path receives the block's input, a block's merged
output feeds the entry after the block, and the layers of the other paths
come between them in the flat, pre-order list (``Analysis.layers``). Panels
that need "what this layer received" or "is there a conv before this one"
ask here instead of looking one index back.
"""

from __future__ import annotations

from cnnviz.core.analysis import Analysis

NETWORK_INPUT = -1  # the "index" of the network's input picture


def feeding_index(analysis: Analysis, index: int) -> int:
    """The flat index of the layer whose output layer `index` receives, or
    NETWORK_INPUT when it receives the network's input."""
    info = analysis.layers[index]
    if info.parent is None:
        return analysis.top_level[info.top - 1].index if info.top > 0 else NETWORK_INPUT
    position = int(info.address.rsplit(".", 1)[1])
    if position == 0:  # the first layer of its path receives the block's input
        return feeding_index(analysis, info.parent)
    before = info.address.rsplit(".", 1)[0] + f".{position - 1}"
    return analysis.at(before).index


def inside(analysis: Analysis, index: int) -> tuple[int, ...]:
    """The flat indices of every layer inside block `index` (none for a layer)."""
    prefix = analysis.layers[index].address + "."
    return tuple(info.index for info in analysis.layers if info.address.startswith(prefix))


def upstream(analysis: Analysis, index: int) -> tuple[int, ...]:
    """Every layer whose output reaches layer `index`'s input, nearest first
    (a block that feeds it counts with everything inside it)."""
    found: list[int] = []
    source = feeding_index(analysis, index)
    while source != NETWORK_INPUT:
        found.append(source)
        found.extend(inside(analysis, source))
        source = feeding_index(analysis, source)
    return tuple(found)
