"""Hooked: one row of the read-only view of a model torch.fx cannot trace (issue 18).

Such a model has no graph, so it is shown as its modules ran: each row is one
call of one module (compute/importers/hooked_view.py records them with forward
hooks) and holds what the hook saw, its output shape and its parameter count.
The rows are not a chain: a row's output shape is the recorded one whatever
the row above gives, and compute runs the live model rather than the rows
(compute/runner_hooked.py). Nothing about a row can be edited; only an import
makes one, so it is never in the palette. Its MACs are not counted and its
receptive field is taken as the whole input: cnnviz does not know what it
computes. The architecture's ``metadata["hooked"]`` names the model.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cnnviz.core.layer_spec import INT, SHAPE, TEXT, LayerType, Param
from cnnviz.core.layers._common import WHOLE_MAP, LayerCost, Shape, nothing_inferred, shape_text

if TYPE_CHECKING:
    from cnnviz.core.architecture import Layer

METADATA_KEY = "hooked"
# What a request that needs a network cnnviz built (training, gradients, saving
# weights) gets from a hooked view.
READ_ONLY = (
    "a read-only view of a model cnnviz could not trace shows only what its modules "
    "give; it cannot be trained, explained or edited here"
)
MAX_TEXT = 300
MAX_SIDE = 1 << 30  # a recorded size: a flattened output may be long
MAX_PARAMS = 1 << 40


def call_name(module: str, call: int) -> str:
    """ "features.0", or "blocks.1 (call 2)" for a module's later calls."""
    return module if call == 1 else f"{module} (call {call})"


def cost(layer: Layer, shape: Shape) -> LayerCost:
    # Whatever comes in: the rows are calls in the order they ran, not a chain.
    return LayerCost(tuple(layer.get("out_shape")), layer.get("params"), 0, 0)


def size_lines(layer: Layer, shape: Shape) -> list[str]:
    return [
        f"output shape = {shape_text(layer.get('out_shape'))} (recorded by a hook when "
        "the model ran on a test input)",
        "MACs: not counted (the module ran as the model's own code)",
    ]


def param_line(layer: Layer, shape: Shape) -> str:
    if layer.get("call") > 1:
        return f"params = 0 here: call {layer.get('call')} of {layer.get('module')} shares call 1's"
    return f"params = {layer.get('params'):,} (the module's own, counted by torch)"


def _model_name(metadata) -> str:
    path, _, name = metadata[METADATA_KEY]["source"].rpartition(":")
    return f"{path.replace(chr(92), '/').rsplit('/', 1)[-1]}:{name}"


def edit_refusal(metadata) -> str:
    """The one line an edit of a hooked view gets."""
    return (
        f"a read-only view of {_model_name(metadata)} cannot be edited: change the model in "
        "its Python file and import it again"
    )


def save_refusal(metadata) -> str:
    """The one line Save and Save As of a hooked view get."""
    return (
        f"a read-only view of {_model_name(metadata)} is not a cnnviz network; it is opened "
        "from its Python file"
    )


def is_hooked_metadata(metadata) -> bool:
    entry = metadata.get(METADATA_KEY)
    return isinstance(entry, dict) and isinstance(entry.get("source"), str)


def check_metadata(entry) -> None:
    """ValueError in one line unless ``entry`` is a hooked view's metadata."""
    if not isinstance(entry, dict) or not isinstance(entry.get("source"), str):
        raise ValueError('"hooked" must be an object with the model\'s "source" (FILE.py:NAME)')
    for key in ("message", "model_weights"):
        if key in entry and not isinstance(entry[key], str):
            raise ValueError(f'"hooked": "{key}" must be text')
    if not isinstance(entry.get("not_run", []), list):
        raise ValueError('"hooked": "not_run" must be a list of modules')
    total = entry.get("total_params", 0)
    if not isinstance(total, int) or isinstance(total, bool) or total < 0:
        raise ValueError('"hooked": "total_params" must be a whole number')


TYPE = LayerType(
    "Hooked",
    "shape",
    "◌",
    "one module of a model cnnviz could not trace, as it ran.",
    "A model whose layers depend on the values it computes (an `if` on its data) "
    "cannot be traced into a graph, so cnnviz shows it read-only, module by module: "
    "each row is one call of one module, with the output shape and the parameter "
    "count a hook recorded when the model ran on a test input, and its feature maps "
    "are the module's own output for your image. The rows are not a chain, and "
    "nothing in this view can be edited: change the model in its Python file.",
    (
        Param("label", TEXT, "", 0, MAX_TEXT, hidden=True, key=True, help="Module and class."),
        Param("module", TEXT, "", 0, MAX_TEXT, hidden=True, help="Its path in the model."),
        Param("kind", TEXT, "", 0, MAX_TEXT, hidden=True, help="Its class name."),
        Param("call", INT, 1, 1, None, hidden=True, help="Which call of the module."),
        Param("out_shape", SHAPE, None, 1, MAX_SIDE, required=True, hidden=True),
        Param("params", INT, 0, 0, MAX_PARAMS, hidden=True, help="Its parameter count."),
    ),
    cost=cost,
    size_lines=size_lines,
    param_line=param_line,
    inferred=nothing_inferred,
    field_rule=WHOLE_MAP,  # unknown: every output may read every input value
)
