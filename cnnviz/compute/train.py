"""Train a stack on a dataset: the loop behind ``cnnviz train`` and the Train panel.

`train` runs on the caller's thread (the compute thread's worker in the app)
on the CPU, with whatever torch thread count the caller set. It reports
progress through `on_progress` at most every ~0.1 s and at each epoch's end,
and checks `should_stop` between batches: a cancelled run still returns the
best weights so far. Everything random (initialisation, validation split,
shuffling, augmentation, dropout) follows `config.seed`, so the same seed gives
the same weights.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from cnnviz.compute.datasets import (
    Dataset,
    DatasetError,
    check_trainable,
    dataset_info,
    load_dataset,
    to_network_input,
)
from cnnviz.compute.model import build_model
from cnnviz.compute.train_rules import BestEpoch, balanced_subset
from cnnviz.compute.train_setup import (
    TrainingError,
    augmenter,
    check_config,
    conv_filters,
    initialise,
    l1_penalty,
    l1_weights,
    learning_rate_at,
    loss_function,
    make_optimizer,
)
from cnnviz.compute.weights import load_into
from cnnviz.core.architecture import Architecture
from cnnviz.core.class_metrics import TestMetrics, confusion_matrix
from cnnviz.core.jobs import TrainConfig, TrainProgress, TrainResult

log = logging.getLogger(__name__)

PROGRESS_INTERVAL_S = 0.1
EVAL_BATCH = 512


def _ignore_progress(progress: TrainProgress) -> None:
    pass


def _never_stop() -> bool:
    return False


@dataclass
class _Split:
    images: torch.Tensor  # uint8 (N, c, h, w), native size
    labels: torch.Tensor  # int64 (N,)

    def __len__(self) -> int:
        return len(self.labels)


@dataclass
class _Run:
    """Everything one training run needs, prepared before the first batch."""

    model: nn.Sequential
    optimizer: torch.optim.Optimizer
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    train: _Split
    val: _Split
    test: _Split
    max_value: int
    shape: tuple[int, int, int]
    augment: Callable[[torch.Tensor, torch.Generator], torch.Tensor] | None
    generator: torch.Generator
    classes: tuple[str, ...]
    penalised: list[torch.Tensor]  # the weights L1 acts on


def _prepare(arch: Architecture, config: TrainConfig, initial_state: dict | None) -> _Run:
    check_config(config)
    try:
        info = dataset_info(config.dataset)
    except DatasetError as exc:
        raise TrainingError(str(exc)) from None
    problem = check_trainable(arch, info)
    if problem:
        raise TrainingError(problem)
    data: Dataset = load_dataset(info.key)
    model = build_model(arch, seed=config.seed)
    initialise(model, config.init, config.seed)
    if initial_state:
        load_into(model, initial_state, "the starting weights")
    generator = torch.Generator().manual_seed(config.seed)
    train, val = _split(data, config.validation_split, generator)
    if config.train_subset is not None:
        keep = balanced_subset(train.labels, config.train_subset)
        train = _Split(train.images[keep], train.labels[keep])
    optimizer = make_optimizer(model, config)
    return _Run(
        model,
        optimizer,
        loss_function(arch),
        train,
        val,
        _Split(torch.from_numpy(data.test_images), torch.from_numpy(data.test_labels)),
        data.max_value,
        arch.input.as_tuple(),
        augmenter(info.key) if config.augment else None,
        generator,
        info.classes,
        l1_weights(model),
    )


def _split(data: Dataset, fraction: float, generator: torch.Generator) -> tuple[_Split, _Split]:
    images = torch.from_numpy(data.train_images)
    labels = torch.from_numpy(data.train_labels)
    order = torch.randperm(len(labels), generator=generator)
    n_val = max(1, round(len(labels) * fraction))
    val, train = order[:n_val], order[n_val:]
    if len(train) < 1:
        raise TrainingError("the validation split leaves no training images: make it smaller")
    return _Split(images[train], labels[train]), _Split(images[val], labels[val])


def _state_as_numpy(model: nn.Module) -> dict[str, np.ndarray]:
    return {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}


def _eval_batches(run: _Run, split: _Split) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """(model output, labels) per batch of `split`, the model in eval mode; call
    under torch.no_grad()."""
    run.model.eval()
    for start in range(0, len(split), EVAL_BATCH):
        x = to_network_input(split.images[start : start + EVAL_BATCH], run.max_value, run.shape)
        yield run.model(x), split.labels[start : start + EVAL_BATCH]


@torch.no_grad()
def evaluate(run: _Run, split: _Split) -> tuple[float, float]:
    """Mean loss and accuracy of the model in eval mode on `split`."""
    total_loss, correct = 0.0, 0
    for out, y in _eval_batches(run, split):
        total_loss += float(run.loss_fn(out, y)) * len(y)
        correct += int((out.argmax(dim=1) == y).sum())
    return total_loss / len(split), correct / len(split)


@torch.no_grad()
def metrics_on(run: _Run, split: _Split) -> TestMetrics:
    """The model's confusion matrix on `split` (eval mode), with the class names."""
    predicted = [out.argmax(dim=1).numpy() for out, _ in _eval_batches(run, split)]
    predictions = np.concatenate(predicted)
    confusion = confusion_matrix(split.labels.numpy(), predictions, len(run.classes))
    return TestMetrics(confusion, run.classes)


class _Reporter:
    """Throttles progress: at most every PROGRESS_INTERVAL_S, plus at each epoch's end."""

    def __init__(self, request_id: int, epochs: int, steps: int, callback) -> None:
        self.request_id, self.epochs, self.steps = request_id, epochs, steps
        self.callback = callback
        self.last = time.perf_counter()

    def due(self) -> bool:
        return time.perf_counter() - self.last >= PROGRESS_INTERVAL_S

    def send(self, run: _Run, epoch: int, step: int, meter: _Meter, val=None) -> None:
        val_loss, val_accuracy = val if val is not None else (None, None)
        self.callback(
            TrainProgress(
                self.request_id,
                epoch,
                self.epochs,
                step,
                self.steps,
                meter.loss,
                meter.accuracy,
                val_loss,
                val_accuracy,
                conv_filters(run.model),
                None if val is None else _state_as_numpy(run.model),
            )
        )
        self.last = time.perf_counter()


@dataclass
class _Meter:
    """Running training loss and accuracy over the epoch so far."""

    loss_sum: float = 0.0
    correct: int = 0
    seen: int = 0

    def add(self, loss: float, correct: int, count: int) -> None:
        self.loss_sum += loss * count
        self.correct += correct
        self.seen += count

    @property
    def loss(self) -> float:
        return self.loss_sum / max(self.seen, 1)

    @property
    def accuracy(self) -> float:
        return self.correct / max(self.seen, 1)


def _steps_per_epoch(samples: int, batch_size: int) -> int:
    steps = -(-samples // batch_size)
    return steps - 1 if steps > 1 and samples % batch_size == 1 else steps


def _batches(run: _Run, batch_size: int) -> list[torch.Tensor]:
    order = torch.randperm(len(run.train), generator=run.generator)
    batches = list(order.split(batch_size))
    # A last batch of one sample breaks BatchNorm's batch statistics; fold it in.
    if len(batches) > 1 and len(batches[-1]) < 2:
        batches[-2] = torch.cat([batches[-2], batches.pop()])
    return batches


def _train_epoch(
    run: _Run, epoch: int, config: TrainConfig, reporter: _Reporter, should_stop
) -> tuple[_Meter, bool]:
    """One pass over the training split; returns (meter, stopped early)."""
    run.model.train()
    meter = _Meter()
    total_steps = config.epochs * reporter.steps
    for step, index in enumerate(_batches(run, config.batch_size), start=1):
        if should_stop():
            return meter, True
        lr = learning_rate_at(config, ((epoch - 1) * reporter.steps + step - 1) / total_steps)
        for group in run.optimizer.param_groups:
            group["lr"] = lr
        x = to_network_input(run.train.images[index], run.max_value, run.shape)
        if run.augment is not None:
            x = run.augment(x, run.generator)
        y = run.train.labels[index]
        run.optimizer.zero_grad(set_to_none=True)
        out = run.model(x)
        loss = run.loss_fn(out, y)
        # The L1 term is learnt from but not shown: the curves plot the data loss,
        # the same figure as the validation loss beside it.
        total = loss + l1_penalty(run.penalised, config.l1)
        if not torch.isfinite(total):
            raise TrainingError(
                f"the loss became {float(total)} in epoch {epoch}: lower the learning rate"
            )
        total.backward()
        run.optimizer.step()
        meter.add(loss.item(), int((out.detach().argmax(dim=1) == y).sum()), len(y))
        if reporter.due() and step < reporter.steps:
            reporter.send(run, epoch, step, meter)
    return meter, False


def train(
    arch: Architecture,
    config: TrainConfig,
    *,
    request_id: int = 0,
    initial_state: dict | None = None,
    on_progress: Callable[[TrainProgress], None] = _ignore_progress,
    should_stop: Callable[[], bool] = _never_stop,
) -> TrainResult:
    """Train `arch` on `config.dataset`; the best epoch's weights (train_rules.BestEpoch)
    with their test metrics.

    Raises TrainingError (a one-line message) when the stack or the settings
    cannot be trained; DatasetError/DownloadError when the data is missing.
    """
    started = time.perf_counter()
    # Dropout draws from torch's global generator: seed it, and give the caller's
    # state back afterwards.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        with _collector_out_of_the_way():
            run = _prepare(arch, config, initial_state)
        steps = _steps_per_epoch(len(run.train), config.batch_size)
        reporter = _Reporter(request_id, config.epochs, steps, on_progress)
        best, epochs_run, cancelled = _epochs(run, config, reporter, should_stop)
        run.model.load_state_dict(best.state)
        metrics = None if cancelled else metrics_on(run, run.test)
    seconds = time.perf_counter() - started
    test_accuracy = None if metrics is None else metrics.accuracy
    log.info("trained %s: test accuracy %s in %.1f s", arch.name, test_accuracy, seconds)
    stopped = epochs_run < config.epochs and not cancelled
    return TrainResult(
        request_id,
        {k: v.numpy().copy() for k, v in best.state.items()},
        best.accuracy,
        test_accuracy,
        epochs_run,
        cancelled,
        seconds,
        best_epoch=best.epoch,
        stopped_epoch=epochs_run if stopped else None,
        test_metrics=metrics,
    )


@contextlib.contextmanager
def _collector_out_of_the_way():
    """Keep Python's full garbage collections from freezing the GUI thread.

    A full collection walks every object in the process (with torch, Qt and
    pyqtgraph loaded some 300000: 50-150 ms) holding the GIL, and both the
    import torch makes on the first optimizer (torch._dynamo, 800 modules) and
    a training loop's allocations set them off. So: no automatic collections
    while the run is prepared, and everything alive after it (modules,
    classes, widgets, which live on anyway) is frozen out of the collector's
    sight, so that the collections during training walk only the training's
    own objects. The freeze is not undone: that would bring back one long
    pause at the next collection.
    """
    gc.freeze()
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
        gc.freeze()


def _epochs(run: _Run, config: TrainConfig, reporter: _Reporter, should_stop):
    """The epoch loop: (best epoch, epochs run, cancelled); it ends early when
    cancelled or when early stopping (config.patience) says so."""
    best = BestEpoch(config.patience)
    for epoch in range(1, config.epochs + 1):
        meter, stopped = _train_epoch(run, epoch, config, reporter, should_stop)
        val_loss, val_accuracy = evaluate(run, run.val)
        best.update(epoch, val_loss, val_accuracy, run.model)  # a cancelled epoch's too
        if stopped:
            return best, epoch - 1, True
        reporter.send(run, epoch, reporter.steps, meter, (val_loss, val_accuracy))
        if best.should_stop(epoch):
            log.info("early stopping after epoch %d (best %d)", epoch, best.epoch)
            return best, epoch, False
    return best, config.epochs, False
