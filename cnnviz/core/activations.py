"""Element-wise activation functions, their derivatives and their flat regions.

The activation panel draws f(x) and f'(x) over the range of a layer's real
inputs (one image's) and says how many of those inputs sit where the gradient
is zero or tiny: ReLU switched off, sigmoid saturated. The words are careful
(``share_sentence``, ``FLAT_NOTE``): a ReLU input ≤ 0 is ordinary sparsity, the
unit is off for that input only; a *dead* unit is off for every input, which
one image cannot show; and vanishing gradients come from multiplying small
derivatives through many layers, not from one unit. The definitions of "flat"
live here so they can be tested:

=========  ==================  =========================================
function   region              why
=========  ==================  =========================================
ReLU       x ≤ 0               gradient exactly 0 (torch's at 0 too): off
LeakyReLU  x < 0               gradient only negative_slope: leaky
ELU        x < −4              gradient α·eˣ < 2 % of α: saturated
GELU       x < −3              |gradient| < 0.012: flat
Sigmoid    |x| > 4             gradient < 0.018 (max 0.25): saturated
Tanh       |x| > 2.5           gradient < 0.027 (max 1): saturated
ReLU6      x ≤ 0 or x ≥ 6      gradient exactly 0 (torch's at 0 and 6 too)
SiLU       x < −6              |gradient| < 0.013: flat
Hardswish  x ≤ −3              gradient exactly 0 (torch's at −3 too): off
=========  ==================  =========================================

Derivatives follow torch's autograd, including its choice at the kinks.

Two teaching curves sit beside them (``TEACHING``), not layer types and never in
the catalogue: Step (Heaviside, the perceptron's activation) and Identity (no
activation at all). Each carries a ``lesson``: step's gradient is 0 wherever
it exists, so gradient descent gets no signal; identity's is 1, so a stack of
linear layers is one linear map (compute.collapse computes it).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from cnnviz.core.architecture import Layer

COMPARABLE = ("ReLU", "LeakyReLU", "ELU", "GELU", "Sigmoid", "Tanh", "ReLU6", "SiLU", "Hardswish")
# Comparison curves only: no torch layer of these names is in the palette.
TEACHING = ("Step", "Identity")

# Under the shaded plots. Each claim is limited to what one image's inputs show.
FLAT_NOTE = (
    "Shaded: where the gradient is zero or tiny. For these inputs of this image, little "
    "or no gradient flows back through the unit to the weights before it. That is not a "
    "dead unit, which never activates for any input (one image cannot show that), nor "
    "the vanishing-gradient problem, which comes from multiplying small derivatives "
    "through many layers: the Gradients panel (Ctrl+8) measures that, layer by layer."
)
_SQRT_2_OVER_PI = float(np.sqrt(2.0 / np.pi))
_GELU_CUBIC = 0.044715

Curve = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class FlatRegion:
    """Where the gradient is zero or tiny: a union of intervals of x."""

    label: str  # "off", "saturated", ...: completes "where ReLU is ..."
    description: str  # shown beside the share, e.g. "x ≤ 0: gradient exactly 0"
    intervals: tuple[tuple[float, float], ...]
    closed: bool = False  # whether the finite ends belong to the region

    def contains(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        inside = np.zeros(x.shape, dtype=bool)
        for low, high in self.intervals:
            if self.closed:
                inside |= (x >= low) & (x <= high)
            else:
                inside |= (x > low) & (x < high)
        return inside


@dataclass(frozen=True)
class Activation:
    name: str
    formula: str
    function: Curve
    derivative: Curve
    region: FlatRegion
    lesson: str = ""  # why a teaching curve is not used as a layer's activation

    def share_flat(self, inputs: np.ndarray) -> float:
        """Fraction of `inputs` inside the flat region (0 for no inputs)."""
        inputs = np.asarray(inputs)
        if inputs.size == 0:
            return 0.0
        return float(np.count_nonzero(self.region.contains(inputs)) / inputs.size)


def share_sentence(act: Activation, share: float, count: int) -> str:
    """e.g. "52.0% of this image's 12,544 inputs fall where ReLU is off (x ≤ 0:
    output 0, gradient 0)": about this image's inputs, never about dead units."""
    return (
        f"{share:.1%} of this image's {count:,} inputs fall where {act.name} is "
        f"{act.region.label} ({act.region.description})"
    )


def _as_float(x: np.ndarray) -> np.ndarray:
    return np.asarray(x, dtype=np.float64)


_ERF = np.frompyfunc(math.erf, 1, 1)


def erf(x: np.ndarray) -> np.ndarray:
    """The error function, exactly as the standard library computes it (numpy has
    none, scipy is not a dependency). Element by element in Python: fine for the
    panel's curves (hundreds of points), slow for millions."""
    x = _as_float(x)
    return _ERF(x).astype(np.float64) if x.ndim else np.float64(math.erf(float(x)))


def _relu() -> Activation:
    return Activation(
        "ReLU",
        "max(0, x)",
        lambda x: np.maximum(_as_float(x), 0.0),
        lambda x: (_as_float(x) > 0).astype(np.float64),
        FlatRegion("off", "x ≤ 0: output 0, gradient 0", ((-np.inf, 0.0),), closed=True),
    )


def _leaky_relu(negative_slope: float = 0.01) -> Activation:
    def function(x):
        x = _as_float(x)
        return np.where(x > 0, x, negative_slope * x)

    return Activation(
        "LeakyReLU",
        f"x if x > 0 else {negative_slope:g}·x",
        function,
        lambda x: np.where(_as_float(x) > 0, 1.0, negative_slope),
        FlatRegion("leaky", f"x < 0: gradient only {negative_slope:g}", ((-np.inf, 0.0),)),
    )


def _elu(alpha: float = 1.0) -> Activation:
    def function(x):
        x = _as_float(x)
        return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0.0)))

    def derivative(x):
        x = _as_float(x)
        return np.where(x > 0, 1.0, alpha * np.exp(np.minimum(x, 0.0)))

    return Activation(
        "ELU",
        f"x if x > 0 else {alpha:g}·(eˣ − 1)",
        function,
        derivative,
        FlatRegion("saturated", "x < −4: gradient < 2 % of α", ((-np.inf, -4.0),)),
    )


def _gelu(approximate: str = "none") -> Activation:
    if approximate == "tanh":

        def function(x):
            x = _as_float(x)
            return 0.5 * x * (1.0 + np.tanh(_SQRT_2_OVER_PI * (x + _GELU_CUBIC * x**3)))

        def derivative(x):
            x = _as_float(x)
            th = np.tanh(_SQRT_2_OVER_PI * (x + _GELU_CUBIC * x**3))
            inner = _SQRT_2_OVER_PI * (1.0 + 3.0 * _GELU_CUBIC * x**2)
            return 0.5 * (1.0 + th) + 0.5 * x * (1.0 - th**2) * inner

        formula = "0.5·x·(1 + tanh(√(2/π)(x + 0.044715x³)))"
    else:

        def function(x):
            x = _as_float(x)
            return 0.5 * x * (1.0 + erf(x / np.sqrt(2.0)))

        def derivative(x):
            x = _as_float(x)
            cdf = 0.5 * (1.0 + erf(x / np.sqrt(2.0)))
            pdf = np.exp(-0.5 * x * x) / np.sqrt(2.0 * np.pi)
            return cdf + x * pdf

        formula = "x·Φ(x)"
    return Activation(
        "GELU",
        formula,
        function,
        derivative,
        FlatRegion("flat", "x < −3: |gradient| < 0.012", ((-np.inf, -3.0),)),
    )


def _sigmoid_values(x: np.ndarray) -> np.ndarray:
    # exp of a non-positive argument only, so large |x| never overflows.
    x = _as_float(x)
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _sigmoid() -> Activation:
    def derivative(x):
        s = _sigmoid_values(x)
        return s * (1.0 - s)

    return Activation(
        "Sigmoid",
        "1 / (1 + e⁻ˣ)",
        _sigmoid_values,
        derivative,
        FlatRegion(
            "saturated",
            "|x| > 4: gradient < 0.018 (at most 0.25)",
            ((-np.inf, -4.0), (4.0, np.inf)),
        ),
    )


def _tanh() -> Activation:
    return Activation(
        "Tanh",
        "tanh(x)",
        lambda x: np.tanh(_as_float(x)),
        lambda x: 1.0 - np.tanh(_as_float(x)) ** 2,
        FlatRegion(
            "saturated",
            "|x| > 2.5: gradient < 0.027 (at most 1)",
            ((-np.inf, -2.5), (2.5, np.inf)),
        ),
    )


def _relu6() -> Activation:
    def derivative(x):
        x = _as_float(x)
        # torch's hardtanh backward: 1 strictly inside (0, 6), 0 at both kinks.
        return ((x > 0) & (x < 6)).astype(np.float64)

    return Activation(
        "ReLU6",
        "min(max(0, x), 6)",
        lambda x: np.clip(_as_float(x), 0.0, 6.0),
        derivative,
        FlatRegion(
            "off or capped",
            "x ≤ 0 or x ≥ 6: gradient exactly 0",
            ((-np.inf, 0.0), (6.0, np.inf)),
            closed=True,
        ),
    )


def _silu() -> Activation:
    def derivative(x):
        s = _sigmoid_values(x)
        return s * (1.0 + _as_float(x) * (1.0 - s))

    return Activation(
        "SiLU",
        "x·σ(x)",
        lambda x: _as_float(x) * _sigmoid_values(x),
        derivative,
        FlatRegion("flat", "x < −6: |gradient| < 0.013", ((-np.inf, -6.0),)),
    )


def _hardswish() -> Activation:
    def function(x):
        x = _as_float(x)
        return x * np.clip(x + 3.0, 0.0, 6.0) / 6.0

    def derivative(x):
        x = _as_float(x)
        # torch's hardswish backward: 0 up to −3, x/3 + 1/2 in (−3, 3), 1 from 3.
        return np.where(x <= -3.0, 0.0, np.where(x < 3.0, x / 3.0 + 0.5, 1.0))

    return Activation(
        "Hardswish",
        "x·min(max(x + 3, 0), 6) / 6",
        function,
        derivative,
        FlatRegion("off", "x ≤ −3: output 0, gradient 0", ((-np.inf, -3.0),), closed=True),
    )


STEP_LESSON = (
    "Step (Heaviside): 0 for x < 0, 1 for x ≥ 0. Its derivative is 0 everywhere except "
    "at x = 0, where it is undefined (drawn as a gap). Backpropagation multiplies by this "
    "derivative, so every weight before a step unit gets gradient 0: gradient descent "
    "never moves them. That is why the perceptron's step gave way to sigmoid and ReLU."
)
IDENTITY_LESSON = (
    "Identity (linear): f(x) = x, derivative 1 everywhere. The gradient passes through "
    "unchanged, but the layer adds nothing: W₂(W₁x + b₁) + b₂ = (W₂W₁)x + (W₂b₁ + b₂), so "
    "a stack of linear layers with identity between them is one linear map, no more "
    "expressive than a single layer (`cnnviz collapse ARCH` computes that map)."
)


def _step() -> Activation:
    def derivative(x):
        x = _as_float(x)
        # Undefined at 0 (a jump): NaN there, so a plot shows a gap, not a value.
        return np.where(x == 0, np.nan, 0.0)

    return Activation(
        "Step",
        "0 if x < 0 else 1",
        lambda x: (_as_float(x) >= 0).astype(np.float64),
        derivative,
        FlatRegion(
            "flat",
            "every x: gradient 0 (undefined at 0), no signal for gradient descent",
            ((-np.inf, np.inf),),
        ),
        STEP_LESSON,
    )


def _identity() -> Activation:
    return Activation(
        "Identity",
        "x",
        lambda x: _as_float(x).copy(),
        lambda x: np.ones_like(_as_float(x)),
        FlatRegion("flat", "nowhere: gradient 1 for every x", ()),
        IDENTITY_LESSON,
    )


_TEACHING_FACTORIES: dict[str, Callable[[], Activation]] = {
    "Step": _step,
    "Identity": _identity,
}

_FACTORIES: dict[str, Callable[..., Activation]] = {
    "ReLU": _relu,
    "LeakyReLU": _leaky_relu,
    "ELU": _elu,
    "GELU": _gelu,
    "Sigmoid": _sigmoid,
    "Tanh": _tanh,
    "ReLU6": _relu6,
    "SiLU": _silu,
    "Hardswish": _hardswish,
}
_LAYER_PARAMS = {"LeakyReLU": ("negative_slope",), "ELU": ("alpha",), "GELU": ("approximate",)}


def activation(name: str, **params) -> Activation:
    """The named element-wise activation with its parameters (torch's names), or a
    teaching curve of ``TEACHING`` (no parameters)."""
    if name in _TEACHING_FACTORIES and not params:
        return _TEACHING_FACTORIES[name]()
    try:
        factory = _FACTORIES[name]
    except KeyError:
        raise ValueError(
            f"{name} is not an element-wise activation "
            f"(choose from {', '.join(COMPARABLE + TEACHING)})"
        ) from None
    return factory(**params)


def activation_for_layer(layer: Layer) -> Activation:
    """The activation a layer of the stack computes, with that layer's parameters."""
    names = _LAYER_PARAMS.get(layer.type, ())
    return activation(layer.type, **{name: layer.get(name) for name in names})


def is_elementwise_activation(layer_type: str) -> bool:
    return layer_type in _FACTORIES


def input_range(inputs: np.ndarray, margin: float = 0.05) -> tuple[float, float]:
    """The span of the real inputs plus a margin, never empty: the x range to draw."""
    inputs = np.asarray(inputs)
    finite = inputs[np.isfinite(inputs)]
    if finite.size == 0:
        return (-1.0, 1.0)
    low, high = float(finite.min()), float(finite.max())
    span = high - low
    if span <= 0:
        half = max(1.0, abs(low) * 0.1)
        return (low - half, high + half)
    return (low - margin * span, high + margin * span)


def histogram(
    inputs: np.ndarray, x_range: tuple[float, float], bins: int = 80
) -> tuple[np.ndarray, np.ndarray]:
    """Counts and bin edges of the finite inputs over `x_range`."""
    inputs = np.asarray(inputs, dtype=np.float32).ravel()
    return np.histogram(inputs[np.isfinite(inputs)], bins=bins, range=x_range)
