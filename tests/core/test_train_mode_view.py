"""The training-mode lab's numbers against torch: dropout masks and scale, batch-norm
statistics, formula and running-statistics update."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from cnnviz.core.train_mode_view import (
    DROPPED,
    KEPT,
    UNKNOWN,
    batch_norm_params,
    batch_norm_view,
    batch_statistics,
    dropout_mask,
    dropout_view,
)


def _seeded(shape, seed=0) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("p", [0.1, 0.25, 0.5, 0.8])
def test_dropout_mask_and_scale_are_torchs(p):
    x = _seeded((1, 6, 20, 20))
    torch.manual_seed(3)
    y = nn.Dropout(p).train()(x)
    xs, ys = x[0].numpy(), y[0].numpy()
    mask = dropout_mask(xs, ys)
    np.testing.assert_array_equal(mask == KEPT, ys != 0)
    np.testing.assert_array_equal(mask == DROPPED, ys == 0)
    view = dropout_view(xs, ys, p)
    assert not view.identity and view.unknown == 0
    assert view.kept == int((ys != 0).sum()) and view.kept + view.dropped == xs.size
    assert abs(view.kept_fraction - (1 - p)) < 0.05  # 2400 Bernoulli draws
    kept = ys != 0
    # Where kept, output/input is 1/(1−p) up to float32 rounding of the product.
    np.testing.assert_allclose(ys[kept] / xs[kept], 1 / (1 - p), rtol=1e-6)
    assert view.scale == pytest.approx(1 / (1 - p), rel=1e-6)
    assert view.scale_matches and view.expected_scale == pytest.approx(1 / (1 - p))


def test_dropout2d_drops_whole_channels_with_the_same_scale():
    x = _seeded((1, 16, 5, 5), seed=1)
    torch.manual_seed(0)
    y = nn.Dropout2d(0.5).train()(x)[0].numpy()
    mask = dropout_mask(x[0].numpy(), y)
    per_channel = mask.reshape(16, -1)
    assert all(len(set(row)) == 1 for row in per_channel)  # whole channels
    assert dropout_view(x[0].numpy(), y, 0.5).scale == pytest.approx(2.0, rel=1e-6)


def test_a_zero_input_cannot_be_told_kept_or_dropped():
    x = torch.relu(_seeded((1, 4, 8, 8), seed=2))
    torch.manual_seed(1)
    y = nn.Dropout(0.5).train()(x)[0].numpy()
    mask = dropout_mask(x[0].numpy(), y)
    np.testing.assert_array_equal(mask == UNKNOWN, x[0].numpy() == 0)
    view = dropout_view(x[0].numpy(), y, 0.5)
    assert view.unknown == int((x[0] == 0).sum()) > 0
    assert view.kept + view.dropped + view.unknown == y.size


def test_dropout_at_evaluation_is_the_identity():
    x = _seeded((1, 3, 7, 7))
    y = nn.Dropout(0.5).eval()(x)
    view = dropout_view(x[0].numpy(), y[0].numpy(), 0.5)
    assert view.identity and view.max_difference == 0.0 and view.dropped == 0


def test_dropout_with_p_one_keeps_nothing():
    x = _seeded((1, 2, 4, 4))
    y = nn.Dropout(1.0).train()(x)[0].numpy()
    view = dropout_view(x[0].numpy(), y, 1.0)
    assert view.kept == 0 and view.kept_fraction == 0 and view.scale_matches


def _trained_bn(channels=4, momentum=0.1, eps=1e-5) -> nn.BatchNorm2d:
    bn = nn.BatchNorm2d(channels, eps=eps, momentum=momentum)
    g = torch.Generator().manual_seed(7)
    with torch.no_grad():
        bn.weight.copy_(torch.rand(channels, generator=g) + 0.5)
        bn.bias.copy_(torch.randn(channels, generator=g))
        bn.running_mean.copy_(torch.randn(channels, generator=g))
        bn.running_var.copy_(torch.rand(channels, generator=g) + 0.5)
        bn.num_batches_tracked.fill_(12)
    return bn


def _state(bn: nn.BatchNorm2d, prefix: str) -> dict[str, np.ndarray]:
    return {f"{prefix}.{k}": v.detach().numpy().copy() for k, v in bn.state_dict().items()}


def test_batch_norm_in_training_uses_this_batchs_statistics_as_torch_does():
    bn = _trained_bn(momentum=0.2)
    x = _seeded((1, 4, 9, 11), seed=4) * 3 + 1
    params = batch_norm_params(_state(bn, "3.body.1"), "3.body.1", {"momentum": 0.2}, 4)
    assert params.batches_tracked == 12
    before_mean, before_var = bn.running_mean.clone(), bn.running_var.clone()
    y = bn.train()(x)
    mean, biased, _ = batch_statistics(x[0].numpy())
    # torch's batch statistics, read back from its running-statistics update
    torch_mean = (bn.running_mean - 0.8 * before_mean) / 0.2
    np.testing.assert_allclose(mean, torch_mean.numpy(), atol=1e-5)
    np.testing.assert_allclose(biased, x.var(dim=(0, 2, 3), unbiased=False).numpy(), rtol=1e-5)
    for c in range(4):
        view = batch_norm_view(x[0].numpy(), y[0].detach().numpy(), params, c)
        assert view.used == "batch" and view.count == 99
        assert view.max_error < 1e-5  # the formula with these numbers is the output
        assert view.var == pytest.approx(float(biased[c]))
        assert view.next_running_mean == pytest.approx(float(bn.running_mean[c]), abs=1e-6)
        assert view.next_running_var == pytest.approx(float(bn.running_var[c]), rel=1e-5)
        assert view.running_var == pytest.approx(float(before_var[c]))


def test_batch_norm_at_evaluation_uses_the_running_statistics():
    bn = _trained_bn().eval()
    x = _seeded((1, 4, 6, 6), seed=5)
    y = bn(x)[0].detach().numpy()
    params = batch_norm_params(_state(bn, "1"), "1", {}, 4)
    reference = torch.nn.functional.batch_norm(
        x, bn.running_mean, bn.running_var, bn.weight, bn.bias, training=False, eps=bn.eps
    )
    np.testing.assert_allclose(y, reference[0].detach().numpy())
    for c in range(4):
        view = batch_norm_view(x[0].numpy(), y, params, c)
        assert view.used == "running" and view.max_error < 1e-5
        assert view.mean == pytest.approx(float(bn.running_mean[c]))
        assert view.gamma == pytest.approx(float(bn.weight[c].detach()))
        assert view.beta == pytest.approx(float(bn.bias[c].detach()))


def test_a_fresh_batch_norm_needs_no_state_and_affine_off_has_no_gamma():
    fresh = batch_norm_params(None, "1", {}, 3)
    bn = nn.BatchNorm2d(3)
    np.testing.assert_array_equal(fresh.gamma, bn.weight.detach().numpy())
    np.testing.assert_array_equal(fresh.running_var, bn.running_var.numpy())
    bare = nn.BatchNorm2d(3, affine=False, track_running_stats=False)
    x = _seeded((1, 3, 5, 5))
    params = batch_norm_params(_state(bare, "0"), "0", {"affine": False,
                               "track_running_stats": False}, 3)  # fmt: skip
    view = batch_norm_view(x[0].numpy(), bare.eval()(x)[0].numpy(), params, 2)
    assert view.used == "batch" and view.running_mean is None and view.gamma == 1.0
    assert view.max_error < 1e-5


def test_shapes_that_do_not_fit_are_refused_in_one_line():
    with pytest.raises(ValueError, match="differ in shape"):
        dropout_view(np.zeros((2, 3)), np.zeros((3, 2)), 0.5)
    with pytest.raises(ValueError, match="C×H×W"):
        batch_norm_view(np.zeros(4), np.zeros(4), batch_norm_params(None, "0", {}, 4), 0)
