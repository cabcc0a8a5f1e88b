"""What the GUI asks the compute thread for, and what comes back (numpy only).

Requests are frozen and captured on the GUI thread; results carry the id of
the request they answer so the GUI can drop stale ones (DESIGN.md, "latest
wins"). Panels receive these plain numpy results and never see torch.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cnnviz.core.architecture import Architecture
from cnnviz.core.class_metrics import TestMetrics


@dataclass(frozen=True)
class KernelEdit:
    """A kernel set by hand for teaching: layer's weight[out_channel] = kernel."""

    layer: int
    out_channel: int
    kernel: np.ndarray  # (in_channels/groups, kh, kw) float32
    bias: float | None = None


@dataclass(frozen=True)
class ForwardRequest:
    request_id: int
    architecture: Architecture
    # (C, H, W) float32: exactly the network input. The compute thread reads it
    # (without copying) while it runs: hand over an array nobody writes into.
    image: np.ndarray
    seed: int = 0
    train_mode: bool = False  # dropout/batch-norm in training behaviour
    weights_path: str | None = None  # safetensors / .pt state dict to load
    kernel_edits: tuple[KernelEdit, ...] = ()
    device: str = "auto"  # auto | cpu | cuda | mps
    # Run even above the memory budget (the user said "run anyway").
    ignore_memory_limit: bool = False


@dataclass(frozen=True)
class LayerStats:
    minimum: float
    maximum: float
    mean: float
    zero_fraction: float

    @classmethod
    def of(cls, values: np.ndarray) -> LayerStats:
        """The statistics of a layer's output (an empty output gives NaNs)."""
        if values.size == 0:
            nan = float("nan")
            return cls(nan, nan, nan, nan)
        return cls(
            float(values.min()),
            float(values.max()),
            float(values.mean(dtype=np.float64)),
            1.0 - int(np.count_nonzero(values)) / values.size,
        )


@dataclass(frozen=True, init=False)
class LayerActivation:
    index: int
    type: str
    output: np.ndarray  # float32, (C, H, W) or (N,); nothing else writes into it
    # The layer's input (the previous output or the image), for activation
    # and pooling panels; the same array object, not another copy.
    input: np.ndarray | None = None

    def __init__(
        self, index: int, type: str, output: np.ndarray, input: np.ndarray | None = None
    ) -> None:
        # Frozen all the same: the generated __init__ sets each field through
        # object.__setattr__, three times the cost, for every layer of every forward.
        # tests/core/test_jobs.py checks these parameters against the fields.
        fields = self.__dict__
        fields["index"] = index
        fields["type"] = type
        fields["output"] = output
        fields["input"] = input

    @functools.cached_property
    def stats(self) -> LayerStats:
        """min, max, mean and fraction of zeros, computed when first asked for.

        Eagerly, for every layer of every forward, they cost as much as the
        whole forward of a small network (tests/benchmarks/bench_forward.py
        prints both), and most results are replaced before anyone looks.
        """
        return LayerStats.of(self.output)

    @functools.cached_property
    def pictures(self):
        """A (C, H, W) output's channel statistics and screen-sized pictures
        (cnnviz.core.display_maps.LayerPictures; None for other shapes). The
        compute thread prepares them right after the forward, so the GUI thread
        finds them ready however large the output."""
        from cnnviz.core.display_maps import prepare

        return prepare(self.output)


@dataclass(frozen=True, init=False)
class ForwardResult:
    request_id: int
    input: np.ndarray  # (C, H, W) as the network saw it
    layers: tuple[LayerActivation, ...]
    # Conv2d layers only: index → (weight (O, I/g, kh, kw), bias (O,) or None), copies.
    filters: dict[int, tuple[np.ndarray, np.ndarray | None]] = field(default_factory=dict)
    # Softmax of the last layer when it gives class scores (a vector), else None.
    probabilities: np.ndarray | None = None
    device: str = "cpu"  # human-readable, e.g. "CPU" or "CUDA: NVIDIA H100"
    elapsed_ms: float = 0.0
    notice: str | None = None  # e.g. "GPU out of memory: this run used the CPU"

    def __init__(
        self,
        request_id: int,
        input: np.ndarray,
        layers: tuple[LayerActivation, ...],
        filters: dict[int, tuple[np.ndarray, np.ndarray | None]] | None = None,
        probabilities: np.ndarray | None = None,
        device: str = "cpu",
        elapsed_ms: float = 0.0,
        notice: str | None = None,
    ) -> None:
        # As LayerActivation's: the generated __init__ costs 3 % of a small forward.
        # tests/core/test_jobs.py checks these parameters against the fields.
        fields = self.__dict__
        fields["request_id"] = request_id
        fields["input"] = input
        fields["layers"] = layers
        fields["filters"] = {} if filters is None else filters
        fields["probabilities"] = probabilities
        fields["device"] = device
        fields["elapsed_ms"] = elapsed_ms
        fields["notice"] = notice


@dataclass(frozen=True)
class ComputeFailure:
    request_id: int
    message: str  # plain words for the status bar, no traceback


# TrainConfig's named choices: what compute.train_setup accepts and cnnviz train offers.
OPTIMIZERS = ("adam", "sgd", "rmsprop")
INITS = ("default", "xavier", "he")
SCHEDULES = ("constant", "cosine")


@dataclass(frozen=True)
class TrainConfig:
    dataset: str = "digits"
    epochs: int = 5
    batch_size: int = 64
    learning_rate: float = 1e-3
    optimizer: str = "adam"  # adam | sgd (with momentum 0.9) | rmsprop
    init: str = "default"  # default | xavier | he
    weight_decay: float = 0.0
    validation_split: float = 0.1
    seed: int = 0
    # Added by the training task: the learning rate over the run (constant, or
    # cosine decay from learning_rate to 0), and random shifts/scalings/stroke
    # widths of the training images (digit datasets) or shifts/flips (photos).
    schedule: str = "cosine"  # constant | cosine
    augment: bool = True
    # Added by the overfitting lab (issue 19). train_subset: train on only this
    # many images (a seeded, class-balanced pick; the validation split is taken
    # first, from all images); None: all. patience: stop once the validation
    # loss has not improved for this many epochs, and keep the lowest-loss
    # epoch's weights; None: run every epoch. l1: adds l1·Σ|w| over the
    # weight matrices and kernels (not biases, not BatchNorm) to the loss.
    train_subset: int | None = None
    patience: int | None = None
    l1: float = 0.0


# What trains the bundled digits to at least 97 % test accuracy in about 10 s on
# two cores (30 epochs: seeds 0-4 gave 97.2-98.3 %; 10 epochs gave 91 %). The
# Training panel and `cnnviz train` both start from it.
RECOMMENDED_TRAINING = TrainConfig(epochs=30, batch_size=32, learning_rate=0.002)


@dataclass(frozen=True)
class TrainRequest:
    request_id: int
    architecture: Architecture
    config: TrainConfig
    weights_path: str | None = None  # start from these weights, else fresh init


@dataclass(frozen=True)
class TrainProgress:
    request_id: int
    epoch: int  # 1-based
    epochs: int
    step: int  # batches done in this epoch
    steps: int  # batches per epoch
    train_loss: float
    train_accuracy: float
    val_loss: float | None = None  # set at the end of each epoch
    val_accuracy: float | None = None
    # Conv filters of the model being trained, for "watch filters learn".
    filters: dict[int, tuple[np.ndarray, np.ndarray | None]] = field(default_factory=dict)
    # Added by the training task: at each epoch's end (val_* set), a copy of the
    # whole state dict (name → numpy array), so forwards can show the feature
    # maps of the network as it learns; None in the reports between epoch ends.
    weights: dict[str, np.ndarray] | None = None


@dataclass(frozen=True)
class TrainResult:
    request_id: int
    state_dict: dict[str, Any]  # name → numpy array: the best weights (by validation)
    best_val_accuracy: float
    test_accuracy: float | None
    epochs_run: int
    cancelled: bool
    seconds: float
    # The epoch whose weights were kept (1-based; 0: none finished), the epoch
    # early stopping ended the run after (None: it did not), and the kept
    # weights' confusion matrix on the test set (None when not measured).
    best_epoch: int = 0
    stopped_epoch: int | None = None
    test_metrics: TestMetrics | None = None
