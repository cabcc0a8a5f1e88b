"""Parameter sharing, in numbers: a conv layer against a dense layer of the same output.

A Conv2d reuses each filter at every position. A Linear layer that maps the same
input (C_in·H·W values) to the same output (C_out·H_out·W_out values) has one
weight per input–output pair instead, plus one bias per output value (when the
conv has biases: the comparison keeps the bias setting). The properties panel
shows both counts and their ratio; tests/core/test_param_sharing.py checks them
against torch's own modules.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import prod
from typing import TYPE_CHECKING

from cnnviz.core.catalogue import layer_type
from cnnviz.core.layers._common import ShapeError

if TYPE_CHECKING:
    from cnnviz.core.architecture import Layer

SHARING_TYPES = ("Conv2d",)


@dataclass(frozen=True)
class SharingComparison:
    input_shape: tuple[int, int, int]
    output_shape: tuple[int, int, int]
    conv_params: int
    dense_weights: int
    dense_biases: int

    @property
    def dense_params(self) -> int:
        return self.dense_weights + self.dense_biases

    @property
    def ratio(self) -> float:
        """How many times more parameters the dense layer needs."""
        return self.dense_params / self.conv_params


def sharing_comparison(layer: Layer, input_shape) -> SharingComparison | None:
    """The conv's count next to the dense layer's; None for other types or unknown shapes."""
    if layer.type not in SHARING_TYPES or input_shape is None or len(input_shape) != 3:
        return None
    shape = tuple(int(v) for v in input_shape)
    try:
        cost = layer_type(layer.type).cost(layer, shape)
    except ShapeError:
        return None  # the stack shows why; there is no output to compare
    outputs = prod(cost.output_shape)
    return SharingComparison(
        shape,
        tuple(cost.output_shape),
        cost.weights + cost.biases,
        prod(shape) * outputs,
        outputs if cost.biases else 0,
    )


def _times(ratio: float) -> str:
    return f"{ratio:,.0f}×" if ratio >= 100 else f"{ratio:,.1f}×"


def sharing_line(layer: Layer, input_shape) -> str:
    """E.g. "dense layer, same output: (3·32·32)·(16·32·32) + 16,384 = 50,348,032 params,
    112,384× the conv's 448 (parameter sharing)"; empty for other layers."""
    found = sharing_comparison(layer, input_shape)
    if found is None:
        return ""
    into = "·".join(map(str, found.input_shape))
    out = "·".join(map(str, found.output_shape))
    biases = f" + {found.dense_biases:,}" if found.dense_biases else ""
    return (
        f"dense layer, same output: ({into})·({out}){biases} = {found.dense_params:,} params, "
        f"{_times(found.ratio)} the conv's {found.conv_params:,} (parameter sharing)"
    )
