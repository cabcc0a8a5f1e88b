"""The overview strip's plan with blocks (core/strip_lanes.py) and which layer
feeds which (core/layer_flow.py)."""

from __future__ import annotations

from cnnviz.core.analysis import analyze
from cnnviz.core.architecture import Architecture, InputShape, Layer
from cnnviz.core.layer_flow import NETWORK_INPUT, feeding_index, upstream
from cnnviz.core.strip_lanes import Block, Spacing, plan_lanes, strip_items


def _conv(out: int, k: int = 3, **params) -> Layer:
    return Layer.make("Conv2d", out_channels=out, kernel_size=k, padding=k // 2, **params)


# 0 conv · 1 Residual(2 conv, 3 ReLU, 4 conv | identity) ·
# 5 Parallel concat(6 conv1x1 | 7 max pool) · 8 ReLU
NET = Architecture(
    "blocks",
    InputShape(3, 12, 12),
    (
        _conv(4),
        Layer.block("Residual", [[_conv(4), Layer.make("ReLU"), _conv(4)], []]),
        Layer.block(
            "Parallel",
            [[_conv(2, 1)], [Layer.make("MaxPool2d", kernel_size=3, stride=1, padding=1)]],
            merge="concat",
        ),
        Layer.make("ReLU"),
    ),
)


def test_each_layer_is_fed_by_the_one_before_it_in_its_path_or_by_its_blocks_input():
    analysis = analyze(NET)
    fed = {info.address: feeding_index(analysis, info.index) for info in analysis.layers}
    assert fed == {
        "0": NETWORK_INPUT,
        "1": 0,
        "1.body.0": 0,  # the block's input
        "1.body.1": 2,
        "1.body.2": 3,
        "2": 1,  # the residual block's merged output
        "2.branches.0.0": 1,
        "2.branches.1.0": 1,  # every branch gets the block's input, not branch 0's output
        "3": 5,
    }


def test_upstream_holds_what_reaches_a_layer_and_nothing_of_its_sibling_branches():
    analysis = analyze(NET)
    pool = analysis.at("2.branches.1.0").index
    assert set(upstream(analysis, pool)) == {0, 1, 2, 3, 4}
    assert upstream(analysis, analysis.at("1.body.0").index) == (0,)
    assert upstream(analysis, 0) == ()


def test_a_straight_stack_is_one_row_without_lines():
    sizes = {k: (64, 32 + k) for k in range(-1, 3)}
    strip = plan_lanes([-1, 0, 1, 2], sizes, Spacing(gap=10, caption=30))
    assert strip.keys == (-1, 0, 1, 2)
    assert [r[1] for r in strip.rects] == [0, 41, 83, 126]
    assert {r[0] for r in strip.rects} == {0}
    assert strip.segments == ()
    assert (strip.height, strip.width) == (94, 126 + 34)


def test_a_blocks_paths_are_stacked_lanes_with_the_merge_after_them():
    analysis = analyze(NET)
    items = strip_items(analysis, set(range(len(analysis.layers))))
    assert items == [0, Block(1, ((2, 3, 4), ())), Block(5, ((6,), (7,))), 8]
    sizes = {k: (20, 20) for k in range(-1, len(analysis.layers))}
    strip = plan_lanes([-1, *items], sizes, Spacing(gap=10, caption=8, lane_gap=4))
    rect = dict(zip(strip.keys, strip.rects, strict=True))
    # The body runs in one lane above the identity shortcut, starting after layer 0.
    body = [rect[k] for k in (2, 3, 4)]
    assert len({r[0] for r in body}) == 1 and body[0][1] > rect[0][1] + 20
    assert [r[1] for r in body] == sorted(r[1] for r in body)
    # The merge comes after the body and sits below the body's lane (between lanes).
    assert rect[1][1] > body[-1][1] + 20 and rect[1][0] > body[0][0]
    # Branches start at the same x, one above the other; the merge after both.
    assert rect[6][1] == rect[7][1] and rect[6][0] + 20 <= rect[7][0]
    assert rect[5][1] > rect[6][1] + 20 and rect[6][0] < rect[5][0] < rect[7][0]
    # The network goes on after the merge; nothing overlaps.
    assert rect[8][1] > rect[5][1] + 20
    boxes = list(strip.rects)
    for i, (y, x, h, w) in enumerate(boxes):
        for y2, x2, h2, w2 in boxes[i + 1 :]:
            assert x + w <= x2 or x2 + w2 <= x or y + h <= y2 or y2 + h2 <= y
        assert y >= 0 and y + h <= strip.height and x + w <= strip.width
    # An identity shortcut is a bare line from the split to the join.
    identity = [s for s in strip.segments if s[1] == s[3] and s[2] - s[0] > 60]
    assert identity
    assert strip.locate(rect[7][1] + 1, rect[7][0] + 1) == strip.keys.index(7)


def test_layers_without_a_result_are_left_out_and_a_block_without_its_merge_keeps_its_lanes():
    analysis = analyze(NET)
    items = strip_items(analysis, {0, 2, 3, 4})
    assert items == [0, Block(None, ((2, 3, 4), ()))]
    sizes = {k: (20, 20) for k in range(-1, 9)}
    strip = plan_lanes([-1, *items], sizes)
    assert strip.keys == (-1, 0, 2, 3, 4)
