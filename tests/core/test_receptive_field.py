"""Receptive fields from the core's arithmetic equal what torch's gradients see.

With all-positive weights, the input pixels that influence one output position
are exactly those with a non-zero gradient. For a position whose field lies
inside the input, their bounding box must equal the core's box (the extreme
taps of a composed field are always touched; holes from dilation or stride only
lie inside). Fields hanging over the padding are checked by the clipping tests.
"""

from __future__ import annotations

import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from torch import nn

from cnnviz.core.analysis import analyze
from cnnviz.core.architecture import Architecture, InputShape, Layer
from cnnviz.core.receptive_field import ReceptiveField

k = st.integers(1, 4)
s = st.integers(1, 3)
d = st.integers(1, 3)
p = st.integers(0, 2)

conv = st.builds(
    lambda kh, kw, sh, sw, dh, dw, ph, pw: Layer.make(
        "Conv2d",
        out_channels=2,
        kernel_size=(kh, kw),
        stride=(sh, sw),
        dilation=(dh, dw),
        padding=(ph, pw),
    ),
    k,
    k,
    s,
    s,
    d,
    d,
    p,
    p,
)
# Average pooling has max pooling's geometry but spreads the gradient evenly.
pool = st.builds(
    lambda kk, ss, pp: Layer.make("AvgPool2d", kernel_size=kk, stride=ss, padding=min(pp, kk // 2)),
    k,
    st.one_of(st.none(), s),
    p,
)
same_conv = st.builds(
    lambda kk, dd: Layer.make(
        "Conv2d", out_channels=1, kernel_size=kk, padding="same", dilation=dd
    ),
    k,
    d,
)
adaptive = st.builds(
    lambda oh, ow: Layer.make("AdaptiveAvgPool2d", output_size=(oh, ow)),
    st.integers(1, 9),
    st.integers(1, 9),
)
linear = st.builds(lambda n: Layer.make("Linear", out_features=n, bias=False), st.integers(1, 9))
# A transposed conv's outputs read irregular sets of inputs (and none, between
# stamps of a 1×1 kernel with stride 2): its field is composed from spans.
conv_transpose = st.builds(
    lambda kh, kw, sh, sw, dh, dw, ph, pw, op: Layer.make(
        "ConvTranspose2d",
        out_channels=2,
        kernel_size=(kh, kw),
        stride=(sh, sw),
        dilation=(dh, dw),
        padding=(ph, pw),
        output_padding=min(op, max(sh, dh) - 1, max(sw, dw) - 1),
    ),
    k,
    k,
    s,
    s,
    d,
    d,
    p,
    p,
    st.integers(0, 2),
)
upsample = st.builds(
    lambda mode, scale, size, corners: Layer.make(
        "Upsample",
        mode=mode,
        **({"scale_factor": scale} if size is None else {"size": size}),
        **({"align_corners": corners} if mode == "bilinear" else {}),
    ),
    st.sampled_from(["nearest", "bilinear"]),
    st.one_of(st.sampled_from([0.5, 1.5, 2.0, 3.0]), st.floats(0.3, 3.0)),
    st.one_of(st.none(), st.tuples(st.integers(4, 30), st.integers(4, 30))),
    st.booleans(),
)
zero_pad = st.builds(
    lambda padding: Layer.make("ZeroPad2d", padding=padding),
    st.one_of(st.integers(-2, 3), st.tuples(*[st.integers(-2, 3)] * 4)),
)
adaptive_max = st.builds(
    lambda oh, ow: Layer.make("AdaptiveMaxPool2d", output_size=(oh, ow)),
    st.integers(1, 9),
    st.integers(1, 9),
)
stacks = st.lists(
    st.one_of(
        conv,
        conv,
        pool,
        same_conv,
        adaptive,
        adaptive_max,
        linear,
        conv_transpose,
        upsample,
        zero_pad,
        st.just(Layer.make("ReLU")),
    ),
    min_size=1,
    max_size=4,
)


def positive_model(arch: Architecture) -> nn.Sequential:
    modules = []
    shape = arch.input.as_tuple()
    for info in analyze(arch).layers:
        layer = info.layer
        if layer.type == "Conv2d":
            m = nn.Conv2d(
                shape[0], bias=False, **{k: v for k, v in layer.all_params().items() if k != "bias"}
            )
            nn.init.constant_(m.weight, 1.0)
        elif layer.type == "AvgPool2d":
            m = nn.AvgPool2d(**layer.all_params())
        elif layer.type in ("AdaptiveAvgPool2d", "AdaptiveMaxPool2d"):
            # The max pool's windows are the average pool's (checked below by
            # test_adaptive_max_pool_windows_are_what_can_win); the mean spreads
            # the gradient over the whole window.
            m = nn.AdaptiveAvgPool2d(layer.get("output_size"))
        elif layer.type == "ConvTranspose2d":
            args = {k: v for k, v in layer.all_params().items() if k != "bias"}
            m = nn.ConvTranspose2d(shape[0], bias=False, **args)
            nn.init.constant_(m.weight, 1.0)
        elif layer.type in ("Upsample", "ZeroPad2d"):
            m = getattr(nn, layer.type)(**layer.all_params())  # non-negative weights
        elif layer.type == "Linear":
            m = nn.Linear(shape[-1], layer.get("out_features"), bias=False)
            nn.init.constant_(m.weight, 1.0)
        elif layer.type == "Flatten":
            m = nn.Flatten()
        else:
            m = nn.Identity()  # ReLU would cut gradients at zero inputs
        modules.append(m)
        shape = info.output_shape
    return nn.Sequential(*modules)


def gradient_box(model, input_shape, row, col):
    x = torch.ones(1, *input_shape, requires_grad=True)
    y = model(x)
    y[0, 0, row, col].backward()
    touched = x.grad[0].abs().sum(0).nonzero()
    if len(touched) == 0:
        return None  # the output reads only padding
    (top, left), (bottom, right) = touched.min(0).values, touched.max(0).values
    return (int(top), int(left), int(bottom) + 1, int(right) + 1)


@settings(max_examples=200, deadline=None)
@given(stacks, st.integers(8, 40), st.integers(8, 40), st.data())
def test_box_equals_gradient_support(layers, h, w, data):
    arch = Architecture("rf", InputShape(1, h, w), tuple(layers))
    analysis = analyze(arch)
    assume(analysis.valid)  # invalid stacks are covered by test_against_torch
    rf = analysis.receptive_field_at(len(layers) - 1)
    _, out_h, out_w = analysis.output_shape
    inside = [
        (r, c)
        for r in range(out_h)
        for c in range(out_w)
        if (b := rf.unclipped_box(r, c))[0] >= 0 and b[1] >= 0 and b[2] <= h and b[3] <= w
    ]
    assume(inside)
    row, col = data.draw(st.sampled_from(inside))
    expected = gradient_box(positive_model(arch), (1, h, w), row, col)
    top, left, bottom, right = rf.box(row, col, (h, w))
    if expected is None:
        assert bottom <= top or right <= left
    else:
        assert (top, left, bottom, right) == expected


def test_box_is_clipped_to_the_input():
    # 3x3 conv with padding 1: output (0, 0) sees rows/cols -1..1, i.e. 0..1 of the input.
    arch = Architecture(
        "t", InputShape(1, 6, 6), (Layer.make("Conv2d", out_channels=1, kernel_size=3, padding=1),)
    )
    rf = analyze(arch).receptive_field_at(0)
    assert rf.unclipped_box(0, 0) == (-1, -1, 2, 2)
    assert rf.box(0, 0, (6, 6)) == (0, 0, 2, 2)
    assert rf.box(5, 5, (6, 6)) == (4, 4, 6, 6)


def test_textbook_values():
    # Two 3x3 convs see 5x5; a 2x2/2 pool then a 3x3 conv sees 10x10 with jump 2.
    arch = Architecture(
        "t",
        InputShape(1, 32, 32),
        (
            Layer.make("Conv2d", out_channels=1, kernel_size=3),
            Layer.make("Conv2d", out_channels=1, kernel_size=3),
            Layer.make("MaxPool2d", kernel_size=2),
            Layer.make("Conv2d", out_channels=1, kernel_size=3),
        ),
    )
    a = analyze(arch)
    assert [a.receptive_field_at(i).size for i in range(4)] == [(3, 3), (5, 5), (6, 6), (10, 10)]
    assert a.receptive_field_at(3).jump == (2, 2)
    assert a.receptive_field_at(-1) == ReceptiveField()


def test_flatten_keeps_each_values_field_and_a_linear_after_it_sees_everything():
    layers = (
        Layer.make("Conv2d", out_channels=2, kernel_size=3),
        Layer.make("AvgPool2d", kernel_size=2),
        Layer.make("Flatten"),
        Layer.make("ReLU"),
        Layer.make("Linear", out_features=3, bias=False),
    )
    arch = Architecture("t", InputShape(1, 12, 12), layers)
    analysis = analyze(arch)
    flat, after_relu, dense = (analysis.receptive_field_at(i) for i in (2, 3, 4))
    assert flat.flattened and not flat.is_global and flat.size == (4, 4)
    assert after_relu == flat
    assert dense.is_global and dense.describe() == "receptive field: the whole input"
    assert "4×4" in flat.describe()
    model = positive_model(arch)
    pooled = analysis.receptive_field_at(1)
    _, h, w = analysis.layers[1].output_shape
    x = torch.ones(1, 1, 12, 12, requires_grad=True)
    values = model[:3](x)  # the flattened vector, value (channel, row, col) at c·h·w order
    for channel, row, col in ((0, 0, 0), (1, 2, 3), (1, 4, 4)):
        x.grad = None
        values[0, (channel * h + row) * w + col].backward(retain_graph=True)
        touched = x.grad[0, 0].nonzero()
        (top, left), (bottom, right) = touched.min(0).values, touched.max(0).values
        box = (int(top), int(left), int(bottom) + 1, int(right) + 1)
        assert box == pooled.box(row, col, (12, 12))
        assert (box[2] - box[0], box[3] - box[1]) == flat.size
    x.grad = None
    model(x)[0, 0].backward()
    assert bool((x.grad[0, 0] != 0).all())  # a Linear output reads the whole input


def torch_windows(in_hw, out_hw) -> list[list[tuple[int, int, int, int]]]:
    """For each output cell of torch's AdaptiveAvgPool2d, the bounding box of the
    input cells with a non-zero gradient, checked to be a full box (no holes)."""
    x = torch.ones(1, 1, *in_hw)
    jacobian = torch.autograd.functional.jacobian(
        lambda t: nn.AdaptiveAvgPool2d(out_hw)(t), x
    ).reshape(*out_hw, *in_hw)
    boxes = []
    for row in range(out_hw[0]):
        boxes.append([])
        for col in range(out_hw[1]):
            touched = jacobian[row, col] != 0
            rows, cols = touched.any(1).nonzero().flatten(), touched.any(0).nonzero().flatten()
            box = (int(rows[0]), int(cols[0]), int(rows[-1]) + 1, int(cols[-1]) + 1)
            assert int(touched.sum()) == (box[2] - box[0]) * (box[3] - box[1])
            boxes[-1].append(box)
    return boxes


@pytest.mark.parametrize("out_hw", [(1, 1), (2, 3), (3, 3), (4, 3), (5, 7), (7, 7), (6, 2)])
@pytest.mark.parametrize("in_hw", [(1, 1), (3, 5), (5, 5), (7, 5), (8, 8), (12, 7), (13, 16)])
def test_adaptive_pool_field_is_torchs_windows(in_hw, out_hw):
    arch = Architecture(
        "rf", InputShape(1, *in_hw), (Layer.make("AdaptiveAvgPool2d", output_size=out_hw),)
    )
    rf = analyze(arch).receptive_field_at(0)
    windows = torch_windows(in_hw, out_hw)
    for row in range(out_hw[0]):
        for col in range(out_hw[1]):
            assert rf.box(row, col, in_hw) == windows[row][col], (row, col)
    largest = tuple(
        max(box[2 + axis] - box[axis] for line in windows for box in line) for axis in range(2)
    )
    assert rf.size == largest


def test_adaptive_pool_7x5_to_4x3_sees_3x3():
    # torch's rows: [0, 2), [1, 4), [3, 6), [5, 7); columns: [0, 2), [1, 4), [3, 5).
    arch = Architecture(
        "rf", InputShape(1, 7, 5), (Layer.make("AdaptiveAvgPool2d", output_size=(4, 3)),)
    )
    rf = analyze(arch).receptive_field_at(0)
    assert rf.size == (3, 3) and not rf.regular
    assert rf.box(1, 1, (7, 5)) == (1, 1, 4, 4)


def test_even_adaptive_pool_stays_a_regular_grid():
    arch = Architecture(
        "rf",
        InputShape(1, 8, 8),
        (
            Layer.make("AdaptiveAvgPool2d", output_size=4),
            Layer.make("Conv2d", out_channels=1, kernel_size=3),
        ),
    )
    rf = analyze(arch).receptive_field_at(1)
    assert rf.regular and rf.size == (6, 6) and rf.jump == (2, 2)


def test_linear_on_maps_sees_its_row_not_the_whole_input():
    arch = Architecture("rf", InputShape(1, 32, 32), (Layer.make("Linear", out_features=10),))
    analysis = analyze(arch)
    rf = analysis.receptive_field_at(0)
    assert not rf.is_global and rf.size == (1, 32)
    model = positive_model(arch)
    for row, col in [(0, 0), (5, 3), (31, 9)]:
        expected = gradient_box(model, (1, 32, 32), row, col)
        assert expected == (row, 0, row + 1, 32)
        assert rf.box(row, col, (32, 32)) == expected


@pytest.mark.parametrize(
    ("layers", "shape", "line"),
    [
        (
            (Layer.make("Conv2d", out_channels=1, kernel_size=3),) * 2,
            (1, 8, 8),
            "receptive field: 5×5 input pixels, neighbours 1 px apart",
        ),
        (
            (Layer.make("AdaptiveAvgPool2d", output_size=(4, 3)),),
            (1, 7, 5),
            "receptive field: up to 3×3 input pixels (the windows differ in size), "
            "neighbours 1–2 px apart",
        ),
        (
            (Layer.make("Linear", out_features=10),),
            (1, 32, 32),
            "receptive field: 1×32 input pixels, neighbours 1 px apart down, "
            "0 px apart (the same pixels) across",
        ),
        (
            (Layer.make("Softmax", dim=2), Layer.make("Softmax", dim=3)),
            (1, 6, 5),
            "receptive field: 6×5 input pixels, every output sees the same pixels",
        ),
        (
            (Layer.make("Flatten"),),
            (1, 4, 4),
            "receptive field: each value is one position of the maps before the Flatten "
            "and sees up to 1×1 input pixels",
        ),
        (
            (Layer.make("Flatten"), Layer.make("Linear", out_features=2)),
            (1, 4, 4),
            "receptive field: the whole input",
        ),
    ],
)
def test_describe(layers, shape, line):
    arch = Architecture("rf", InputShape(*shape), layers)
    assert analyze(arch).receptive_field_at(len(layers) - 1).describe() == line


@pytest.mark.parametrize("out_hw", [(1, 1), (2, 3), (4, 3), (5, 7)])
@pytest.mark.parametrize("in_hw", [(3, 5), (7, 5), (8, 8), (13, 16)])
def test_adaptive_max_pool_windows_are_what_can_win(in_hw, out_hw):
    """A cell is in an output's window exactly when a 1 there, on zeros, makes that
    output 1: torch's forward itself says which cells each output can keep."""
    n = in_hw[0] * in_hw[1]
    one_hot = torch.eye(n).reshape(n, 1, *in_hw)
    with torch.no_grad():
        kept = nn.AdaptiveMaxPool2d(out_hw)(one_hot).reshape(*in_hw, *out_hw)
    arch = Architecture(
        "rf", InputShape(1, *in_hw), (Layer.make("AdaptiveMaxPool2d", output_size=out_hw),)
    )
    rf = analyze(arch).receptive_field_at(0)
    for row in range(out_hw[0]):
        for col in range(out_hw[1]):
            top, left, bottom, right = rf.box(row, col, in_hw)
            window = torch.zeros(in_hw, dtype=torch.bool)
            window[top:bottom, left:right] = True
            assert torch.equal(kept[..., row, col] == 1, window), (row, col)


def test_group_norm_output_depends_on_the_whole_map():
    """Its mean and variance mix every position: after a 3×3 conv, each output's
    field is the union of all the conv's fields, as torch's gradients show."""
    layers = (
        Layer.make("Conv2d", out_channels=4, kernel_size=3, stride=2),
        Layer.make("GroupNorm", num_groups=2),
    )
    arch = Architecture("rf", InputShape(1, 11, 9), layers)
    analysis = analyze(arch)
    rf = analysis.receptive_field_at(1)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, stride=2), nn.GroupNorm(2, 4))
    x = torch.randn(1, 1, 11, 9, requires_grad=True)
    model(x)[0, 0, 1, 2].backward()
    touched = x.grad[0, 0].nonzero()
    (top, left), (bottom, right) = touched.min(0).values, touched.max(0).values
    expected = (int(top), int(left), int(bottom) + 1, int(right) + 1)
    _, out_h, out_w = analysis.output_shape
    assert all(rf.box(r, c, (11, 9)) == expected for r in range(out_h) for c in range(out_w))
    assert expected == (0, 0, 11, 9)
    flat = analyze(arch.with_layers((Layer.make("Flatten"), Layer.make("GroupNorm", num_groups=1))))
    assert flat.receptive_field_at(1).is_global  # on a vector it mixes every value


@pytest.mark.parametrize(
    ("kernel", "stride", "padding", "dilation"),
    [(1, 2, 0, 1), (3, 2, 1, 1), (2, 2, 0, 1), (3, 3, 0, 2), (4, 2, 1, 1)],
)
def test_transposed_conv_field_is_what_each_stamp_reaches(kernel, stride, padding, dilation):
    """Output o reads input i through tap j when o = i·s − p + j·d; outputs between
    stamps (1×1 kernel, stride 2) read nothing but the bias."""
    layer = Layer.make(
        "ConvTranspose2d",
        out_channels=1,
        kernel_size=kernel,
        stride=stride,
        padding=padding,
        dilation=dilation,
    )
    arch = Architecture("rf", InputShape(1, 6, 5), (layer,))
    analysis = analyze(arch)
    rf = analysis.receptive_field_at(0)
    model = positive_model(arch)
    _, out_h, out_w = analysis.output_shape
    for row in range(out_h):
        for col in range(out_w):
            expected = gradient_box(model, (1, 6, 5), row, col)
            top, left, bottom, right = rf.box(row, col, (6, 5))
            if expected is None:
                assert bottom <= top or right <= left, (row, col)
            else:
                assert (top, left, bottom, right) == expected, (row, col)
