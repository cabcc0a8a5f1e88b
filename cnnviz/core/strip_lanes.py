"""Where the overview strip's thumbnails go when the network has blocks.

A straight stack is one row of thumbnails. A block's paths are drawn as lanes
stacked one above another (a Residual's body above its shortcut, a
Parallel's branches in order), all starting where the block starts; the
block's merged output follows them, centred between the first and last
lane, and the network goes on after it. Blocks nest: a lane may hold a
block, which again stacks its own lanes. Lines (``segments``) show where the
paths split and where they meet, an empty path (an identity shortcut)
being a bare line.

Every thumbnail is placed on its row's flow line (the line the data runs
along), with room under it for its caption. Sizes and positions are strip
pixels; the panel scales and scrolls the whole strip.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from cnnviz.core.analysis import Analysis


@dataclass(frozen=True)
class Block:
    """A block in the strip: its merged output's key (None when not computed)
    and its paths, each a sequence of keys and blocks."""

    key: int | None
    lanes: tuple[tuple, ...]


Item = int | Block
Rect = tuple[int, int, int, int]  # y, x, height, width
Segment = tuple[float, float, float, float]  # x0, y0, x1, y1


@dataclass(frozen=True)
class Spacing:
    gap: int = 10  # between thumbnails along a row
    caption: int = 30  # under each thumbnail, for its caption
    lane_gap: int = 6  # between stacked lanes
    empty_lane: int = 14  # height of a lane with no layers (identity)


@dataclass(frozen=True)
class LaneStrip:
    keys: tuple[int, ...]  # thumbnail → its key (layer index; -1 the input)
    rects: tuple[Rect, ...]
    segments: tuple[Segment, ...]
    height: int
    width: int

    # Per thumbnail, as thumbnails.StripLayout gives them for one row.
    @property
    def lefts(self) -> tuple[int, ...]:
        return tuple(rect[1] for rect in self.rects)

    @property
    def widths(self) -> tuple[int, ...]:
        return tuple(rect[3] for rect in self.rects)

    @property
    def heights(self) -> tuple[int, ...]:
        return tuple(rect[2] for rect in self.rects)

    def top(self, number: int) -> int:
        return self.rects[number][0]

    def locate(self, x: float, y: float) -> int | None:
        """The thumbnail under strip pixel (x, y), or None."""
        for number, (top, left, h, w) in enumerate(self.rects):
            if left <= x < left + w and top <= y < top + h:
                return number
        return None

    def number_of(self, key: int) -> int | None:
        return self.keys.index(key) if key in self.keys else None


def strip_items(analysis: Analysis, shown: set[int]) -> list[Item]:
    """The top-level items of `analysis`, keeping the layers in `shown` (those
    with a result) and the blocks with anything shown inside."""
    return _sequence(analysis, [info.index for info in analysis.top_level], shown)


def _sequence(analysis: Analysis, indices: Sequence[int], shown: set[int]) -> list[Item]:
    items: list[Item] = []
    for index in indices:
        info = analysis.layers[index]
        if not info.layer.is_block:
            if index in shown:
                items.append(index)
            continue
        children = analysis.children(index)
        lanes = []
        for name in info.layer.path_names:
            prefix = f"{info.address}.{name}."
            path = [c.index for c in children if c.address.startswith(prefix)]
            lanes.append(tuple(_sequence(analysis, path, shown)))
        key = index if index in shown else None
        if key is not None or any(lanes):
            items.append(Block(key, tuple(lanes)))
    return items


class _Planner:
    def __init__(self, sizes: Mapping[int, tuple[int, int]], spacing: Spacing):
        self.sizes, self.s = sizes, spacing
        self.keys: list[int] = []
        self.rects: list[Rect] = []
        self.segments: list[Segment] = []

    # Extents: (width, above the flow line, below it).

    def measure(self, item: Item) -> tuple[int, int, int]:
        if isinstance(item, Block):
            return self._block_extent(item)[0]
        h, w = self.sizes[item]
        return w, h // 2, h - h // 2 + self.s.caption

    def measure_row(self, items: Sequence[Item]) -> tuple[int, int, int]:
        if not items:
            half = self.s.empty_lane // 2
            return 0, half, self.s.empty_lane - half
        extents = [self.measure(item) for item in items]
        width = sum(e[0] for e in extents) + self.s.gap * (len(items) - 1)
        return width, max(e[1] for e in extents), max(e[2] for e in extents)

    def _block_extent(self, block: Block):
        """((width, above, below), lane flow lines relative to the block's flow line,
        the widest lane's width)."""
        lanes = [self.measure_row(lane) for lane in block.lanes]
        flows, top = [], 0
        for _, above, below in lanes:
            flows.append(top + above)
            top += above + below + self.s.lane_gap
        height = top - self.s.lane_gap
        middle = (flows[0] + flows[-1]) // 2
        h, w = self.sizes[block.key] if block.key is not None else (0, 0)
        above = max(middle, h // 2)
        below = max(height - middle, h - h // 2 + (self.s.caption if h else 0))
        widest = max(lane[0] for lane in lanes)
        width = 2 * self.s.gap + widest + w
        return (width, above, below), [f - middle for f in flows], widest

    # Placement at (left x, flow line y).

    def place(self, item: Item, x: int, flow: int) -> None:
        if isinstance(item, Block):
            self._place_block(item, x, flow)
            return
        h, w = self.sizes[item]
        self.keys.append(item)
        self.rects.append((flow - h // 2, x, h, w))

    def place_row(self, items: Sequence[Item], x: int, flow: int) -> int:
        """Place `items` left to right from x; the x after the last one."""
        for number, item in enumerate(items):
            if number:
                x += self.s.gap
            self.place(item, x, flow)
            x += self.measure(item)[0]
        return x

    def _place_block(self, block: Block, x: int, flow: int) -> None:
        _, flows, widest = self._block_extent(block)
        gap = self.s.gap
        split, join = x + gap / 2, x + gap + widest + gap / 2
        lanes = [flow + f for f in flows]
        self.segments.append((x - gap / 2, flow, split, flow))  # from the item before
        self.segments.append((split, lanes[0], split, lanes[-1]))
        self.segments.append((join, lanes[0], join, lanes[-1]))
        for lane, y in zip(block.lanes, lanes, strict=True):
            end = self.place_row(lane, x + gap, y)
            self.segments.append((split, y, x + gap, y) if lane else (split, y, join, y))
            if lane:
                self.segments.append((end, y, join, y))
        if block.key is not None:
            self.segments.append((join, flow, x + 2 * gap + widest, flow))
            self.place(block.key, x + 2 * gap + widest, flow)


def plan_lanes(
    items: Sequence[Item],
    sizes: Mapping[int, tuple[int, int]],
    spacing: Spacing = Spacing(),
) -> LaneStrip:
    """Place `items` (keys and blocks; `sizes` gives each key's thumbnail
    (height, width)) in one strip; the captions' room is part of its height."""
    planner = _Planner(sizes, spacing)
    width, above, below = planner.measure_row(items) if items else (0, 0, 0)
    planner.place_row(items, 0, above)
    return LaneStrip(
        tuple(planner.keys),
        tuple(planner.rects),
        tuple(planner.segments),
        above + below,
        width,
    )
