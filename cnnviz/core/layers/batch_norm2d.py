"""BatchNorm2d: normalises each channel, then scales and shifts it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cnnviz.core.layer_spec import BOOL, FLOAT, LayerType, MemoryRule, Param
from cnnviz.core.layers._common import (
    ELEMENT_WISE,
    FLOAT_BYTES,
    WHOLE_MAP,
    FieldRule,
    LayerCost,
    Shape,
    ShapeError,
    channels_as,
    prod,
    same_shape_lines,
    spatial,
)

if TYPE_CHECKING:
    from cnnviz.core.architecture import Layer


def cost(layer: Layer, shape: Shape) -> LayerCost:
    c, h, w = spatial(shape)
    # Torch normalises with the batch's own statistics in training, and always
    # without running statistics; it then needs N·H·W > 1 values per channel
    # ("Expected more than 1 value per channel when training"). Here N is 1
    # (one image). With running statistics, eval mode takes any map size.
    if not layer.get("track_running_stats") and h * w == 1:
        raise ShapeError(
            f"with track_running_stats false it normalises each channel by its own "
            f"statistics, which needs more than 1 value, but its input is {h}x{w} "
            "for one image; set track_running_stats true or use a larger map"
        )
    affine = layer.get("affine")
    return LayerCost(shape, c if affine else 0, c if affine else 0, prod(shape))


def param_line(layer: Layer, shape: Shape) -> str:
    if not layer.get("affine"):
        return "params = 0 (affine off); running mean and variance are buffers"
    return f"params = 2·{shape[0]} = {2 * shape[0]:,} (γ and β per channel)"


def buffers(layer: Layer, shape: Shape) -> int:
    """running_mean and running_var, float32 per channel, and the int64
    num_batches_tracked; none without running statistics."""
    return 2 * shape[0] * FLOAT_BYTES + 8 if layer.get("track_running_stats") else 0


def field_rule(layer: Layer, shape: Shape) -> FieldRule:
    """With running statistics (eval mode, as cnnviz runs) each value is
    normalised on its own; without them torch normalises with the mean and
    variance of the input map itself, even in eval mode, so every output
    depends on every position of its channel, as in GroupNorm."""
    return ELEMENT_WISE if layer.get("track_running_stats") else WHOLE_MAP


TYPE = LayerType(
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
    cost=cost,
    size_lines=same_shape_lines,
    param_line=param_line,
    inferred=channels_as("num_features"),
    field_rule=FieldRule("by parameters", pick=field_rule),
    memory=MemoryRule(buffers=buffers),
)
