"""Receptive fields of layers whose rule depends on their parameters, against
torch's gradients: a Softmax mixes what its dim runs along (channels at one
position, a row, a column, or nothing along a batch of one), and a BatchNorm2d
without running statistics mixes its whole map even in eval mode."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from cnnviz.core.analysis import analyze
from cnnviz.core.architecture import from_json


def architecture(input_chw, layers) -> dict:
    c, h, w = input_chw
    return {
        "format": "cnnviz-architecture",
        "version": 1,
        "input": {"channels": c, "height": h, "width": w},
        "layers": layers,
    }


def gradient_box(model, input_chw, row, col):
    """The input pixels whose gradient of output channel 0 at (row, col) is
    non-zero, as (top, left, bottom, right); None where none is. A random
    input: on constant maps a normalisation's gradient can vanish by symmetry."""
    torch.manual_seed(1)
    x = torch.randn(1, *input_chw, requires_grad=True)
    model(x)[0, 0, row, col].backward()
    touched = x.grad[0].abs().sum(0).nonzero()
    if len(touched) == 0:
        return None
    (top, left), (bottom, right) = touched.min(0).values, touched.max(0).values
    return (int(top), int(left), int(bottom) + 1, int(right) + 1)


def core_and_torch_boxes(graph, model, input_chw):
    """For every output position: the core's box and the gradient's."""
    analysis = analyze(from_json(graph))
    assert analysis.valid, analysis.first_error.error
    field = analysis.receptive_field_at(len(analysis.layers) - 1)
    _, out_h, out_w = analysis.output_shape
    model.eval()
    return [
        (field.box(r, c, input_chw[1:]), gradient_box(model, input_chw, r, c), (r, c))
        for r in range(out_h)
        for c in range(out_w)
    ]


def test_batch_norm_without_running_statistics_sees_its_whole_map():
    """The minimal case: 1×1×2, output (0, 0) depends on both pixels."""
    graph = architecture((1, 1, 2), [{"type": "BatchNorm2d", "track_running_stats": False}])
    model = nn.Sequential(nn.BatchNorm2d(1, track_running_stats=False))
    for core, seen, where in core_and_torch_boxes(graph, model, (1, 1, 2)):
        assert seen == (0, 0, 1, 2), where
        assert core == seen, where


@pytest.mark.parametrize("track", [True, False])
def test_batch_norm_field_after_a_conv_follows_its_statistics(track):
    """With running statistics each value is normalised on its own (the conv's
    3×3 field); without them every output reads the union of the conv's fields."""
    conv = {"type": "Conv2d", "out_channels": 2, "kernel_size": 3, "stride": 2}
    graph = architecture((1, 9, 8), [conv, {"type": "BatchNorm2d", "track_running_stats": track}])
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(1, 2, 3, stride=2), nn.BatchNorm2d(2, track_running_stats=track)
    )
    boxes = core_and_torch_boxes(graph, model, (1, 9, 8))
    for core, seen, where in boxes:
        assert core == seen, where
    sizes = {(seen[2] - seen[0], seen[3] - seen[1]) for _, seen, _ in boxes}
    assert sizes == ({(3, 3)} if track else {(9, 7)})  # 7: stride 2 never reaches column 8


@pytest.mark.parametrize("dim", [1, 2, 3, -1, -2, -3])
def test_softmax_on_maps_mixes_what_its_dim_runs_along(dim):
    """After a 3×3 conv: dim 1 (-3) mixes channels at one position, so the
    conv's field stays; dim 3 (-1) mixes the row, dim 2 (-2) the column."""
    conv = {"type": "Conv2d", "out_channels": 2, "kernel_size": 3}
    graph = architecture((1, 7, 8), [conv, {"type": "Softmax", "dim": dim}])
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Softmax(dim=dim))
    for core, seen, (r, c) in core_and_torch_boxes(graph, model, (1, 7, 8)):
        assert core == seen, (r, c)
        expected = {1: (r, c, r + 3, c + 3), 2: (0, c, 7, c + 3), 3: (r, 0, r + 3, 8)}
        assert seen == expected[dim % 4], (r, c)


def test_softmax_along_width_minimal_case():
    graph = architecture((1, 1, 2), [{"type": "Softmax", "dim": -1}])
    for core, seen, where in core_and_torch_boxes(graph, nn.Softmax(dim=-1), (1, 1, 2)):
        assert core == seen == (0, 0, 1, 2), where


def test_softmax_along_the_batch_of_one_image_reads_only_itself():
    """Along dim 0 every value is alone (its output is 1, its gradient 0): the
    field stays the conv's, and on a vector each value keeps its own."""
    conv = {"type": "Conv2d", "out_channels": 2, "kernel_size": 3}
    graph = architecture((1, 6, 6), [conv, {"type": "Softmax", "dim": 0}])
    analysis = analyze(from_json(graph))
    assert analysis.receptive_field_at(1) == analysis.receptive_field_at(0)
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Softmax(dim=0))
    assert gradient_box(model, (1, 6, 6), 1, 1) is None
    flat = [{"type": "Flatten"}, {"type": "Softmax", "dim": 0}]
    field = analyze(from_json(architecture((1, 4, 4), flat))).receptive_field_at(1)
    assert field.flattened and not field.is_global
    flat[1]["dim"] = 1
    assert analyze(from_json(architecture((1, 4, 4), flat))).receptive_field_at(1).is_global
