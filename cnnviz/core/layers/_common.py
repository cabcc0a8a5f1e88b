"""What every layer module shares: shapes, costs, errors, receptive-field rules.

Numpy-free and import-light on purpose: the layer modules import only this,
``_windows`` and ``layer_spec``, so the registry (catalogue.py) can load them
before ``architecture``, ``shapes`` or ``receptive_field`` exist (those import
the catalogue). ``shapes`` re-exports ``Shape``, ``ShapeError``, ``LayerCost``
and ``as_pair`` under their old names.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cnnviz.core.layer_spec import BOOL, INT, PAIR, Param

if TYPE_CHECKING:
    from cnnviz.core.architecture import Layer

Shape = tuple[int, ...]

MAX_CHANNELS = 8192
MAX_SIZE = 1024


class ShapeError(ValueError):
    """The layer cannot take this input; the message says which parameter and why."""


@dataclass(frozen=True)
class LayerCost:
    output_shape: Shape
    weights: int = 0
    biases: int = 0
    macs: int = 0


def as_pair(value) -> tuple[int, int]:
    return tuple(value) if isinstance(value, tuple) else (value, value)


def x_text(pair) -> str:
    """A pair as "3x5" (error messages)."""
    return f"{pair[0]}x{pair[1]}"


def pad_text(pair) -> str:
    """A padding pair, as one number when both sides agree."""
    return str(pair[0]) if pair[0] == pair[1] else x_text(pair)


def spatial(shape: Shape) -> tuple[int, int, int]:
    """The (C, H, W) of a map input, or ShapeError for a vector."""
    if len(shape) != 3:
        raise ShapeError(
            f"needs feature maps (C×H×W) but gets a vector of {shape[-1]}; "
            "move it before the Flatten"
        )
    return shape  # type: ignore[return-value]


AXES = ("H", "W")


# --- shared rules -------------------------------------------------------------


def shape_text(shape: Shape) -> str:
    """A shape as people write it: 3×28×28."""
    return "×".join(str(s) for s in shape)


def same_shape(layer: Layer, shape: Shape) -> LayerCost:
    """Shape rule of a layer that changes values, not the shape (no weights)."""
    return LayerCost(shape)


def same_shape_lines(layer: Layer, shape: Shape) -> list[str]:
    return ["output shape = input shape: " + shape_text(shape)]


def no_params_line(layer: Layer, shape: Shape) -> str:
    return "params = 0 (no weights)"


def nothing_inferred(layer: Layer, shape: Shape) -> dict[str, Any]:
    return {}


def channels_as(name: str) -> Callable[[Layer, Shape], dict[str, Any]]:
    """torch's argument `name` is the input's channels (the first axis: C of a
    map, the length of a vector, which torch also reads as channels)."""
    return lambda layer, shape: {name: shape[0]}


def pair_param(name: str, default: Any, minimum: int, help: str, *, required=False, key=False):
    return Param(name, PAIR, default, minimum, MAX_SIZE, required=required, help=help, key=key)


# A convolution's filters, as Conv2d and ConvTranspose2d both take them.
OUT_CHANNELS = Param(
    "out_channels",
    INT,
    None,
    1,
    MAX_CHANNELS,
    required=True,
    key=True,
    help="Number of filters, i.e. output channels.",
)

KERNEL_HELP = "Height and width of the window (one number for a square window)."
STRIDE_HELP = "How far the window moves between outputs."
PAD_HELP = "Rows/columns added around the input before the window slides."
DIL_HELP = "Spacing between kernel taps: d-1 holes between them."
CEIL_HELP = "Round the output size up instead of down, keeping a last partial window."
INPLACE = Param("inplace", BOOL, False, hidden=True, help="Overwrite the input (no effect here).")


def prod(values) -> int:
    return math.prod(values)


# --- memory rules (layer_spec.MemoryRule) ------------------------------------

FLOAT_BYTES = 4  # torch's default float32


def output_bytes(shape: Shape) -> int:
    return prod(shape) * FLOAT_BYTES


def always(layer: Layer, train_mode: bool) -> bool:
    """shares_input of a layer that always hands on its input (Flatten, Identity)."""
    return True


def in_eval_mode(layer: Layer, train_mode: bool) -> bool:
    """shares_input of a layer that does nothing outside training (Dropout)."""
    return not train_mode


# --- receptive-field rules ----------------------------------------------------
# receptive_field.step interprets these; a module picks one. A window is
# (kernel, stride, dilation, padding before) per axis, each an (h, w) pair.

Window = tuple[tuple[int, int], tuple[int, int], tuple[int, int], tuple[int, int]]
# (layer, axis, n_in, n_out) → for each output index the input indices it reads
# (padding included: indices outside 0..n_in-1 read nothing).
Taps = Callable[["Layer", int, int, int], Sequence[Sequence[int]]]


@dataclass(frozen=True)
class FieldRule:
    """How a layer changes which input pixels each output sees.

    kind is one of:
    * "element-wise": each output reads its own position (activations, norms
      with running statistics, dropout, Identity);
    * "window": a sliding window; ``window(layer, in_hw, out_hw)`` gives its
      regular geometry, or None where it has none (uneven adaptive windows),
      and ``taps`` (optional) lists what each output reads for that case and
      for layers with no regular geometry at all (ConvTranspose2d, Upsample);
    * "mixes vector": element-wise on maps, every value of a vector (Softmax);
    * "mixes last axis": on maps each output reads its whole row (Linear),
      on a vector every value;
    * "mixes height": on maps each output reads its whole column (a Softmax
      along dim 2);
    * "whole map": every output reads every position (GroupNorm's statistics);
    * "flatten": lays maps out as a vector, each value keeping its field;
    * "by parameters": one of the others, which ``pick(layer, in_shape)``
      chooses from the layer's parameters (Softmax's dim, BatchNorm2d's
      track_running_stats).
    """

    kind: str
    window: Callable[..., Window | None] | None = None
    taps: Taps | None = None
    pick: Callable[[Layer, Shape], FieldRule] | None = None

    def resolved(self, layer: Layer, in_shape: Shape) -> FieldRule:
        """The rule itself, or the one its ``pick`` chooses for this layer."""
        return self.pick(layer, in_shape) if self.pick is not None else self


ELEMENT_WISE = FieldRule("element-wise")
MIXES_VECTOR = FieldRule("mixes vector")
MIXES_LAST_AXIS = FieldRule("mixes last axis")
MIXES_HEIGHT = FieldRule("mixes height")
WHOLE_MAP = FieldRule("whole map")
FLATTENS = FieldRule("flatten")
FIELD_KINDS = (
    "element-wise",
    "window",
    "mixes vector",
    "mixes last axis",
    "mixes height",
    "whole map",
    "flatten",
    "by parameters",
)


def window_taps(window: Window, axis: int, n_out: int) -> list[range]:
    """What each output of a regular window reads along `axis`."""
    kernel, stride, dilation, pad = (value[axis] for value in window)
    span = dilation * (kernel - 1) + 1
    return [range(o * stride - pad, o * stride - pad + span, dilation) for o in range(n_out)]
