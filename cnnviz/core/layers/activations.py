"""The element-wise activation functions: ReLU, LeakyReLU, ELU, GELU, Sigmoid,
Tanh, ReLU6, SiLU, Hardswish.

One module for all of them because they share every rule: the output has the
input's shape, there are no weights, nothing is inferred from the input, and
each output value reads only its own input value. What differs is only a
declaration (name, glyph, texts, parameters), a few lines each; their curves
and derivatives for the Activation panel are in ``cnnviz/core/activations.py``.
Softmax is not element-wise (it mixes a whole axis): softmax.py.
"""

from __future__ import annotations

from cnnviz.core.layer_spec import CHOICE, FLOAT, LayerType, Param
from cnnviz.core.layers._common import (
    ELEMENT_WISE,
    INPLACE,
    no_params_line,
    nothing_inferred,
    same_shape,
    same_shape_lines,
)


def _activation(name, glyph, summary, explanation, params=()) -> LayerType:
    return LayerType(
        name,
        "activation",
        glyph,
        summary,
        explanation,
        tuple(params),
        cost=same_shape,
        size_lines=same_shape_lines,
        param_line=no_params_line,
        inferred=nothing_inferred,
        field_rule=ELEMENT_WISE,
    )


TYPES = (
    _activation(
        "ReLU",
        "⌐",
        "max(0, x): passes positives, zeroes negatives.",
        "ReLU keeps positive values and zeroes negative ones. Its gradient is 1 for "
        "positive inputs, so it does not shrink gradients layer after layer as "
        "saturated sigmoid and tanh do; with good initialisation, normalisation and "
        "residual connections it helps deep networks train. A negative input just "
        "switches the unit off for that input (sparsity). A unit whose input is "
        "negative for every input it gets never activates and stops learning: a dead ReLU.",
        [INPLACE],
    ),
    _activation(
        "LeakyReLU",
        "⌐",
        "x for positives, a small slope·x for negatives.",
        "Leaky ReLU lets a small gradient (negative_slope, 0.01 by default) through "
        "for negative inputs, so units cannot die the way plain ReLU units can.",
        [
            Param(
                "negative_slope",
                FLOAT,
                0.01,
                -100.0,
                100.0,
                key=True,
                help="Slope for negative inputs.",
            ),
            INPLACE,
        ],
    ),
    _activation(
        "ELU",
        "⌒",
        "x for positives, alpha·(eˣ - 1) for negatives.",
        "ELU is smooth and saturates to -alpha for very negative inputs, pushing "
        "mean activations towards zero, which can speed up learning.",
        [Param("alpha", FLOAT, 1.0, 0.0, 100.0, key=True, help="Saturation value."), INPLACE],
    ),
    _activation(
        "GELU",
        "∫",
        "x·Φ(x): a smooth ReLU used in transformers.",
        "GELU weights each input by the probability that a standard normal is "
        "below it. Smooth everywhere, slightly negative for small negative inputs.",
        [
            Param(
                "approximate",
                CHOICE,
                "none",
                choices=("none", "tanh"),
                help="Exact erf form or the tanh approximation.",
            )
        ],
    ),
    _activation(
        "Sigmoid",
        "∫",
        "1 / (1 + e⁻ˣ): squashes into (0, 1).",
        "Sigmoid squashes any value into (0, 1). Its derivative is at most 0.25 and "
        "nearly 0 for |x| > 4 (saturation), so gradients vanish when many sigmoid "
        "layers are stacked: the classic vanishing-gradient problem.",
    ),
    _activation(
        "Tanh",
        "∫",
        "squashes into (-1, 1), zero-centred.",
        "Tanh is a zero-centred sigmoid with outputs in (-1, 1) and derivative at "
        "most 1; it still saturates for |x| > 2.5, so gradients vanish in deep stacks.",
    ),
    _activation(
        "ReLU6",
        "⌐",
        "min(max(0, x), 6): a ReLU capped at 6.",
        "ReLU6 is a ReLU whose output stops growing at 6: negatives give 0, values "
        "above 6 give 6, and the gradient is 1 only in between. MobileNet uses it "
        "because a bounded activation keeps values in a small range, which survives "
        "low-precision (8-bit) arithmetic on phones. Like ReLU it can switch a unit "
        "off; it also stops learning from inputs above 6.",
        [INPLACE],
    ),
    _activation(
        "SiLU",
        "∫",
        "x·σ(x) (swish): a smooth ReLU that dips below zero.",
        "SiLU (also called swish) multiplies the input by its own sigmoid: about x for "
        "large positives, about 0 for large negatives, and smooth in between with a "
        "small dip (minimum about −0.28 at x ≈ −1.28). Its gradient is never exactly "
        "0 for finite inputs, so units do not die. EfficientNet and many modern "
        "networks use it in place of ReLU.",
        [INPLACE],
    ),
    _activation(
        "Hardswish",
        "⌐",
        "x·ReLU6(x + 3)/6: a cheap, piecewise swish.",
        "Hardswish approximates SiLU with pieces that need no exponential: 0 for "
        "x ≤ −3, x for x ≥ 3 and x·(x + 3)/6 in between. MobileNetV3 uses it because "
        "it is as good as swish and much cheaper on phones. Below −3 the output and "
        "the gradient are exactly 0, as for a ReLU that is off.",
        [INPLACE],
    ),
)
