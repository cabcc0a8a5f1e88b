"""The layer catalogue: every layer type a person can put in the stack.

For each type: its constructor parameters with torch's names and defaults, the
range each may take, the palette group and glyph, and a paragraph a learner can
read in a tooltip. Sizes torch infers from the previous layer (``in_channels``,
``in_features``, ``num_features``) are not parameters here: they are never
stored, always inferred (DESIGN.md, architecture file contract).
"""

from __future__ import annotations

from typing import Any

from cnnviz.core.layer_spec import (
    BOOL,
    CHOICE,
    FLOAT,
    GROUPS,
    INT,
    OPT_INT,
    OPT_PAIR,
    PADDING,
    PAIR,
    LayerType,
    Param,
)

__all__ = [
    "BOOL",
    "CATALOGUE",
    "CHOICE",
    "FLOAT",
    "GROUPS",
    "INT",
    "OPT_INT",
    "OPT_PAIR",
    "PADDING",
    "PAIR",
    "LayerType",
    "Param",
    "by_group",
    "layer_type",
]

_MAX_CHANNELS = 8192
_MAX_SIZE = 1024


def _pair(name: str, default: Any, minimum: int, help: str, *, required=False, key=False):
    return Param(name, PAIR, default, minimum, _MAX_SIZE, required=required, help=help, key=key)


_KERNEL_HELP = "Height and width of the window (one number for a square window)."
_STRIDE_HELP = "How far the window moves between outputs."
_PAD_HELP = "Rows/columns added around the input before the window slides."
_DIL_HELP = "Spacing between kernel taps: d-1 holes between them."
_CEIL_HELP = "Round the output size up instead of down, keeping a last partial window."
_INPLACE = Param("inplace", BOOL, False, hidden=True, help="Overwrite the input (no effect here).")

_CONV = LayerType(
    "Conv2d",
    "convolution",
    "▦",
    "slides learned filters over the input; each filter makes one output channel.",
    "A convolution slides each of its out_channels filters (in_channels/groups × "
    "kh × kw weights, plus one bias if bias is on) over the input, multiplying and "
    "summing at every position: C_out · C_in/groups · kH · kW weights + C_out biases. "
    "The same weights are used at every position (parameter sharing), so a conv "
    "layer has far fewer parameters than a dense layer of the same output size. "
    "Output size per axis: floor((W + 2P - D(K-1) - 1) / S) + 1.",
    (
        Param(
            "out_channels",
            INT,
            None,
            1,
            _MAX_CHANNELS,
            required=True,
            key=True,
            help="Number of filters, i.e. output channels.",
        ),
        _pair("kernel_size", None, 1, _KERNEL_HELP, required=True, key=True),
        _pair("stride", 1, 1, _STRIDE_HELP, key=True),
        Param(
            "padding",
            PADDING,
            0,
            0,
            _MAX_SIZE,
            choices=("same", "valid"),
            key=True,
            help=_PAD_HELP + " 'same' keeps the size (stride 1 only); 'valid' is 0.",
        ),
        _pair("dilation", 1, 1, _DIL_HELP, key=True),
        Param(
            "groups",
            INT,
            1,
            1,
            _MAX_CHANNELS,
            help="Split channels into groups convolved separately; must divide "
            "in and out channels. groups = in_channels is a depthwise conv.",
        ),
        Param("bias", BOOL, True, help="Add a learned bias to each output channel."),
        Param(
            "padding_mode",
            CHOICE,
            "zeros",
            choices=("zeros", "reflect", "replicate", "circular"),
            help="What the padding cells hold: zeros, a mirror of the edge, the "
            "edge repeated, or the opposite edge (wrap-around).",
        ),
    ),
    needs_spatial=True,
)

# Pooling windows: the stride defaults to the kernel size (non-overlapping).
_POOL_KERNEL = _pair("kernel_size", None, 1, _KERNEL_HELP, required=True, key=True)
_POOL_STRIDE = Param(
    "stride",
    OPT_PAIR,
    None,
    1,
    _MAX_SIZE,
    key=True,
    help=_STRIDE_HELP + " Empty means equal to kernel_size.",
)

_MAXPOOL = LayerType(
    "MaxPool2d",
    "pooling",
    "⊞",
    "keeps the largest value in each window.",
    "Max pooling slides a window (no weights) and keeps only the largest value "
    "in it: the strongest response survives, its exact position is forgotten, "
    "and the map shrinks (2×2 with stride 2 halves height and width). It has no "
    "parameters; the gradient flows only through the winning cell.",
    (
        _POOL_KERNEL,
        _POOL_STRIDE,
        _pair("padding", 0, 0, _PAD_HELP + " At most half the kernel; pads with -inf.", key=True),
        _pair("dilation", 1, 1, _DIL_HELP),
        Param("ceil_mode", BOOL, False, help=_CEIL_HELP),
    ),
    needs_spatial=True,
)

_AVGPOOL = LayerType(
    "AvgPool2d",
    "pooling",
    "▤",
    "replaces each window by its mean.",
    "Average pooling slides a window and outputs the mean of the values in it. "
    "It smooths rather than selects: every cell of the window contributes and "
    "receives an equal share of the gradient. LeNet-5's subsampling was close (a 2×2 "
    "sum times a learned weight, plus a bias, then a sigmoid); modern networks mostly "
    "use max pooling inside and global average pooling at the end.",
    (
        _POOL_KERNEL,
        _POOL_STRIDE,
        _pair("padding", 0, 0, _PAD_HELP + " At most half the kernel; pads with zeros.", key=True),
        Param("ceil_mode", BOOL, False, help=_CEIL_HELP),
        Param(
            "count_include_pad", BOOL, True, help="Count padding zeros in the divisor of the mean."
        ),
    ),
    needs_spatial=True,
)

_ADAPTIVE = LayerType(
    "AdaptiveAvgPool2d",
    "pooling",
    "▣",
    "averages into a fixed output size, whatever the input size.",
    "Adaptive average pooling picks its windows so that the output has exactly "
    "output_size (h, w), whatever the input size. With output 1×1 it is global "
    "average pooling: one number per channel. The windows start at ⌊i·in/out⌋ and "
    "end at ⌈(i+1)·in/out⌉, so they differ in size and overlap when out does not "
    "divide in. torchvision's AlexNet and VGG add it (6×6, 7×7) so their classifiers "
    "take any input size; the papers have no adaptive pooling.",
    (_pair("output_size", None, 1, "Output height and width.", required=True, key=True),),
    needs_spatial=True,
)

_BATCHNORM = LayerType(
    "BatchNorm2d",
    "normalization",
    "≋",
    "normalises each channel to zero mean and unit variance, then scales and shifts.",
    "Batch normalisation subtracts each channel's mean and divides by its standard "
    "deviation, then applies a learned scale (gamma) and shift (beta). In training "
    "the statistics come from the current batch and running averages are updated; "
    "in eval mode the running averages are used. It makes deep networks train "
    "faster and less sensitive to initialisation. 2 parameters per channel.",
    (
        Param("eps", FLOAT, 1e-5, 1e-12, 1.0, help="Added to the variance for stability."),
        Param("momentum", FLOAT, 0.1, 0.0, 1.0, help="Update rate of the running statistics."),
        Param("affine", BOOL, True, help="Learn a scale and shift per channel."),
        Param("track_running_stats", BOOL, True, help="Keep running mean/variance for eval mode."),
    ),
    needs_spatial=True,
)

_LRN = LayerType(
    "LocalResponseNorm",
    "normalization",
    "≈",
    "divides each value by the activity of neighbouring channels (AlexNet).",
    "Local response normalisation divides each activation by a power of the sum "
    "of squares over `size` neighbouring channels at the same position: "
    "b = a / (k + alpha/n · Σ a²)^beta. Strongly active channels inhibit their "
    "neighbours (lateral inhibition). AlexNet used it; batch norm replaced it.",
    (
        Param(
            "size",
            INT,
            None,
            1,
            1024,
            required=True,
            key=True,
            help="Number of neighbouring channels summed over.",
        ),
        Param("alpha", FLOAT, 1e-4, 0.0, 10.0, help="Scale of the sum of squares."),
        Param("beta", FLOAT, 0.75, 0.0, 10.0, help="Exponent."),
        Param("k", FLOAT, 1.0, 0.0, 100.0, help="Additive constant."),
    ),
    needs_spatial=True,
)

_DROPOUT = LayerType(
    "Dropout",
    "regularization",
    "⁘",
    "in training, zeroes random values with probability p and scales the rest by 1/(1-p).",
    "Dropout randomly zeroes each value with probability p during training and "
    "multiplies the survivors by 1/(1-p) so the expected sum is unchanged. In eval "
    "mode it does nothing. It stops units from relying on each other "
    "(co-adaptation) and acts like averaging many thinned networks.",
    (Param("p", FLOAT, 0.5, 0.0, 1.0, key=True, help="Probability of zeroing a value."), _INPLACE),
)

_DROPOUT2D = LayerType(
    "Dropout2d",
    "regularization",
    "⁙",
    "in training, zeroes whole channels with probability p.",
    "Spatial dropout zeroes entire feature maps (channels) at random in training, "
    "because neighbouring pixels in a map are strongly correlated and dropping "
    "single values barely regularises conv layers. Identity in eval mode.",
    (
        Param("p", FLOAT, 0.5, 0.0, 1.0, key=True, help="Probability of zeroing a channel."),
        _INPLACE,
    ),
    needs_spatial=True,
)

_FLATTEN = LayerType(
    "Flatten",
    "shape",
    "☰",
    "unrolls C×H×W into one vector of C·H·W numbers.",
    "Flatten reshapes the feature maps into a single vector so dense (Linear) "
    "layers can follow. It has no parameters and changes no values; spatial "
    "structure is lost from here on.",
    (
        Param("start_dim", INT, 1, 1, 1, hidden=True, help="First dim to flatten (fixed)."),
        Param("end_dim", INT, -1, -1, -1, hidden=True, help="Last dim to flatten (fixed)."),
    ),
)

_LINEAR = LayerType(
    "Linear",
    "dense",
    "⊶",
    "every input connected to every output: y = Wx + b.",
    "A dense (fully connected) layer multiplies its input vector by a weight "
    "matrix and adds a bias: in_features × out_features weights. Without "
    "parameter sharing it is expensive: a Linear from 64×56×56 to 64×56×56 would "
    "need 40 billion weights where a 3×3 conv needs 36,928. Applied to the last "
    "dimension of its input; put a Flatten before it to use all features.",
    (
        Param(
            "out_features",
            INT,
            None,
            1,
            1_000_000,
            required=True,
            key=True,
            help="Number of outputs.",
        ),
        Param("bias", BOOL, True, help="Add a learned bias to each output."),
    ),
)


def _activation(name, glyph, summary, explanation, params=()):
    return LayerType(name, "activation", glyph, summary, explanation, tuple(params))


_ACTIVATIONS = (
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
        [_INPLACE],
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
            _INPLACE,
        ],
    ),
    _activation(
        "ELU",
        "⌒",
        "x for positives, alpha·(eˣ - 1) for negatives.",
        "ELU is smooth and saturates to -alpha for very negative inputs, pushing "
        "mean activations towards zero, which can speed up learning.",
        [Param("alpha", FLOAT, 1.0, 0.0, 100.0, key=True, help="Saturation value."), _INPLACE],
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
        "Softmax",
        "σ",
        "turns scores into probabilities that sum to 1.",
        "Softmax exponentiates each score and divides by the sum, giving positive "
        "values that sum to 1 along `dim`: class probabilities. Usually last. "
        "dim counts the batch as dim 0, so dim 1 is the channels or features; "
        "empty means torch's implicit choice, which is dim 1 here.",
        [Param("dim", OPT_INT, None, -4, 3, help="Dimension summed to 1 (batch is 0).")],
    ),
)

CATALOGUE: dict[str, LayerType] = {
    t.name: t
    for t in (
        _CONV,
        _MAXPOOL,
        _AVGPOOL,
        _ADAPTIVE,
        _BATCHNORM,
        _LRN,
        _DROPOUT,
        _DROPOUT2D,
        _FLATTEN,
        _LINEAR,
        *_ACTIVATIONS,
    )
}


def layer_type(name: str) -> LayerType:
    """The catalogue entry for a torch class name, or KeyError naming the choices."""
    from cnnviz.core.blocks import BLOCK_TYPES  # blocks are types too (blocks.py)

    try:
        return CATALOGUE[name] if name in CATALOGUE else BLOCK_TYPES[name]
    except KeyError:
        known = ", ".join([*CATALOGUE, *BLOCK_TYPES])
        raise KeyError(f"unknown layer type {name!r} (known: {known})") from None


def by_group() -> dict[str, list[LayerType]]:
    """The catalogue in palette order: group → layer types."""
    groups: dict[str, list[LayerType]] = {g: [] for g in GROUPS}
    for t in CATALOGUE.values():
        groups[t.group].append(t)
    return groups
