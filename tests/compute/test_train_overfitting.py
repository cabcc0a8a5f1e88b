"""The overfitting lab's training settings, each against torch or numpy: L1,
RMSprop, early stopping, the training subset, and the test confusion matrix."""

from __future__ import annotations

import dataclasses

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from cnnviz.compute import train as train_module
from cnnviz.compute.datasets import load_dataset, to_network_input
from cnnviz.compute.model import build_model
from cnnviz.compute.train import train
from cnnviz.compute.train_setup import l1_penalty, l1_weights
from cnnviz.core.jobs import TrainConfig
from tests.tiny_net import TINY

# One batch per epoch (64 images, batch 64), constant rate, no augmentation:
# every epoch is exactly one optimizer step on the same images.
ONE_STEP = TrainConfig(
    epochs=1,
    batch_size=64,
    learning_rate=0.01,
    optimizer="sgd",
    schedule="constant",
    augment=False,
    train_subset=64,
)


def epoch_ends(progress: list) -> list:
    return [p for p in progress if p.val_accuracy is not None]


def independent_tiny() -> nn.Sequential:
    """TINY written out in torch, holding the weights cnnviz starts from (seed 0)."""
    model = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(64, 10)
    )
    model.load_state_dict(build_model(TINY, seed=0).state_dict())
    return model


def test_l1_adds_lr_times_l1_times_the_sign_of_each_weight_to_an_sgd_step():
    plain = train(TINY, ONE_STEP).state_dict
    l1 = 0.05
    with_l1 = train(TINY, dataclasses.replace(ONE_STEP, l1=l1)).state_dict
    start = independent_tiny().state_dict()
    for key in ("0.weight", "4.weight"):  # kernels and matrices: pulled towards 0
        expected = -ONE_STEP.learning_rate * l1 * np.sign(start[key].numpy())
        np.testing.assert_allclose(with_l1[key] - plain[key], expected, atol=1e-7)
    for key in ("0.bias", "4.bias"):  # biases: untouched by L1
        np.testing.assert_array_equal(with_l1[key], plain[key])


def test_the_l1_term_and_its_gradient_are_torchs_sum_of_absolute_weights():
    model = independent_tiny()
    chosen = l1_weights(model)
    assert [tuple(w.shape) for w in chosen] == [(4, 1, 3, 3), (10, 64)]
    penalty = l1_penalty(chosen, 0.3)
    expected = 0.3 * (model[0].weight.abs().sum() + model[4].weight.abs().sum())
    torch.testing.assert_close(penalty, expected)
    penalty.backward()
    torch.testing.assert_close(model[0].weight.grad, 0.3 * model[0].weight.sign())
    assert model[0].bias.grad is None and model[4].bias.grad is None


def test_rmsprop_steps_as_torchs_rmsprop_on_an_independent_copy():
    config = dataclasses.replace(ONE_STEP, epochs=3, optimizer="rmsprop", learning_rate=0.001)
    progress = []
    train(TINY, config, on_progress=progress.append)
    run = train_module._prepare(TINY, config, None)  # only for the images it trains on
    x = to_network_input(run.train.images, run.max_value, run.shape)
    y = run.train.labels
    model = independent_tiny()
    optimizer = torch.optim.RMSprop(model.parameters(), lr=0.001)
    adam = train(TINY, dataclasses.replace(config, optimizer="adam")).state_dict
    for end in epoch_ends(progress):
        optimizer.zero_grad()
        F.cross_entropy(model(x), y).backward()
        optimizer.step()
        for key, value in model.state_dict().items():
            np.testing.assert_allclose(end.weights[key], value.numpy(), rtol=1e-4, atol=1e-6)
    assert not np.allclose(adam["0.weight"], end.weights["0.weight"], atol=1e-4)


def test_early_stopping_stops_where_the_rule_says_and_keeps_the_best_epoch():
    config = TrainConfig(
        epochs=40,
        batch_size=32,
        learning_rate=0.01,
        schedule="constant",
        augment=False,
        train_subset=100,
        patience=3,
    )
    progress = []
    result = train(TINY, config, on_progress=progress.append)
    losses = [p.val_loss for p in epoch_ends(progress)]
    best, stop = 1, None  # the rule, from the reported validation losses alone
    for epoch, loss in enumerate(losses, start=1):
        if loss < losses[best - 1]:
            best = epoch
        if epoch - best >= config.patience:
            stop = epoch
            break
    assert stop is not None and stop < config.epochs and len(losses) == stop
    assert (result.stopped_epoch, result.best_epoch, result.epochs_run) == (stop, best, stop)
    kept = epoch_ends(progress)[best - 1].weights
    for key, value in result.state_dict.items():
        np.testing.assert_array_equal(value, kept[key])
    # Evaluated afresh, the kept weights give the best epoch's validation loss.
    run = train_module._prepare(TINY, config, None)
    run.model.load_state_dict({k: torch.from_numpy(v) for k, v in result.state_dict.items()})
    val_loss, _ = train_module.evaluate(run, run.val)
    assert abs(val_loss - losses[best - 1]) < 1e-5
    assert val_loss == min(losses)


def test_the_subset_is_that_many_class_balanced_images_of_the_same_training_split():
    full = train_module._prepare(TINY, TrainConfig(augment=False), None)
    run = train_module._prepare(TINY, TrainConfig(augment=False, train_subset=50), None)
    assert len(run.train) == 50
    assert np.bincount(run.train.labels.numpy(), minlength=10).tolist() == [5] * 10
    torch.testing.assert_close(run.val.images, full.val.images)  # validation: unchanged
    as_rows = {bytes(image.numpy()) for image in full.train.images}
    assert all(bytes(image.numpy()) in as_rows for image in run.train.images)
    progress = []
    train(TINY, TrainConfig(epochs=1, batch_size=10, train_subset=50), on_progress=progress.append)
    assert progress[-1].steps == 5  # 50 images in batches of 10


def test_the_confusion_matrix_and_per_class_scores_match_numpy_on_the_models_predictions():
    config = dataclasses.replace(ONE_STEP, epochs=2, batch_size=16, optimizer="adam")
    result = train(TINY, config)
    model = independent_tiny()
    model.load_state_dict({k: torch.from_numpy(v) for k, v in result.state_dict.items()})
    data = load_dataset("digits")
    with torch.no_grad():
        x = to_network_input(torch.from_numpy(data.test_images), data.max_value, (1, 8, 8))
        predicted = model(x).argmax(dim=1).numpy()
    expected = np.zeros((10, 10), dtype=np.int64)
    np.add.at(expected, (data.test_labels, predicted), 1)
    metrics = result.test_metrics
    np.testing.assert_array_equal(metrics.confusion, expected)
    assert result.test_accuracy == np.mean(predicted == data.test_labels)
    for k, scores in enumerate(metrics.per_class()):
        called, actual = predicted == k, data.test_labels == k
        hits = np.sum(called & actual)
        precision = hits / called.sum() if called.sum() else 0.0
        recall = hits / actual.sum()
        f1 = 2 * precision * recall / (precision + recall) if hits else 0.0
        assert scores.name == str(k) and scores.support == actual.sum()
        np.testing.assert_allclose(
            [scores.precision, scores.recall, scores.f1], [precision, recall, f1], atol=1e-12
        )
