"""The formula lines the properties panel shows agree with torch, numbers and all.

Each line is evaluated as arithmetic (the filled-in numbers must give the
stated result) and the result is compared with the shape torch produces.
"""

from __future__ import annotations

import itertools
import re

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from cnnviz.core.architecture import Layer
from cnnviz.core.formula import output_size_lines, parameter_line
from cnnviz.core.shapes import ShapeError, layer_cost


def evaluate(expression: str) -> int:
    """Arithmetic as printed (⌊x / s⌋, ⌈x / s⌉, ·, −) evaluated with Python ints."""
    text = expression.replace("·", "*").replace("−", "-").replace(",", "")
    text = re.sub(r"⌊(.*?) / (\d+)⌋", r"((\1) // \2)", text)
    text = re.sub(r"⌈(.*?) / (\d+)⌉", r"(-(-(\1) // \2))", text)
    assert re.fullmatch(r"[\d\s+\-*/()]+", text), text
    return eval(text)


def check_line(line: str, expected: int) -> None:
    """`NAME = expression = result[ − 1 = result (last window dropped)]`."""
    body = line.split(" = ", 1)[1]
    parts = body.split(" = ")
    assert evaluate(parts[0]) == int(parts[1].split(" ")[0])
    final = int(parts[-1].split(" ")[0])
    if "last window dropped" in line:
        assert final == int(parts[1].split(" ")[0]) - 1
    assert final == expected, line


def torch_output(module: nn.Module, shape) -> tuple[int, ...]:
    with torch.no_grad():
        return tuple(module(torch.zeros(1, *shape)).shape[1:])


sizes = st.integers(1, 20)


@settings(max_examples=60, deadline=None)
@given(
    h=sizes, w=sizes, k=st.tuples(st.integers(1, 5), st.integers(1, 5)),
    s=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    p=st.tuples(st.integers(0, 3), st.integers(0, 3)),
    d=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    same=st.booleans(), groups=st.sampled_from([1, 2]),
)  # fmt: skip
def test_conv_formula_matches_torch(h, w, k, s, p, d, same, groups):
    padding = "same" if same else p
    stride = (1, 1) if same else s
    layer = Layer.make(
        "Conv2d", out_channels=4, kernel_size=k, stride=stride, padding=padding,
        dilation=d, groups=groups,
    )  # fmt: skip
    shape = (2, h, w)
    try:
        layer_cost(layer, shape)
    except ShapeError:
        return  # torch refuses it too (proven in test_against_torch); nothing to show
    module = nn.Conv2d(2, 4, k, stride, padding, d, groups)
    _, out_h, out_w = torch_output(module, shape)
    h_line, w_line = output_size_lines(layer, shape)
    assert h_line.startswith("H_out") and w_line.startswith("W_out")
    check_line(h_line, out_h)
    check_line(w_line, out_w)
    count = sum(p.numel() for p in module.parameters())
    params = parameter_line(layer, shape)
    expression, result = params.split(" = ")[1:]
    assert evaluate(expression) == count == int(result.replace(",", ""))


@settings(max_examples=60, deadline=None)
@given(
    h=sizes, w=sizes, k=st.tuples(st.integers(1, 4), st.integers(1, 4)),
    s=st.one_of(st.none(), st.tuples(st.integers(1, 4), st.integers(1, 4))),
    p=st.tuples(st.integers(0, 2), st.integers(0, 2)), d=st.integers(1, 2),
    ceil=st.booleans(), kind=st.sampled_from(["MaxPool2d", "AvgPool2d"]),
)  # fmt: skip
def test_pool_formula_matches_torch(h, w, k, s, p, d, ceil, kind):
    params = {"kernel_size": k, "stride": s, "padding": p, "ceil_mode": ceil}
    if kind == "MaxPool2d":
        params["dilation"] = d
    layer = Layer.make(kind, **params)
    shape = (1, h, w)
    try:
        layer_cost(layer, shape)
    except ShapeError:
        return
    module = getattr(nn, kind)(**{**params, "stride": s if s is not None else k})
    _, out_h, out_w = torch_output(module, shape)
    lines = output_size_lines(layer, shape)
    check_line(lines[0], out_h)
    check_line(lines[1], out_w)
    assert ("stride empty" in lines[-1]) == (s is None)


def test_ceil_mode_rule_is_spelled_out():
    # 5 wide, kernel 2, stride 4, padding 1: ceil gives 3 windows, the last
    # would start in the padding, so torch keeps 2.
    layer = Layer.make("MaxPool2d", kernel_size=2, stride=4, padding=1, ceil_mode=True)
    line = output_size_lines(layer, (1, 5, 5))[0]
    assert line == "H_out = ⌈(5 + 2·1 − 1·(2−1) − 1) / 4⌉ + 1 = 3 − 1 = 2 (last window dropped)"
    assert torch_output(nn.MaxPool2d(2, 4, 1, ceil_mode=True), (1, 5, 5))[1] == 2


def test_the_classic_example_reads_as_in_the_books():
    layer = Layer.make("Conv2d", out_channels=8, kernel_size=3, stride=2, padding=1)
    assert output_size_lines(layer, (3, 32, 32))[0] == (
        "H_out = ⌊(32 + 2·1 − 1·(3−1) − 1) / 2⌋ + 1 = 16"
    )
    assert parameter_line(layer, (3, 32, 32)) == "params = 8·(3·3·3) + 8 = 224"


@pytest.mark.parametrize(
    ("layer", "shape", "line", "count"),
    [
        (Layer.make("Flatten"), (64, 7, 7), "N = 64·7·7 = 3136", 0),
        (
            Layer.make("Linear", out_features=10),
            (3136,),
            "out = out_features = 10 (from 3136 inputs)",
            31370,
        ),
        (Layer.make("ReLU"), (8, 4, 4), "output shape = input shape: 8×4×4", 0),
        (Layer.make("BatchNorm2d"), (8, 4, 4), "output shape = input shape: 8×4×4", 16),
        (
            Layer.make("AdaptiveAvgPool2d", output_size=(2, 3)),
            (4, 7, 7),
            "H_out = 2 (fixed); windows of 4 cells, overlapping",
            0,
        ),
    ],
)
def test_other_layers(layer, shape, line, count):
    assert output_size_lines(layer, shape)[0] == line
    text = parameter_line(layer, shape)
    assert text.startswith("params = ")
    assert int(re.findall(r"= ([\d,]+)", text)[-1].replace(",", "")) == count


def torch_adaptive_windows(size: int, out: int) -> list[set[int]]:
    """Per output cell of AdaptiveAvgPool2d along the width: the input columns
    whose gradient is non-zero, i.e. the window torch really averages."""
    windows = []
    for i in range(out):
        x = torch.ones(1, 1, 1, size, requires_grad=True)
        nn.AdaptiveAvgPool2d((1, out))(x)[0, 0, 0, i].backward()
        windows.append(set(x.grad[0, 0, 0].nonzero().flatten().tolist()))
    return windows


@pytest.mark.parametrize("out", range(1, 9))
@pytest.mark.parametrize("size", range(1, 15))
def test_adaptive_window_text_matches_torch(size, out):
    windows = torch_adaptive_windows(size, out)
    widths = [len(w) for w in windows]
    low, high = min(widths), max(widths)
    line = output_size_lines(Layer.make("AdaptiveAvgPool2d", output_size=(1, out)), (2, 1, size))[1]
    match = re.fullmatch(
        rf"W_out = {out} \(fixed\); (?:one window|windows) of (\d+)(?:–(\d+))? cells?(, \w[\w ]*)?",
        line,
    )
    assert match, line
    assert (int(match[1]), int(match[2] or match[1])) == (low, high), line
    overlap = any(a & b for a, b in itertools.pairwise(windows))
    if out > 1:
        assert match[3] == (", overlapping" if overlap else ", side by side"), line


def test_adaptive_pool_windows_5_to_3():
    # torch's windows for 5 → 3 are [0, 2), [1, 4), [3, 5): 2–3 cells, sharing cells 1 and 3.
    layer = Layer.make("AdaptiveAvgPool2d", output_size=(2, 3))
    assert torch_output(nn.AdaptiveAvgPool2d((2, 3)), (4, 7, 5)) == (4, 2, 3)
    assert output_size_lines(layer, (4, 7, 5)) == [
        "H_out = 2 (fixed); windows of 4 cells, overlapping",
        "W_out = 3 (fixed); windows of 2–3 cells, overlapping",
    ]


def test_unknown_input_gives_nothing():
    layer = Layer.make("Conv2d", out_channels=1, kernel_size=3)
    assert output_size_lines(layer, None) == []
    assert parameter_line(layer, None) == ""


def _final_number(text: str) -> int:
    return int(re.findall(r"= (-?[\d,]+)", text)[-1].replace(",", ""))


@settings(max_examples=150, deadline=None)
@given(
    st.integers(1, 12),
    st.integers(1, 12),
    st.integers(1, 4),
    st.integers(1, 3),
    st.integers(0, 2),
    st.integers(0, 2),
    st.integers(1, 3),
    st.sampled_from([1, 2]),
)
def test_transposed_conv_formula_matches_torch(h, w, k, s, p, op, d, groups):
    layer = Layer.make(
        "ConvTranspose2d",
        out_channels=4,
        kernel_size=k,
        stride=s,
        padding=p,
        output_padding=op,
        dilation=d,
        groups=groups,
    )
    try:
        layer_cost(layer, (2, h, w))
    except ShapeError:
        return  # the refusals are checked against torch in test_against_torch
    module = nn.ConvTranspose2d(2, 4, k, s, p, op, groups, True, d)
    out = torch_output(module, (2, h, w))
    lines = output_size_lines(layer, (2, h, w))
    check_line(lines[0], out[1])
    check_line(lines[1], out[2])
    count = sum(t.numel() for t in module.parameters())
    assert _final_number(parameter_line(layer, (2, h, w))) == count


@pytest.mark.parametrize(
    ("layer", "shape", "lines"),
    [
        (
            Layer.make("ZeroPad2d", padding=(1, 2, 0, -1)),
            (3, 5, 6),
            [
                "H_out = 0 + 5 + -1 = 4 (top + H + bottom)",
                "W_out = 1 + 6 + 2 = 9 (left + W + right)",
            ],
        ),
        (
            Layer.make("Upsample", scale_factor=1.5),
            (3, 5, 6),
            ["H_out = ⌊5·1.5⌋ = 7", "W_out = ⌊6·1.5⌋ = 9"],
        ),
        (
            Layer.make("Upsample", size=(4, 10), mode="bilinear"),
            (3, 5, 6),
            ["H_out = size = 4 (from 5)", "W_out = size = 10 (from 6)"],
        ),
        (
            Layer.make("AdaptiveMaxPool2d", output_size=(2, 3)),
            (4, 7, 5),
            [
                "H_out = 2 (fixed); windows of 4 cells, overlapping",
                "W_out = 3 (fixed); windows of 2–3 cells, overlapping",
            ],
        ),
    ],
)
def test_resizing_layers_lines_match_torch(layer, shape, lines):
    assert output_size_lines(layer, shape) == lines
    module = getattr(nn, layer.type)(**layer.all_params())
    assert torch_output(module, shape)[1:] == tuple(_final_number(line) for line in lines)


@pytest.mark.parametrize(("affine", "count"), [(True, 16), (False, 0)])
def test_group_norm_parameter_line(affine, count):
    layer = Layer.make("GroupNorm", num_groups=4, affine=affine)
    assert _final_number(parameter_line(layer, (8, 5, 5))) == count
    module = nn.GroupNorm(4, 8, affine=affine)
    assert sum(t.numel() for t in module.parameters()) == count
