"""core.translation: the zero-filled shift against torch, and the comparison's rules."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cnnviz.core.analysis import analyze
from cnnviz.core.architecture import from_json
from cnnviz.core.translation import (
    NOT_WHOLE,
    ONE_CELL,
    PredictionShift,
    axis_shift,
    compare_forwards,
    relative_error,
    shift_image,
)


def torch_shift(image: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """An independent shift: torch.roll, then zero what wrapped round."""
    t = torch.roll(torch.from_numpy(image), shifts=(dy, dx), dims=(-2, -1)).clone()
    if dy > 0:
        t[..., :dy, :] = 0
    elif dy < 0:
        t[..., dy:, :] = 0
    if dx > 0:
        t[..., :, :dx] = 0
    elif dx < 0:
        t[..., :, dx:] = 0
    return t.numpy()


@pytest.mark.parametrize("dy, dx", [(0, 0), (0, 3), (2, 0), (-4, 1), (5, -7), (-1, -1), (6, 8)])
def test_shift_matches_torch_roll_with_zeros(dy, dx):
    image = np.random.default_rng(abs(dy * 31 + dx)).normal(size=(3, 7, 9)).astype(np.float32)
    np.testing.assert_array_equal(shift_image(image, dy, dx), torch_shift(image, dy, dx))


def test_a_shift_past_the_frame_leaves_zeros_and_a_2d_image_works():
    image = np.ones((4, 5), np.float32)
    assert not shift_image(image, 0, 5).any() and not shift_image(image, -4, 0).any()
    moved = shift_image(image, 1, 0)
    assert moved.shape == (4, 5) and moved[0].sum() == 0 and moved[1:].all()


def test_axis_shift_names_the_axis():
    assert axis_shift(3, "x") == (0, 3) and axis_shift(-2, "y") == (-2, 0)
    with pytest.raises(ValueError, match="axis must be x or y"):
        axis_shift(1, "z")


def test_relative_error_is_normed_and_absolute_for_a_zero_reference():
    a, b = np.array([3.0, 4.0]), np.array([0.0, 8.0])
    assert relative_error(a, b) == pytest.approx(5.0 / 8.0)
    assert relative_error(np.zeros(2), np.zeros(2)) == 0.0
    assert relative_error(np.array([0.0, 2.0]), np.zeros(2)) == 2.0


def test_prediction_shift_reports_both_top_classes_and_the_change():
    p = PredictionShift.of(np.array([0.1, 0.7, 0.2]), np.array([0.5, 0.4, 0.1]))
    assert (p.before, p.after) == (1, 0)
    assert p.before_probability == pytest.approx(0.7) and p.after_probability == pytest.approx(0.5)
    assert p.change == pytest.approx(-0.3)


def _pool_net():
    return from_json({
        "format": "cnnviz-architecture", "version": 1, "name": "pool",
        "input": {"channels": 1, "height": 12, "width": 12},
        "layers": [{"type": "MaxPool2d", "kernel_size": 2}, {"type": "Flatten"}],
    })  # fmt: skip


def test_a_shift_that_is_not_whole_cells_has_no_equivariance_but_an_invariance():
    arch = _pool_net()
    image = np.random.default_rng(0).normal(size=(1, 12, 12)).astype(np.float32)
    shifted = shift_image(image, 0, 3)
    pool = torch.nn.functional.max_pool2d
    outs = [pool(torch.from_numpy(x)[None], 2)[0].numpy() for x in (image, shifted)]
    flat = [o.reshape(-1) for o in outs]
    report = compare_forwards(analyze(arch), image, [outs[0], flat[0]], [outs[1], flat[1]], (0, 3))
    inp, pooled, flatten = report.layers
    assert inp.address == "input" and inp.equivariance == pytest.approx(0.0)
    assert pooled.pooling and pooled.downsamples and pooled.stride == (2, 2)
    assert pooled.cells == (0.0, 1.5) and pooled.equivariance is None and pooled.note == NOT_WHOLE
    expected = torch.linalg.norm(torch.from_numpy(outs[1] - outs[0])) / torch.linalg.norm(
        torch.from_numpy(outs[0])
    )
    assert pooled.invariance == pytest.approx(float(expected), rel=1e-5)
    assert flatten.stride is None and flatten.equivariance is None
    assert report.prediction is None


def test_a_single_cell_map_has_no_grid_to_move_on():
    arch = from_json({
        "format": "cnnviz-architecture", "version": 1, "name": "gap",
        "input": {"channels": 2, "height": 8, "width": 8},
        "layers": [{"type": "AdaptiveAvgPool2d", "output_size": 1}],
    })  # fmt: skip
    image = np.random.default_rng(1).normal(size=(2, 8, 8)).astype(np.float32)
    shifted = shift_image(image, 2, 0)
    means = [x.mean(axis=(1, 2), keepdims=True) for x in (image, shifted)]
    row = compare_forwards(analyze(arch), image, [means[0]], [means[1]], (2, 0)).layers[1]
    assert row.pooling and row.stride is None and row.note == ONE_CELL
    expected = np.linalg.norm(means[1] - means[0]) / np.linalg.norm(means[0])
    assert row.invariance == pytest.approx(expected, rel=1e-5)
