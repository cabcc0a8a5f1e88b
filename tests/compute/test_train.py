"""The training loop on a tiny network: it learns, repeats itself, stops when asked."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
import torch
from torch import nn

from cnnviz.compute import train as train_module
from cnnviz.compute.augment import augment_photos, augment_strokes
from cnnviz.compute.model import build_model
from cnnviz.compute.train import PROGRESS_INTERVAL_S, TrainingError, train
from cnnviz.compute.train_setup import initialise, learning_rate_at
from cnnviz.compute.weights import WeightsError
from cnnviz.core.architecture import Architecture, InputShape, Layer
from cnnviz.core.jobs import TrainConfig
from tests.tiny_net import TINY

FAST = TrainConfig(epochs=3, batch_size=64, learning_rate=0.01, augment=False)


def epoch_ends(progress: list) -> list:
    return [p for p in progress if p.val_accuracy is not None]


def test_loss_falls_and_accuracy_beats_chance():
    progress = []
    result = train(TINY, FAST, request_id=9, on_progress=progress.append)
    ends = epoch_ends(progress)
    assert [p.epoch for p in ends] == [1, 2, 3]
    assert all(p.step == p.steps and p.epochs == 3 and p.request_id == 9 for p in ends)
    assert ends[-1].train_loss < ends[0].train_loss
    assert ends[-1].val_loss < ends[0].val_loss
    assert result.best_val_accuracy > 0.6 and result.test_accuracy > 0.6  # chance is 0.1
    assert not result.cancelled and result.epochs_run == 3 and result.request_id == 9
    weight, bias = ends[-1].filters[0]
    assert weight.shape == (4, 1, 3, 3) and bias.shape == (4,)


def test_the_same_seed_gives_the_same_weights_and_another_seed_others():
    config = TrainConfig(epochs=1, batch_size=64, learning_rate=0.01, seed=3)
    first, second = train(TINY, config), train(TINY, config)
    other = train(TINY, TrainConfig(epochs=1, batch_size=64, learning_rate=0.01, seed=4))
    assert first.state_dict.keys() == second.state_dict.keys()
    for key, value in first.state_dict.items():
        np.testing.assert_array_equal(value, second.state_dict[key])
    assert not np.array_equal(first.state_dict["0.weight"], other.state_dict["0.weight"])
    assert first.test_accuracy == second.test_accuracy


def test_training_leaves_the_callers_random_state_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    train(TINY, TrainConfig(epochs=1, learning_rate=0.01))
    np.testing.assert_array_equal(torch.rand(3), expected)


def test_cancelling_keeps_the_best_epoch_so_far():
    progress = []
    result = train(
        TINY,
        TrainConfig(epochs=6, batch_size=64, learning_rate=0.05, augment=False),
        on_progress=progress.append,
        should_stop=lambda: len(epoch_ends(progress)) >= 2,
    )
    ends = epoch_ends(progress)
    assert len(ends) == 2
    assert result.cancelled and result.epochs_run == 2 and result.test_accuracy is None
    best = max(ends, key=lambda p: (p.val_accuracy, -p.val_loss))
    assert result.best_val_accuracy == best.val_accuracy
    # The filters sent at the best epoch's end are exactly the weights returned.
    np.testing.assert_array_equal(result.state_dict["0.weight"], best.filters[0][0])
    np.testing.assert_array_equal(result.state_dict["0.bias"], best.filters[0][1])


def test_cancelling_at_once_still_returns_usable_weights():
    result = train(TINY, FAST, should_stop=lambda: True)
    assert result.cancelled and result.epochs_run == 0
    untrained = build_model(TINY, seed=FAST.seed).state_dict()
    for key, value in untrained.items():
        np.testing.assert_array_equal(result.state_dict[key], value.numpy())
    assert 0.0 <= result.best_val_accuracy <= 1.0


def test_progress_between_epochs_is_throttled_and_well_formed():
    progress, times = [], []

    def record(p) -> None:
        progress.append(p)
        times.append(time.perf_counter())

    train(TINY, TrainConfig(epochs=2, batch_size=8, learning_rate=0.01), on_progress=record)
    steps = progress[0].steps
    assert steps == math.ceil(1438 * 0.9 / 8)
    # A report within an epoch comes at least PROGRESS_INTERVAL_S after the one
    # before it, however fast or slow this machine trains.
    for p, before, now in zip(progress[1:], times[:-1], times[1:], strict=True):
        if p.val_loss is None:
            assert now - before >= PROGRESS_INTERVAL_S, (p.epoch, p.step)
    for p in progress:
        assert 1 <= p.step <= p.steps and (p.val_loss is None) == (p.step < p.steps)
        assert 0.0 <= p.train_accuracy <= 1.0 and math.isfinite(p.train_loss)


@pytest.mark.parametrize(("interval", "every_step"), [(3600.0, False), (0.0, True)])
def test_progress_within_an_epoch_waits_for_the_interval(monkeypatch, interval, every_step):
    monkeypatch.setattr(train_module, "PROGRESS_INTERVAL_S", interval)
    progress = []
    train(TINY, TrainConfig(epochs=2, batch_size=64, augment=False), on_progress=progress.append)
    steps = progress[0].steps
    reported = [(p.epoch, p.step) for p in progress]
    # An hour apart: only each epoch's end; no wait: every batch.
    wanted = [(e, s) for e in (1, 2) for s in range(1, steps + 1) if every_step or s == steps]
    assert reported == wanted


def test_an_untrainable_stack_says_what_to_change():
    wrong = TINY.with_layers((*TINY.layers[:-1], Layer.make("Linear", out_features=5)))
    with pytest.raises(TrainingError, match="set out_features of the last Linear to 10"):
        train(wrong, FAST)
    with pytest.raises(TrainingError, match="set the input channels to 3"):
        train(TINY, TrainConfig(dataset="cifar10"))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"epochs": 0}, "epochs must be at least 1"),
        ({"learning_rate": 0.0}, "learning rate must be above 0"),
        ({"optimizer": "adagrad"}, "optimizer must be one of adam, sgd, rmsprop"),
        ({"train_subset": 1}, "the training subset needs at least 2 images"),
        ({"train_subset": 5000}, "the training subset of 5000 is more than the 1294 training"),
        ({"patience": 0}, "patience must be at least 1"),
        ({"l1": -0.1}, "L1 must be from 0 to 1"),
        ({"init": "lecun"}, "init must be one of default, xavier, he"),
        ({"validation_split": 0.0}, "validation split must be above 0"),
        ({"schedule": "step"}, "schedule must be one of constant, cosine"),
        ({"weight_decay": -1.0}, "weight decay must be from 0 to 1"),
        ({"dataset": "imagenet"}, "unknown dataset 'imagenet'"),
    ],
)
def test_bad_settings_are_named(change, message):
    config = TrainConfig(**{**FAST.__dict__, **change})
    with pytest.raises(TrainingError, match=message):
        train(TINY, config)


def test_starting_weights_are_used_and_mismatches_named():
    start = {k: v.numpy() * 0 for k, v in build_model(TINY, seed=1).state_dict().items()}
    progress = []
    train(
        TINY,
        TrainConfig(epochs=1, learning_rate=1e-9, schedule="constant"),
        initial_state=start,
        on_progress=progress.append,
    )
    # A vanishing learning rate: the first layer stays (almost) at the zeros it started from.
    assert np.abs(epoch_ends(progress)[0].filters[0][0]).max() < 1e-6
    bad = dict(start, **{"0.weight": np.zeros((4, 1, 5, 5), np.float32)})
    with pytest.raises(WeightsError, match="'0.weight' is 4×1×5×5 in the file"):
        train(TINY, FAST, initial_state=bad)


def test_sgd_weight_decay_shrinks_the_weights():
    def norm(decay):
        config = TrainConfig(
            epochs=1, optimizer="sgd", learning_rate=0.05, weight_decay=decay, augment=False
        )
        return float(np.linalg.norm(train(TINY, config).state_dict["4.weight"]))

    assert norm(0.5) < 0.5 * norm(0.0)


def test_a_stack_ending_in_softmax_is_trained_on_its_probabilities():
    with_softmax = TINY.with_layers((*TINY.layers, Layer.make("Softmax", dim=1)))
    result = train(with_softmax, FAST)
    assert result.test_accuracy > 0.5


@pytest.mark.parametrize("scheme", ["xavier", "he"])
def test_initialisation_matches_torchs_own_init(scheme):
    model = build_model(TINY, seed=0)
    initialise(model, scheme, seed=5)
    reference = build_model(TINY, seed=0)
    torch.manual_seed(5)
    for module in reference:
        if isinstance(module, nn.Conv2d | nn.Linear):
            if scheme == "xavier":
                nn.init.xavier_uniform_(module.weight)
            else:
                nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
            nn.init.zeros_(module.bias)
    for key, value in reference.state_dict().items():
        torch.testing.assert_close(model.state_dict()[key], value, rtol=0, atol=0)


def test_cosine_schedule_runs_from_the_rate_down_to_zero():
    config = TrainConfig(learning_rate=0.2)
    assert learning_rate_at(config, 0.0) == pytest.approx(0.2)
    assert learning_rate_at(config, 0.5) == pytest.approx(0.1)
    assert learning_rate_at(config, 1.0) == pytest.approx(0.0, abs=1e-12)
    constant = TrainConfig(learning_rate=0.2, schedule="constant")
    assert learning_rate_at(constant, 0.7) == 0.2


def test_stroke_augmentation_keeps_some_images_and_varies_the_rest():
    batch = torch.zeros(400, 1, 16, 16)
    batch[:, :, 2:14, 7:9] = 1.0  # a vertical bar filling the frame's height
    out = augment_strokes(batch, torch.Generator().manual_seed(0))
    assert out.shape == batch.shape and float(out.min()) >= 0 and float(out.max()) <= 1
    unchanged = (out == batch).flatten(1).all(dim=1).float().mean()
    assert 0.1 < float(unchanged) < 0.3  # about KEEP_FRACTION = 0.2
    # Shrunk copies hold less ink on average; black stays black.
    assert float(out.sum()) < float(batch.sum())
    assert float(augment_strokes(torch.zeros(8, 1, 16, 16), torch.Generator()).abs().max()) == 0
    again = augment_strokes(batch, torch.Generator().manual_seed(0))
    torch.testing.assert_close(out, again, rtol=0, atol=0)


def test_photo_augmentation_only_moves_and_mirrors():
    flat = torch.full((6, 3, 8, 8), 0.25)
    torch.testing.assert_close(augment_photos(flat, torch.Generator().manual_seed(1)), flat)
    ramp = torch.arange(8.0).expand(50, 1, 8, 8).contiguous()
    out = augment_photos(ramp, torch.Generator().manual_seed(2))
    # Rows stay rows (shifts and mirrors only): each output row is monotonic in x.
    diffs = out[..., 1:] - out[..., :-1]
    increasing = (diffs >= -1e-5).flatten(1).all(1)
    decreasing = (diffs <= 1e-5).flatten(1).all(1)
    assert bool((increasing | decreasing).all()) and bool(decreasing.any())


def test_each_epoch_end_carries_the_whole_state_for_live_feature_maps():
    progress = []
    result = train(TINY, TrainConfig(epochs=2, learning_rate=0.01), on_progress=progress.append)
    ends = epoch_ends(progress)
    assert all(p.weights is not None for p in ends)
    assert all(p.weights is None for p in progress if p.val_accuracy is None)
    assert ends[0].weights.keys() == result.state_dict.keys()
    np.testing.assert_array_equal(ends[-1].weights["0.weight"], ends[-1].filters[0][0])
    assert not np.array_equal(ends[0].weights["4.weight"], ends[1].weights["4.weight"])


def test_a_downloaded_dataset_trains_from_the_cache(tmp_path, monkeypatch):
    """MNIST-format files in the cache (written here, never downloaded) train end to end."""
    from tests.compute.test_datasets import _write_mnist_like

    monkeypatch.setenv("CNNVIZ_CACHE_DIR", str(tmp_path))
    _write_mnist_like(tmp_path / "datasets" / "mnist", np.random.default_rng(0), 40, 12)
    progress = []
    result = train(
        TINY, TrainConfig(dataset="mnist", epochs=2, batch_size=8), on_progress=progress.append
    )
    assert result.epochs_run == 2 and 0.0 <= result.test_accuracy <= 1.0
    assert epoch_ends(progress)[0].steps == math.ceil(36 / 8)  # 40 images, 4 for validation


def test_colour_photos_train_with_shifts_and_mirrors(tmp_path, monkeypatch):
    """CIFAR-10's binary format in the cache, a 3-channel stack, photo augmentation."""
    from tests.compute.test_datasets import _write_cifar_like

    monkeypatch.setenv("CNNVIZ_CACHE_DIR", str(tmp_path))
    _write_cifar_like(tmp_path / "datasets" / "cifar10", np.random.default_rng(1), per_batch=6)
    colour = Architecture("c", InputShape(3, 8, 8), TINY.layers)
    result = train(colour, TrainConfig(dataset="cifar10", epochs=1, batch_size=8))
    assert result.epochs_run == 1 and result.state_dict["0.weight"].shape == (4, 3, 3, 3)
