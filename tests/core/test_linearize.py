"""The edits behind "why non-linearity": every activation out (at every depth),
max pooling made average pooling, and the one-line reasons a network is not
one linear map."""

from __future__ import annotations

import pytest

from cnnviz.core import linearize
from cnnviz.core.analysis import analyze
from cnnviz.core.architecture import Architecture, ArchitectureError, InputShape, Layer

ACTS = ("ReLU", "Tanh", "Sigmoid", "GELU", "Softmax")


def conv(n: int) -> Layer:
    return Layer.make("Conv2d", out_channels=n, kernel_size=1)


def act(i: int) -> Layer:
    return Layer.make(ACTS[i % len(ACTS)])


def net(*layers, size=8) -> Architecture:
    return Architecture("t", InputShape(2, size, size), tuple(layers))


# Activations at the top, in a body, a shortcut, a branch, and a block in a block.
TREE = net(
    conv(1), act(0),
    Layer.block("Residual", [[conv(2), act(1), conv(3)], [act(2)]]),
    Layer.block("Parallel", [
        [act(3), conv(4)],
        [Layer.block("Residual", [[act(4), conv(5), act(0)], []])],
    ], merge="add"),
    act(1), Layer.make("Flatten"),
)  # fmt: skip


def shape_of(layers) -> list:
    """Leaves as their type (out_channels for convs), blocks as (type, [paths])."""
    out = []
    for layer in layers:
        if layer.is_block:
            out.append((layer.type, [shape_of(p) for p in layer.paths]))
        else:
            out.append(layer.params.get("out_channels", layer.type))
    return out


def test_every_activation_goes_at_every_depth_and_nothing_else():
    edit = linearize.remove_activations(TREE)
    assert shape_of(edit.architecture.layers) == [
        1,
        ("Residual", [[2, 3], []]),
        ("Parallel", [[4], [("Residual", [[5], []])]]),
        "Flatten",
    ]
    gone = {"1", "2.body.1", "2.shortcut.0", "3.branches.0.0", "3.branches.1.0.body.0",
            "3.branches.1.0.body.2", "4"}  # fmt: skip
    assert set(linearize.activation_addresses(TREE)) == gone
    kept = {a for a, _ in TREE.walk()} - gone
    assert set(edit.address_map) == kept  # every other layer survives, and is mapped
    assert edit.address_map["3.branches.1.0.body.1"] == "2.branches.1.0.body.0"
    assert linearize.non_linear(edit.architecture) == []


def test_no_activation_left_is_said_in_one_line():
    with pytest.raises(ArchitectureError, match="no activation left to remove"):
        linearize.remove_activations(net(conv(1)))


def test_max_pools_become_average_pools_of_the_same_windows():
    arch = net(
        conv(3),
        Layer.make("MaxPool2d", kernel_size=3, stride=2, padding=1, ceil_mode=True),
        Layer.block("Residual", [[Layer.make("AdaptiveMaxPool2d", output_size=2)],
                                 [Layer.make("AdaptiveAvgPool2d", output_size=2)]]),
        size=9,
    )  # fmt: skip
    edit = linearize.replace_max_pools(arch)
    new = edit.architecture
    assert new.layers[1] == Layer.make(
        "AvgPool2d", kernel_size=3, stride=2, padding=1, ceil_mode=True
    )
    assert new.layers[2].paths[0][0] == Layer.make("AdaptiveAvgPool2d", output_size=2)
    assert edit.selected == ("1", "2.body.0")
    before, after = analyze(arch), analyze(new)
    assert [i.output_shape for i in after.layers] == [i.output_shape for i in before.layers]
    assert linearize.max_pool_addresses(new) == []


def test_a_dilated_max_pool_has_no_average_twin():
    arch = net(Layer.make("MaxPool2d", kernel_size=2, dilation=2))
    with pytest.raises(ArchitectureError, match="MaxPool2d at layer 0 is dilated"):
        linearize.replace_max_pools(arch)
    with pytest.raises(ArchitectureError, match="no max pooling to replace"):
        linearize.replace_max_pools(net(conv(1)))


def test_the_first_non_linear_layer_is_named_with_what_to_do():
    arch = net(conv(2), Layer.make("MaxPool2d", kernel_size=2), Layer.make("ReLU"))
    lines = [n.line for n in linearize.non_linear(arch)]
    assert lines == [
        "MaxPool2d at layer 1 is not linear (it keeps the largest of each window): "
        "replace it by AvgPool2d to see the collapse",
        "ReLU at layer 2 is not linear (it bends its input): "
        "remove every activation to see the collapse",
    ]
    with pytest.raises(ArchitectureError, match=r"^MaxPool2d at layer 1 .*\(and 1 more\)$"):
        linearize.check_collapsible(arch)
    group = net(Layer.make("GroupNorm", num_groups=1))
    with pytest.raises(ArchitectureError, match="GroupNorm at layer 0 is not linear"):
        linearize.check_collapsible(group)


def test_w_too_big_is_refused_with_its_size():
    assert linearize.check_collapsible(net(conv(3), Layer.make("Flatten"))) == (192, 128)
    big = Architecture("big", InputShape(3, 224, 224), (Layer.make("Flatten"),))
    with pytest.raises(ArchitectureError, match=r"W would be 150528×150528 \(22659 M numbers"):
        linearize.check_collapsible(big)


def test_batch_norm_with_batch_statistics_is_not_linear_even_at_evaluation():
    tracked = net(conv(2), Layer.make("BatchNorm2d"), Layer.make("Flatten"))
    assert linearize.non_linear(tracked) == []
    batch = net(conv(2), Layer.make("BatchNorm2d", track_running_stats=False))
    (found,) = linearize.non_linear(batch)
    assert found.line.startswith("BatchNorm2d at layer 1 is not linear (with track_running_stats")


def test_w_over_a_hundred_million_numbers_is_refused():
    wide = Architecture(
        "wide",
        InputShape(2, 200, 200),
        (Layer.make("Flatten"), Layer.make("Linear", out_features=4000)),
    )
    with pytest.raises(ArchitectureError, match=r"W would be 4000×80000 \(320 M numbers\)"):
        linearize.check_collapsible(wide)
