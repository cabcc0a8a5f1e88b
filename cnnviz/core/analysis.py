"""The whole stack on paper: shapes, parameters, MACs and receptive field per layer.

`analyze` never raises for a bad stack: the first layer that cannot take its
input carries an error naming the layer, the parameter and the reason, and the
layers after it are marked not computable.
"""

from __future__ import annotations

from dataclasses import dataclass

from cnnviz.core.architecture import Architecture, Layer
from cnnviz.core.receptive_field import ReceptiveField, step
from cnnviz.core.shapes import LayerCost, Shape, ShapeError, layer_cost


@dataclass(frozen=True)
class LayerInfo:
    index: int
    layer: Layer
    input_shape: Shape | None
    output_shape: Shape | None = None
    weights: int = 0
    biases: int = 0
    macs: int = 0
    receptive_field: ReceptiveField | None = None
    # The reason this layer is invalid, naming layer, parameter and cause.
    error: str | None = None

    @property
    def params(self) -> int:
        return self.weights + self.biases

    @property
    def computable(self) -> bool:
        """False for the invalid layer and every layer after it."""
        return self.output_shape is not None

    @property
    def status(self) -> str:
        if self.error:
            return "invalid"
        return "ok" if self.computable else "not computable"


@dataclass(frozen=True)
class Analysis:
    input_shape: Shape
    layers: tuple[LayerInfo, ...]

    @property
    def valid(self) -> bool:
        return all(info.computable for info in self.layers)

    @property
    def first_error(self) -> LayerInfo | None:
        return next((info for info in self.layers if info.error), None)

    @property
    def total_params(self) -> int:
        return sum(info.params for info in self.layers)

    @property
    def total_macs(self) -> int:
        return sum(info.macs for info in self.layers)

    @property
    def output_shape(self) -> Shape | None:
        return self.layers[-1].output_shape if self.layers else self.input_shape

    def not_computed_reason(self, index: int) -> str:
        """Why layer `index` has no output, for a panel's hint: the layer's own
        error when it is the invalid one; the first invalid layer when that is
        above it; else no result has arrived for it yet."""
        info = self.layers[index]
        if info.error:
            return f"this layer is invalid; {info.error.split(': ', 1)[-1]}"
        first = self.first_error
        if first is not None and first.index < index:
            return f"layer {first.index} {first.layer.type} above it is invalid; fix that one first"
        return "no forward result for it yet"

    def receptive_field_at(self, index: int) -> ReceptiveField:
        """Field of layer `index`'s outputs; index -1 is the input itself."""
        if index < 0:
            return ReceptiveField()
        rf = self.layers[index].receptive_field
        if rf is None:
            raise ValueError(f"layer {index} is not computable")
        return rf


def analyze(arch: Architecture) -> Analysis:
    shape: Shape | None = arch.input.as_tuple()
    rf: ReceptiveField | None = ReceptiveField()
    infos = []
    for index, layer in enumerate(arch.layers):
        if shape is None:
            infos.append(LayerInfo(index, layer, None))
            continue
        try:
            cost: LayerCost = layer_cost(layer, shape)
        except ShapeError as exc:
            infos.append(LayerInfo(index, layer, shape, error=f"layer {index} {layer.type}: {exc}"))
            shape = rf = None
            continue
        rf = step(rf, layer, shape, cost.output_shape)
        infos.append(
            LayerInfo(
                index, layer, shape, cost.output_shape, cost.weights, cost.biases, cost.macs, rf
            )
        )
        shape = cost.output_shape
    return Analysis(arch.input.as_tuple(), tuple(infos))
