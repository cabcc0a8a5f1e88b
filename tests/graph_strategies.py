"""Hypothesis strategies for random nested networks (architecture file version 2).

A graph is the JSON dict of an architecture file: top-level stacks mixing leaf
layers and blocks (Residual, Parallel concat/add with one to four branches,
some empty), nested up to MAX_DEPTH, on small inputs (C ≤ 4, H, W ≤ 12) so each
example runs in milliseconds.

The generator follows the shape it expects while it builds, so that most
graphs are valid: bodies keep the spatial size (odd kernels, padding k//2,
stride 1) and end on the channels the merge needs, a projection shortcut gets
the body's stride. A share is invalid on purpose in each way a graph can be:
an add of unequal shapes (a shortcut with the wrong stride or channels), a
concat of branches of different heights and widths, a kernel larger than its
input, and any layer drawn from the whole catalogue (tests/layer_strategies.py,
values kept small) that may not fit its input. Torch (tests/torch_graph.py,
never cnnviz) says what shape a random layer gives; after one that fails or
gives no maps the rest is built blind.
"""

from __future__ import annotations

import warnings
from dataclasses import replace

import torch
from hypothesis import strategies as st

from cnnviz.core.catalogue import CATALOGUE, FLOAT, INT, OPT_INT, OPT_PAIR, PADDING, PAIR, Param
from tests.layer_strategies import param_values
from tests.torch_graph import REJECTIONS, leaf_module

MAX_DEPTH = 3
MAX_CHANNELS = 5
MAX_SIDE = 12

# The largest value of a numeric parameter in a drawn layer: sizes a CPU runs
# in microseconds, and still every case (a kernel larger than the input, a
# stride past it, padding over half the kernel).
_CAPS = {"stride": 3, "dilation": 3, "padding": 2, "output_padding": 2, "groups": 3}
_DEFAULT_CAP = MAX_CHANNELS
_FLOAT_CAP = 4.0
_NUMERIC = (INT, PAIR, OPT_PAIR, OPT_INT, PADDING, "padding4")
_FLOATS = (FLOAT, "optional_float")

# Types that keep their input's shape whatever their parameters.
_SHAPE_KEEPING = (
    "ReLU",
    "ReLU6",
    "LeakyReLU",
    "ELU",
    "GELU",
    "SiLU",
    "Hardswish",
    "Sigmoid",
    "Tanh",
    "Identity",
    "Dropout",
    "Dropout2d",
    "BatchNorm2d",
    "Softmax",  # on maps every dim (-4…3) is valid; 2 and 3 mix a column or a row
)

Shape = tuple[int, int, int] | None  # (C, H, W) where the generator knows it


def small(p: Param) -> Param:
    """`p` with its range cut to small values (the catalogue allows thousands)."""
    if p.kind in _NUMERIC and p.maximum is not None:
        # Negative values (ZeroPad2d crops) are cut the same way.
        cap = _CAPS.get(p.name, _DEFAULT_CAP)
        low = max(p.minimum, -cap) if p.minimum is not None else None
        return replace(p, minimum=low, maximum=min(p.maximum, max(cap, low or 0)))
    if p.kind in _FLOATS and p.maximum is not None:
        return replace(p, maximum=min(p.maximum, max(p.minimum or 0.0, _FLOAT_CAP)))
    return p


def _json_value(value):
    return list(value) if isinstance(value, tuple) else value


@st.composite
def leaf_of(draw, type_name: str) -> dict:
    """A layer of `type_name` with every required parameter and some optional
    ones, drawn by layer_strategies' per-kind strategies with small ranges."""
    raw = {"type": type_name}
    for p in CATALOGUE[type_name].params:
        if p.required or draw(st.booleans()):
            raw[p.name] = _json_value(draw(param_values(small(p))))
    return raw


def any_leaf() -> st.SearchStrategy[dict]:
    """A layer of any catalogue type (it may not fit its input)."""
    return st.sampled_from(sorted(CATALOGUE)).flatmap(leaf_of)


def _conv(out_channels: int, kernel: int, stride: int = 1, dilation: int = 1) -> dict:
    raw = {"type": "Conv2d", "out_channels": out_channels, "kernel_size": kernel}
    if stride != 1:
        raw["stride"] = stride
    if dilation != 1:
        raw["dilation"] = dilation
    if kernel > 1:
        raw["padding"] = dilation * (kernel // 2)
    return raw


def _torch_shape(raw: dict, shape: Shape) -> Shape:
    """The shape torch gives after layer `raw` (None where it fails or does not
    give maps), so that what follows a random layer is built to fit it."""
    if shape is None:
        return None
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            x = torch.zeros(1, *shape)
            y = leaf_module(raw, x)(x)
    except REJECTIONS:
        return None
    return tuple(y.shape[1:]) if y.dim() == 4 and y.numel() else None


def _strided(side: int, stride: int) -> int:
    """The side after a 3×3 conv with padding 1 (or a 1×1 conv) and `stride`."""
    return (side - 1) // stride + 1


channels = st.integers(1, MAX_CHANNELS)


@st.composite
def keeping_leaf(draw, shape: Shape) -> tuple[dict, Shape]:
    """A layer that keeps height and width (and says what it makes of the channels)."""
    kind = draw(st.sampled_from(["conv", "conv", "keep", "keep", "pool"]))
    if kind == "conv":
        out = draw(channels)
        raw = _conv(
            out, draw(st.sampled_from([1, 3, 5])), dilation=draw(st.sampled_from([1, 1, 2]))
        )
        return raw, None if shape is None else (out, *shape[1:])
    if kind == "pool":
        pool = draw(st.sampled_from(["MaxPool2d", "AvgPool2d"]))
        return {"type": pool, "kernel_size": 3, "stride": 1, "padding": 1}, shape
    names = [name for name in _SHAPE_KEEPING if name in CATALOGUE]
    raw = draw(st.sampled_from(names).flatmap(leaf_of))
    # The parameters that change what an output reads, first in the list (which
    # Hypothesis draws most often): a Softmax along the height or width, a
    # BatchNorm2d normalising by its own map's statistics.
    if raw["type"] == "Softmax":
        raw["dim"] = draw(st.sampled_from([2, 3, -1, -2, 1, -3, 0, -4]))
    if raw["type"] == "BatchNorm2d":
        raw["track_running_stats"] = draw(st.sampled_from([False, True]))
    return raw, shape


@st.composite
def item(draw, shape: Shape, depth: int, block: bool = False) -> tuple[dict, Shape]:
    """One entry of a stack: mostly shape-keeping layers and blocks (a block
    where `block` asks for one)."""
    kinds = ["keep"] * 5 + ["random"] * 2
    if shape is not None:
        kinds.append("misfit")
        if depth == 0:  # at the top only: inside a path the size stays, for the merge
            kinds.append("down")
    if depth < MAX_DEPTH:
        kinds += ["residual", "parallel"] * 2
    if block:
        kinds = ["residual", "parallel"]
    kind = draw(st.sampled_from(kinds))
    if kind == "keep":
        return draw(keeping_leaf(shape))
    if kind == "down":
        out = draw(channels)
        raw = _conv(out, 3, stride=2)
        return raw, (out, _strided(shape[1], 2), _strided(shape[2], 2))
    if kind == "random":
        raw = draw(any_leaf())
        return raw, _torch_shape(raw, shape)
    if kind == "misfit":  # a kernel one larger than the padded input
        return {"type": "Conv2d", "out_channels": draw(channels), "kernel_size": shape[1] + 1}, None
    if kind == "residual":
        return draw(residual(shape, depth + 1))
    return draw(parallel(shape, depth + 1))


@st.composite
def stack(draw, shape: Shape, depth: int, max_size: int = 3) -> tuple[list, Shape]:
    """A list of entries and the shape the generator expects after them."""
    layers = []
    for _ in range(draw(st.integers(0, max_size))):
        raw, shape = draw(item(shape, depth))
        layers.append(raw)
    return layers, shape


@st.composite
def path_to(draw, shape: Shape, depth: int, out: int, stride: int = 1) -> tuple[list, Shape]:
    """A stack ending on `out` channels, its height and width divided by `stride`."""
    layers, end = draw(stack(shape, depth, max_size=2))
    layers.append(_conv(out, draw(st.sampled_from([1, 3])) if stride == 1 else 3, stride=stride))
    if end is None:
        return layers, None
    return layers, (out, _strided(end[1], stride), _strided(end[2], stride))


@st.composite
def residual(draw, shape: Shape, depth: int) -> tuple[dict, Shape]:
    """A residual block: identity shortcut, a projection (1×1 conv with the body's
    stride), or on purpose a shortcut that does not match."""
    c = shape[0] if shape is not None else draw(channels)
    mode = draw(st.sampled_from(["identity"] * 3 + ["projection"] * 3 + ["wrong"]))
    if mode == "identity":
        body, out = draw(path_to(shape, depth, c))
        return {"type": "Residual", "body": body, "shortcut": []}, _same(out, shape)
    # A block at the top may halve the size; inside a path it keeps it.
    stride = draw(st.sampled_from([1, 2])) if depth == 1 else 1
    width = draw(channels)
    body, out = draw(path_to(shape, depth, width, stride))
    short_stride, short_width = stride, width
    if mode == "wrong":  # a stride or a channel count that does not match
        if draw(st.booleans()):
            short_stride = 3 - stride
        else:
            short_width = width % MAX_CHANNELS + 1
    shortcut = [_conv(short_width, 1, stride=short_stride)]
    if draw(st.booleans()):
        shortcut.append({"type": "BatchNorm2d"})
    if shape is not None:
        shape = (short_width, _strided(shape[1], short_stride), _strided(shape[2], short_stride))
    return {"type": "Residual", "body": body, "shortcut": shortcut}, _same(out, shape)


def _same(body: Shape, shortcut: Shape) -> Shape:
    """The shape after an add of the two, where the generator knows it."""
    return body if body is not None and body == shortcut else None


@st.composite
def parallel(draw, shape: Shape, depth: int) -> tuple[dict, Shape]:
    """Branches merged by concat (any channels) or add (equal channels); some
    branches empty; now and then one branch strided on purpose."""
    c = shape[0] if shape is not None else draw(channels)
    merge = draw(st.sampled_from(["concat", "add"]))
    n = draw(st.integers(1, 4))
    add_width = draw(channels)
    # Now and then one branch halves the size: a concat or add cannot merge it.
    strided = None
    if n > 1 and draw(st.integers(0, 6)) == 0:
        strided = draw(st.integers(0, n - 1))
    branches, ends = [], []
    for k in range(n):
        if k != strided and draw(st.integers(0, 3)) == 0 and (merge == "concat" or add_width == c):
            branches.append([])
            ends.append(shape)
            continue
        width = add_width if merge == "add" else draw(channels)
        layers, end = draw(path_to(shape, depth, width, 2 if k == strided else 1))
        branches.append(layers)
        ends.append(end)
    raw = {"type": "Parallel", "branches": branches}
    if merge != "concat" or draw(st.booleans()):
        raw["merge"] = merge
    if any(end is None for end in ends) or any(end[1:] != ends[0][1:] for end in ends):
        return raw, None
    if merge == "add":
        return raw, ends[0] if len(set(ends)) == 1 else None
    return raw, (sum(end[0] for end in ends), *ends[0][1:])


@st.composite
def tail(draw, shape: Shape) -> list:
    """Sometimes a classifier head: pooled or flattened, then Linear; or a
    block over the vector (a residual, or Linear branches)."""
    kind = draw(
        st.sampled_from(["none"] * 4 + ["pool", "flatten", "vector residual", "vector branches"])
    )
    if kind == "none":
        return []
    head = [{"type": "AdaptiveAvgPool2d", "output_size": 1}] if kind == "pool" else []
    head.append({"type": "Flatten"})
    head.append({"type": "Linear", "out_features": draw(channels)})
    if kind == "vector residual":
        features = head[-1]["out_features"]
        body = [{"type": "ReLU"}, {"type": "Linear", "out_features": features}]
        head.append({"type": "Residual", "body": body, "shortcut": []})
    if kind == "vector branches":  # Linear branches over the vector, concat or add
        merge = draw(st.sampled_from(["concat", "add"]))
        widths = draw(st.lists(channels, min_size=1, max_size=3))
        if merge == "add" and draw(st.integers(0, 3)):
            widths = [widths[0]] * len(widths)
        branches = [[{"type": "Linear", "out_features": n}] for n in widths]
        head.append({"type": "Parallel", "merge": merge, "branches": branches})
    return head


@st.composite
def graphs(draw, heads: bool = True) -> dict:
    """The JSON dict of a random nested architecture file (without a classifier
    head where `heads` is False: the output stays maps)."""
    c = draw(st.integers(1, 4))
    h, w = draw(st.integers(1, MAX_SIDE)), draw(st.integers(1, MAX_SIDE))
    layers, shape = [], (c, h, w)
    n = draw(st.integers(1, 4))
    block_at = draw(st.integers(0, n - 1))  # at least one block in each graph
    for i in range(n):
        raw, shape = draw(item(shape, 0, block=i == block_at))
        layers.append(raw)
    if heads:
        layers += draw(tail(shape))
    return {
        "format": "cnnviz-architecture",
        "version": 2,
        "name": "generated",
        "input": {"channels": c, "height": h, "width": w},
        "layers": layers,
    }
