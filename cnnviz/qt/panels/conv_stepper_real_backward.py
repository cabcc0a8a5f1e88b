"""A real layer's backward pass on its patch (numpy only, no widgets).

The loss is the one the patch can show exactly: L = Σ ∂L/∂Y · Y over the
selected feature-map cells of the selected filter (∂L/∂Y ones or random there,
zero everywhere else). Then ∂L/∂X on the image cells the patch covers and
∂L/∂W of that filter are exact, and only the patch is read (the stepper's
memory rule). Its first MAX_CHANNELS input channels (of the filter's group) are
stepped; the others are computed the same way. The true ∂L/∂Y of a class score
would need a backward pass through the network on the compute thread, which
this panel does not ask for.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from cnnviz.core.conv_backward import (
    grad_input_walkthrough,
    grad_output,
    grad_weight_walkthrough,
)
from cnnviz.core.conv_steps import INPUT, PADDING, ConvConfig, StepError, Walkthrough
from cnnviz.core.conv_text import describe_layer

MAX_CHANNELS = 3  # input channels stepped (each one a grid of the scene)


def real_note(layer, grad: str) -> str:
    """What the backward steps of a real layer mean, for the panel."""
    row0, col0, rows, cols = layer.region
    return (
        f"Backward on this patch: L = Σ ∂L/∂Y·Y over filter {layer.out_channel}'s cells "
        f"rows {row0}–{row0 + rows - 1}, cols {col0}–{col0 + cols - 1} (∂L/∂Y = {grad} there, "
        f"0 elsewhere); ∂L/∂X and ∂L/∂W are exact for that L. First {MAX_CHANNELS} input "
        "channels of the filter's group stepped."
    )


def _channels(layer) -> list[int]:
    """The input channels stepped: the first of the selected filter's group."""
    config = layer.config
    in_per = config.input.shape[0] // config.groups
    group = layer.out_channel // (config.kernel.shape[0] // config.groups)
    return [group * in_per + k for k in range(min(in_per, MAX_CHANNELS))]


def _small(layer, patch: np.ndarray, channels: list[int]) -> ConvConfig:
    config, o = layer.config, layer.out_channel
    local = [c - channels[0] for c in channels]
    kernel = np.asarray(config.kernel[o : o + 1][:, local], dtype=np.float64)
    return ConvConfig(patch[channels], kernel, stride=config.stride, padding=0,
                      dilation=config.dilation)  # fmt: skip


def real_backward(layer, direction: str, grad: str, seed: int = 0) -> Walkthrough:
    """∂L/∂X ("input") or ∂L/∂W ("weight") of `layer` (a RealLayer) on its patch, in the
    layer's coordinates and channel numbers."""
    if layer.config.padding_mode != "zeros" and any(p for q in layer.config.padding for p in q):
        raise StepError(f"backward mode steps zero padding only, not {layer.config.padding_mode}")
    patch, origin, (rows_in, cols_in) = layer.patch()
    channels = _channels(layer)
    small = _small(layer, patch, channels)
    dy = grad_output(small.output_shape, grad, seed)
    (top, _), (left, _) = layer.config.padding
    shift = (origin[0] - top, origin[1] - left)  # patch cell → image cell
    if direction == "weight":
        walk = grad_weight_walkthrough(small, dy)
        kinds = np.where(rows_in[:, None] & cols_in[None, :], INPUT, PADDING).astype(np.int8)
        return replace(walk, cell_kind=kinds, pad_before=(-shift[0], -shift[1]),
                       names=_renamed(walk.names, layer, channels))  # fmt: skip
    inside_r, inside_c = np.flatnonzero(rows_in), np.flatnonzero(cols_in)
    if not inside_r.size or not inside_c.size:
        raise StepError("the patch reads only padding: move it onto the image")
    region = (int(inside_r[0]), int(inside_c[0]), inside_r.size, inside_c.size)
    walk = grad_input_walkthrough(small, dy, region)
    # Rows and columns become the image's; channels stay the small layer's (its arrays
    # are indexed by them), their names say the real numbers.
    steps = tuple(replace(s, out=(s.out[0], s.out[1] + shift[0], s.out[2] + shift[1]))
                  for s in walk.steps)  # fmt: skip
    return replace(walk, steps=steps,
                   region=(region[0] + shift[0], region[1] + shift[1], *region[2:]),
                   names=_renamed(walk.names, layer, channels))  # fmt: skip


def _renamed(names, layer, channels: list[int]):
    """The small layer's names (filter 0, channels 0…, no padding) saying the real layer,
    filter and channels (the filter's group starts at channels[0], so W's channel index
    is the local one)."""
    config, o, local = layer.config, layer.out_channel, range(len(channels))
    what = names.description.split(" · ")[0]
    real = describe_layer("conv", config.kernel_size, config.stride, config.padding,
                          config.dilation)  # fmt: skip
    names = replace(names, description=f"{what} · {real}")
    if names.spread is not None:  # ∂L/∂X: outputs are X channels, the input is ∂L/∂Y[o]
        return replace(
            names,
            inputs={0: f"∂L/∂Y channel {o}"},
            kernels={(c, 0): f"W[{o}, {c}]\nflipped" for c in local},
            outputs={c: f"∂L/∂X channel {channels[c]}" for c in local},
            values={c: f"∂L/∂X[{channels[c]}" for c in local},
        )
    return replace(
        names,
        inputs={c: f"X channel {channels[c]}" for c in local},
        kernels={(c, c): f"∂L/∂Y\nchannel {o}" for c in local},
        outputs={c: f"∂L/∂W[{o}, {c}]" for c in local},
        values={c: f"∂L/∂W[{o}, {c}" for c in local},
    )
