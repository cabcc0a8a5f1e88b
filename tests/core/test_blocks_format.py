"""Architecture file version 2: blocks in the file, and what the analysis makes
of them (shapes, parameters, MACs and fields checked against torch)."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from cnnviz.core.analysis import analyze
from cnnviz.core.architecture import ArchitectureError, Layer, loads

HEADER = {"format": "cnnviz-architecture", "input": {"channels": 3, "height": 8, "width": 8}}


def arch_of(layers, version=2):
    return loads(json.dumps({**HEADER, "version": version, "layers": layers}))


CONV = {"type": "Conv2d", "out_channels": 4, "kernel_size": 3, "padding": 1}
RESIDUAL = {"type": "Residual", "body": [CONV, {"type": "ReLU"}, CONV], "shortcut": []}
PARALLEL = {
    "type": "Parallel",
    "merge": "concat",
    "branches": [[{"type": "Conv2d", "out_channels": 2, "kernel_size": 1}], [CONV], []],
}


def test_a_file_with_blocks_round_trips_as_version_2():
    arch = arch_of([CONV, RESIDUAL, PARALLEL])
    data = json.loads(arch.dumps())
    assert data["version"] == 2
    assert data["layers"][1]["body"][0] == CONV
    assert data["layers"][1]["shortcut"] == []
    assert len(data["layers"][2]["branches"]) == 3
    assert loads(arch.dumps()) == arch


def test_a_file_without_blocks_is_still_written_as_version_1():
    arch = arch_of([CONV, {"type": "ReLU"}], version=1)
    assert json.loads(arch.dumps())["version"] == 1


def test_blocks_in_a_version_1_file_are_refused():
    with pytest.raises(ArchitectureError, match="version"):
        arch_of([RESIDUAL], version=1)


def test_a_newer_version_is_refused_with_a_clear_message():
    with pytest.raises(ArchitectureError, match="newer cnnviz"):
        arch_of([CONV], version=3)


@pytest.mark.parametrize(
    "bad, message",
    [
        ({"type": "Residual"}, 'missing "body"'),
        ({"type": "Residual", "body": {}}, "layer 0.body: must be a list"),
        ({"type": "Parallel", "branches": []}, "one or more"),
        ({"type": "Parallel", "branches": [[{"type": "Nope"}]]}, "layer 0.branches.0.0"),
        ({"type": "Parallel", "merge": "mul", "branches": [[]]}, "merge"),
        ({"type": "Residual", "body": [{"type": "Conv2d"}]}, "layer 0.body.0"),
    ],
)
def test_bad_blocks_are_refused_naming_the_path(bad, message):
    with pytest.raises(ArchitectureError, match=message):
        arch_of([bad])


def test_nesting_is_bounded():
    layer = {"type": "ReLU"}
    for _ in range(20):
        layer = {"type": "Residual", "body": [layer]}
    with pytest.raises(ArchitectureError, match="nest at most"):
        arch_of([layer])


def test_addresses_are_torch_module_names():
    arch = arch_of([CONV, RESIDUAL, PARALLEL])
    addresses = [info.address for info in analyze(arch).layers]
    assert addresses == [
        "0",
        "1",
        "1.body.0",
        "1.body.1",
        "1.body.2",
        "2",
        "2.branches.0.0",
        "2.branches.1.0",
    ]
    assert [address for address, _ in arch.walk()] == addresses


class _Residual(nn.Module):
    def __init__(self, body, shortcut):
        super().__init__()
        self.body, self.shortcut = nn.Sequential(*body), nn.Sequential(*shortcut)

    def forward(self, x):
        return self.body(x) + self.shortcut(x)


class _Concat(nn.Module):
    def __init__(self, *branches):
        super().__init__()
        self.branches = nn.ModuleList(nn.Sequential(*b) for b in branches)

    def forward(self, x):
        return torch.cat([b(x) for b in self.branches], dim=1)


def test_shapes_and_parameters_agree_with_an_independent_torch_model():
    arch = arch_of([CONV, RESIDUAL, PARALLEL])
    reference = nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1),
        _Residual([nn.Conv2d(4, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 4, 3, padding=1)], []),
        _Concat([nn.Conv2d(4, 2, 1)], [nn.Conv2d(4, 4, 3, padding=1)], []),
    )
    analysis = analyze(arch)
    modules = dict(reference.named_modules())
    x = torch.zeros(1, 3, 8, 8)
    outputs = {}
    for name, module in modules.items():
        if name:
            module.register_forward_hook(lambda m, i, o, name=name: outputs.__setitem__(name, o))
    reference(x)
    for info in analysis.layers:
        assert info.output_shape == tuple(outputs[info.address].shape[1:]), info.address
        own = sum(p.numel() for p in modules[info.address].parameters(recurse=False))
        if not info.layer.is_block:
            assert info.params == own, info.address
    assert analysis.total_params == sum(p.numel() for p in reference.parameters())
    assert analysis.output_shape == (10, 8, 8)
    residual = analysis.at("1")
    assert residual.macs == 4 * 8 * 8  # one add per output value
    assert analysis.at("2").macs == 0  # a concat adds nothing up
    assert analysis.params_within(1) == sum(p.numel() for p in reference[1].parameters())


def test_receptive_field_of_a_merge_is_the_union_of_its_paths():
    conv3 = {**CONV, "out_channels": 3}
    arch = arch_of([{"type": "Residual", "body": [conv3, {"type": "ReLU"}, conv3]}])
    field = analyze(arch).at("0").receptive_field
    # the body's two 3×3 convs see 5×5; the identity shortcut sees 1×1 inside it
    assert field.size == (5, 5)
    assert field.box(3, 3, (8, 8)) == (1, 1, 6, 6)
    # and autograd agrees: output (3, 3) depends on input rows/cols 1..5
    x = torch.randn(1, 3, 8, 8, requires_grad=True)
    conv1, conv2 = nn.Conv2d(3, 4, 3, padding=1), nn.Conv2d(4, 3, 3, padding=1)
    y = conv2(torch.relu(conv1(x))) + x
    y[0, :, 3, 3].sum().backward()
    rows, cols = torch.nonzero(x.grad[0].abs().sum(0), as_tuple=True)
    assert (rows.min().item(), cols.min().item(), rows.max().item() + 1, cols.max().item() + 1) == (
        1,
        1,
        6,
        6,
    )


def test_a_mismatched_add_names_the_paths_and_what_would_fix_it():
    down = {"type": "Conv2d", "out_channels": 16, "kernel_size": 3, "padding": 1, "stride": 2}
    analysis = analyze(arch_of([CONV, {"type": "Residual", "body": [down]}, {"type": "ReLU"}]))
    block = analysis.at("1")
    assert block.error == (
        "layer 1 Residual: body gives 16×4×4, shortcut gives 4×8×8; an add needs equal "
        "shapes (a 1×1 Conv2d with 16 out channels and stride 2 in the shortcut would match)"
    )
    assert analysis.at("1.body.0").computable  # the body itself is fine
    assert not analysis.at("2").computable
    assert analysis.first_error is block


def test_a_concat_needs_equal_heights_and_widths():
    pool = {"type": "MaxPool2d", "kernel_size": 2}
    analysis = analyze(arch_of([{"type": "Parallel", "branches": [[pool], []]}]))
    assert "same height and width" in analysis.at("0").error


def test_an_invalid_layer_inside_a_block_stops_the_block_and_what_follows():
    bad = {"type": "Conv2d", "out_channels": 4, "kernel_size": 30}
    analysis = analyze(arch_of([{"type": "Residual", "body": [bad, CONV]}, CONV]))
    assert analysis.first_error.address == "0.body.0"
    assert [info.computable for info in analysis.layers] == [False, False, False, False]
    assert "layer 0.body.0" in analysis.not_computed_reason(3)


def test_with_params_keeps_a_blocks_paths():
    block = Layer.block("Parallel", [[Layer.make("ReLU")], []])
    changed = block.with_params(merge="add")
    assert changed.paths == block.paths and changed.get("merge") == "add"
