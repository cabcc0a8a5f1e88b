"""What training behaviour does to a Dropout or BatchNorm2d layer, measured (numpy only).

Everything here is read off the arrays a forward recorded (the layer's input and
output) and, for batch norm, the layer's parameters and buffers: the lab
(cnnviz/qt/labs/training_mode.py) shows measured numbers, never numbers it
assumes. Torch's conventions, which tests/core/test_train_mode_view.py checks:

* Dropout is *inverted* dropout: in training each value is zeroed with
  probability p and the kept ones are multiplied by 1/(1−p), so evaluation is
  the identity. (The original paper kept values as they were in training and
  scaled the weights by p at evaluation; the expected value is the same.)
* BatchNorm2d in training normalises each channel by the mean and the *biased*
  variance of this batch (over N·H·W values; one image here, so over the H×W
  positions), and moves its running statistics by ``momentum`` toward the mean
  and the *unbiased* variance. At evaluation it uses the running statistics.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DROPOUT_TYPES = ("Dropout", "Dropout2d")
BATCH_NORM_TYPES = ("BatchNorm2d",)

KEPT, DROPPED, UNKNOWN = 1, 0, -1  # a zero input gives a zero output either way

# The 1/(1−p) measured on float32 values differs from the exact one by rounding.
_SCALE_RTOL = 1e-5


def fed_a_map(info) -> bool:
    """The layer's (an analysis LayerInfo's) input is a C×H×W feature map."""
    return info.input_shape is not None and len(info.input_shape) == 3


# ----- dropout -----------------------------------------------------------------


def dropout_mask(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Per value KEPT (output not 0), DROPPED (output 0 from a non-zero input) or
    UNKNOWN (the input was 0, so the output is 0 whether dropped or not); int8."""
    mask = np.where(y != 0, KEPT, DROPPED).astype(np.int8)
    mask[(x == 0) & (y == 0)] = UNKNOWN
    return mask


def _inverted_scale(p: float) -> float:
    """What training multiplies a kept value by: 1/(1−p) (inf when all are dropped)."""
    return 1.0 / (1.0 - p) if p < 1 else float("inf")


@dataclass(frozen=True)
class DropoutView:
    p: float
    identity: bool  # output equals input exactly (evaluation, or p = 0)
    max_difference: float  # max |output − input| over all values
    kept: int
    dropped: int
    unknown: int  # inputs that were 0: kept or dropped cannot be told apart
    scale: float  # mean of output/input where kept (nan when nothing was kept)
    scale_spread: float  # max |output/input − 1/(1−p)| where kept (0 when none)

    @property
    def expected_scale(self) -> float:
        return _inverted_scale(self.p)

    @property
    def kept_fraction(self) -> float:
        """Kept among the values whose fate can be read off (nan when none can)."""
        decided = self.kept + self.dropped
        return self.kept / decided if decided else float("nan")

    @property
    def scale_matches(self) -> bool:
        return self.kept == 0 or self.scale_spread <= _SCALE_RTOL * self.expected_scale


def dropout_view(x: np.ndarray, y: np.ndarray, p: float) -> DropoutView:
    """What a dropout did to `x` (giving `y`), from the two arrays alone."""
    x64, y64 = np.asarray(x, np.float64), np.asarray(y, np.float64)
    if x64.shape != y64.shape:
        raise ValueError(f"input {x64.shape} and output {y64.shape} differ in shape")
    mask = dropout_mask(x64, y64)
    kept = mask == KEPT
    ratios = y64[kept] / x64[kept]
    expected = _inverted_scale(p)
    return DropoutView(
        p=float(p),
        identity=bool(np.array_equal(x64, y64)),
        max_difference=float(np.abs(y64 - x64).max()) if x64.size else 0.0,
        kept=int(kept.sum()),
        dropped=int((mask == DROPPED).sum()),
        unknown=int((mask == UNKNOWN).sum()),
        scale=float(ratios.mean()) if ratios.size else float("nan"),
        scale_spread=float(np.abs(ratios - expected).max()) if ratios.size else 0.0,
    )


# ----- batch norm --------------------------------------------------------------


@dataclass(frozen=True)
class BatchNormParams:
    """A BatchNorm2d's numbers per channel (float64); None where the layer has none."""

    eps: float
    momentum: float
    gamma: np.ndarray  # ones when affine is off
    beta: np.ndarray  # zeros when affine is off
    running_mean: np.ndarray | None  # None without track_running_stats
    running_var: np.ndarray | None
    batches_tracked: int | None = None


def batch_norm_params(
    state: dict[str, np.ndarray] | None, prefix: str, layer_params: dict, channels: int
) -> BatchNormParams:
    """The layer's numbers from a state dict (torch keys ``prefix + ".weight"``...).

    `state` None: the network holds its fresh initialisation, which for batch
    norm is always γ = 1, β = 0, running mean 0, running variance 1 (torch's
    reset_parameters), whatever the seed.
    """
    state = state or {}
    affine = layer_params.get("affine", True)
    tracked = layer_params.get("track_running_stats", True)

    def read(name: str, default: float) -> np.ndarray:
        value = state.get(f"{prefix}.{name}")
        if value is None:
            return np.full(channels, default, np.float64)
        return np.asarray(value, np.float64).reshape(channels)

    count = state.get(f"{prefix}.num_batches_tracked")
    return BatchNormParams(
        eps=float(layer_params.get("eps", 1e-5)),
        momentum=float(layer_params.get("momentum", 0.1)),
        gamma=read("weight", 1.0) if affine else np.ones(channels),
        beta=read("bias", 0.0) if affine else np.zeros(channels),
        running_mean=read("running_mean", 0.0) if tracked else None,
        running_var=read("running_var", 1.0) if tracked else None,
        batches_tracked=(int(np.asarray(count)) if count is not None else 0) if tracked else None,
    )


def batch_statistics(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per channel of a (C, H, W) batch of one: mean, biased and unbiased variance."""
    flat = np.asarray(x, np.float64).reshape(x.shape[0], -1)
    n = flat.shape[1]
    mean = flat.mean(axis=1)
    biased = flat.var(axis=1)
    unbiased = biased * n / (n - 1) if n > 1 else np.full_like(biased, np.nan)
    return mean, biased, unbiased


def normalise(x, mean, var, gamma, beta, eps) -> np.ndarray:
    """y = γ·(x − μ)/√(σ² + ε) + β per channel, in float64."""
    shape = (-1,) + (1,) * (np.ndim(x) - 1)
    x = np.asarray(x, np.float64)
    r = lambda v: np.asarray(v, np.float64).reshape(shape)  # noqa: E731 - per-channel broadcast
    return r(gamma) * (x - r(mean)) / np.sqrt(r(var) + eps) + r(beta)


@dataclass(frozen=True)
class BatchNormView:
    """One channel of a BatchNorm2d: the statistics the output was normalised with
    (``used``: "batch" or "running", whichever reproduces the output), and the
    running statistics a training step would leave behind."""

    channel: int
    count: int  # values per channel in this batch: H×W of the one image
    used: str
    mean: float  # μ the output was computed with
    var: float  # σ² the output was computed with
    batch_mean: float
    batch_var: float  # biased: what training normalises with
    batch_var_unbiased: float  # what the running variance moves toward
    gamma: float
    beta: float
    eps: float
    momentum: float
    running_mean: float | None
    running_var: float | None
    next_running_mean: float | None  # after one training step on this batch
    next_running_var: float | None
    max_error: float  # max |formula − recorded output| over this channel


def _matches(x, y, mean, var, params: BatchNormParams, channel: int) -> float:
    pick = slice(channel, channel + 1)
    formula = normalise(x[pick], mean[pick], var[pick], params.gamma[pick], params.beta[pick],
                        params.eps)  # fmt: skip
    return float(np.abs(formula - np.asarray(y[pick], np.float64)).max())


def batch_norm_view(
    x: np.ndarray, y: np.ndarray, params: BatchNormParams, channel: int
) -> BatchNormView:
    """Channel `channel` of a BatchNorm2d that turned `x` (C, H, W) into `y`."""
    if x.ndim != 3 or x.shape != y.shape:
        raise ValueError(f"expected C×H×W input and output of one shape, got {x.shape}, {y.shape}")
    mean, biased, unbiased = batch_statistics(x)
    used, mu, var = "batch", mean, biased
    error = _matches(x, y, mean, biased, params, channel)
    if params.running_mean is not None:
        running_error = _matches(x, y, params.running_mean, params.running_var, params, channel)
        if running_error < error:
            used, mu, var, error = "running", params.running_mean, params.running_var, running_error
    c, m = channel, params.momentum
    tracked = params.running_mean is not None
    return BatchNormView(
        channel=c,
        count=int(np.prod(x.shape[1:])),
        used=used,
        mean=float(mu[c]),
        var=float(var[c]),
        batch_mean=float(mean[c]),
        batch_var=float(biased[c]),
        batch_var_unbiased=float(unbiased[c]),
        gamma=float(params.gamma[c]),
        beta=float(params.beta[c]),
        eps=params.eps,
        momentum=m,
        running_mean=float(params.running_mean[c]) if tracked else None,
        running_var=float(params.running_var[c]) if tracked else None,
        next_running_mean=float((1 - m) * params.running_mean[c] + m * mean[c])
        if tracked
        else None,
        next_running_var=float((1 - m) * params.running_var[c] + m * unbiased[c])
        if tracked
        else None,
        max_error=error,
    )
