"""The whole stack on paper: shapes, parameters, MACs and receptive field per layer.

`analyze` never raises for a bad stack: the first layer that cannot take its
input carries an error naming the layer, the parameter and the reason, and the
layers after it are marked not computable.

Blocks (blocks.py) are walked depth first: ``Analysis.layers`` holds every
layer in pre-order, a block before the layers inside it, each with its
``address`` ("3", "3.body.0", "5.branches.1.2": torch's module names) and its
position in that list as ``index``. A network without blocks has one entry per
layer with ``index`` = its position in the stack, as before blocks existed.
A block's own entry has the merged output, the merge's MACs and no weights of
its own (the layers inside count theirs), so totals are plain sums.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from cnnviz.core import blocks
from cnnviz.core.architecture import Architecture, Layer
from cnnviz.core.merge_fields import union
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
    # Where it sits: torch's module name ("3", "3.body.0"), the index of the
    # block holding it (None at the top level), its depth, and the position
    # in the stack of the top-level entry it belongs to.
    address: str = ""
    parent: int | None = None
    depth: int = 0
    top: int = 0

    @property
    def name(self) -> str:
        """How the layer is named to a person: "layer 3" or "layer 3.body.0"."""
        return f"layer {self.address}"

    @property
    def path(self) -> str | None:
        """The path of the block this layer is in ("body", "branches.1"), or None."""
        if self.parent is None:
            return None
        parts = self.address.split(".")
        return ".".join(parts[-3:-1]) if parts[-3] == "branches" else parts[-2]

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
        top = self.top_level
        return top[-1].output_shape if top else self.input_shape

    @property
    def top_level(self) -> tuple[LayerInfo, ...]:
        """One entry per item of the stack (a block's merged output for a block)."""
        return tuple(info for info in self.layers if info.parent is None)

    @functools.cached_property
    def _by_address(self) -> dict[str, LayerInfo]:
        # Built once per analysis: panels, the stack's rows and the quiz look
        # layers up by address one after another.
        return {info.address: info for info in self.layers}

    def at(self, address: str) -> LayerInfo:
        """The layer at a torch module name such as "3.body.0"; KeyError if none."""
        try:
            return self._by_address[address]
        except KeyError:
            raise KeyError(f"no layer {address}") from None

    def children(self, index: int) -> tuple[LayerInfo, ...]:
        """The layers directly inside block `index`, path by path."""
        return tuple(info for info in self.layers if info.parent == index)

    def params_within(self, index: int) -> int:
        """The parameters of a layer, or of a block and everything inside it."""
        prefix = self.layers[index].address + "."
        return self.layers[index].params + sum(
            info.params for info in self.layers if info.address.startswith(prefix)
        )

    def not_computed_reason(self, index: int) -> str:
        """Why layer `index` has no output, for a panel's hint: the layer's own
        error when it is the invalid one; the first invalid layer when that is
        above it; else no result has arrived for it yet."""
        info = self.layers[index]
        if info.error:
            return f"this layer is invalid; {info.error.split(': ', 1)[-1]}"
        first = self.first_error
        if first is not None and first.index < index:
            return f"{first.name} {first.layer.type} above it is invalid; fix that one first"
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
    walker = _Walker()
    shape: Shape | None = arch.input.as_tuple()
    rf: ReceptiveField | None = ReceptiveField()
    for top, layer in enumerate(arch.layers):
        shape, rf = walker.layer(layer, str(top), shape, rf, None, 0, top)
    return Analysis(arch.input.as_tuple(), tuple(walker.infos))


class _Walker:
    """Collects every layer's LayerInfo in pre-order while walking the tree."""

    def __init__(self) -> None:
        self.infos: list[LayerInfo] = []

    def layer(self, layer: Layer, address: str, shape, rf, parent, depth, top):
        """Append `layer` (and, for a block, everything inside it); return the
        shape and field after it, None when it cannot be computed."""
        where = dict(address=address, parent=parent, depth=depth, top=top)
        index = len(self.infos)
        if shape is None:
            self.infos.append(LayerInfo(index, layer, None, **where))
            if layer.is_block:
                self._paths(layer, address, None, None, index, depth, top)
            return None, None
        if layer.is_block:
            return self._block(layer, shape, rf, index, where)
        try:
            cost: LayerCost = layer_cost(layer, shape)
        except ShapeError as exc:
            error = f"layer {address} {layer.type}: {exc}"
            self.infos.append(LayerInfo(index, layer, shape, error=error, **where))
            return None, None
        rf = step(rf, layer, shape, cost.output_shape)
        self.infos.append(
            LayerInfo(
                index,
                layer,
                shape,
                cost.output_shape,
                cost.weights,
                cost.biases,
                cost.macs,
                rf,
                **where,
            )
        )
        return cost.output_shape, rf

    def _paths(self, layer, address, shape, rf, index, depth, top) -> dict:
        """Walk each path of block `index` from (shape, rf); name → (shape, rf)."""
        ends = {}
        for name, path in zip(layer.path_names, layer.paths, strict=True):
            end_shape, end_rf = shape, rf
            for i, inner in enumerate(path):
                end_shape, end_rf = self.layer(
                    inner, f"{address}.{name}.{i}", end_shape, end_rf, index, depth + 1, top
                )
            ends[name] = (end_shape, end_rf)
        return ends

    def _block(self, layer: Layer, shape, rf, index: int, where: dict):
        self.infos.append(LayerInfo(index, layer, shape, **where))  # completed below
        ends = self._paths(layer, where["address"], shape, rf, index, where["depth"], where["top"])
        if any(end_shape is None for end_shape, _ in ends.values()):
            return None, None  # a layer inside is invalid and says so
        outputs = {name: end_shape for name, (end_shape, _) in ends.items()}
        try:
            out = blocks.merged_shape(layer.type, layer.params, outputs)
        except ValueError as exc:
            error = f"layer {where['address']} {layer.type}: {exc}"
            self.infos[index] = LayerInfo(index, layer, shape, error=error, **where)
            return None, None
        macs = blocks.merge_macs(layer.type, layer.params, len(ends), out)
        field = union([end_rf for _, end_rf in ends.values()], out[1:] if len(out) == 3 else None)
        self.infos[index] = LayerInfo(index, layer, shape, out, 0, 0, macs, field, **where)
        return out, field
