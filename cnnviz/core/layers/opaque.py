"""Opaque: a module of an imported model that cnnviz cannot express (issue 18).

It stays in the network rather than being dropped: it holds the original
module as a TorchScript program (``torch.jit.save`` bytes in base64, which
compute loads with ``torch.jit.load``: no Python from the file runs) and what
the import measured on it: its input and output shapes and its parameter
count. It takes exactly the input it was measured on; what it computes inside
is not known to cnnviz, so its MACs are not counted and its receptive field is
taken as the whole input (every output may read every input value). It never
appears in the palette (only an import makes one) and its parameters are not
edited.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cnnviz.core.layer_spec import INT, SHAPE, TEXT, LayerType, Param
from cnnviz.core.layers._common import (
    WHOLE_MAP,
    LayerCost,
    Shape,
    ShapeError,
    nothing_inferred,
    shape_text,
)

if TYPE_CHECKING:
    from cnnviz.core.architecture import Layer

# A program of up to 30 MB of TorchScript archive (weights included) in base64;
# the architecture file's own bound (architecture.MAX_FILE_BYTES) leaves room for it.
MAX_PROGRAM_CHARS = 40 * 1024 * 1024
MAX_LABEL_CHARS = 200
MAX_SIDE = 1 << 20  # a measured size; a vector may be long (C·H·W of a big map)
MAX_PARAMS = 1 << 40


def cost(layer: Layer, shape: Shape) -> LayerCost:
    measured = tuple(layer.get("in_shape"))
    if tuple(shape) != measured:
        raise ShapeError(
            f"{layer.get('label')} was measured on {shape_text(measured)} and runs the "
            f"original module; it cannot take {shape_text(shape)}"
        )
    # MACs 0: unknown, not zero (param_line and size_lines say so).
    return LayerCost(tuple(layer.get("out_shape")), layer.get("params"), 0, 0)


def size_lines(layer: Layer, shape: Shape) -> list[str]:
    source = layer.get("source")
    return [
        f"runs the original {layer.get('label')}" + (f", from {source}" if source else ""),
        f"output shape = {shape_text(layer.get('out_shape'))} (measured on the original "
        f"module at import; it takes only {shape_text(layer.get('in_shape'))})",
        "MACs: not counted (opaque)",
    ]


def param_line(layer: Layer, shape: Shape) -> str:
    return f"params = {layer.get('params'):,} (the original module's, counted by torch)"


def _text(name: str, maximum: int, help: str, *, key: bool = False) -> Param:
    return Param(name, TEXT, "", 0, maximum, hidden=True, key=key, help=help)


TYPE = LayerType(
    "Opaque",
    "shape",
    "▣",
    "an imported module cnnviz cannot express, run as it was.",
    "An opaque layer is a part of an imported model that cnnviz has no layer type "
    "for (a custom module, an operation such as sigmoid(x) * x). Rather than drop it, "
    "cnnviz keeps the original module, compiled to TorchScript at import, and runs it: "
    "its feature maps are the original's. cnnviz knows only what the import measured: "
    "the shapes it takes and gives and its parameter count. It takes only the input "
    "size it was measured on, its MACs are not counted and its receptive field is "
    "taken as the whole input. Its parameters cannot be edited.",
    (
        _text("label", MAX_LABEL_CHARS, "The original's class or operation.", key=True),
        _text("source", MAX_LABEL_CHARS, "Where it came from: a module path or file:line."),
        _text("program", MAX_PROGRAM_CHARS, "The original module as TorchScript, base64."),
        Param("in_shape", SHAPE, None, 1, MAX_SIDE, required=True, hidden=True),
        Param("out_shape", SHAPE, None, 1, MAX_SIDE, required=True, hidden=True),
        Param("params", INT, 0, 0, MAX_PARAMS, hidden=True, help="Its parameter count."),
    ),
    cost=cost,
    size_lines=size_lines,
    param_line=param_line,
    inferred=nothing_inferred,
    # Conservative: nothing says which inputs an output reads, so all of them.
    field_rule=WHOLE_MAP,
    program="program",
)
