"""The constructor arguments of a layer made by ``torch.jit.trace`` (issue 18).

A scripted layer keeps its constructor's arguments as attributes
(``stride``); a traced one keeps only its weights and the one aten call its
forward made, with the arguments as constants (``aten::_convolution(x, w, b,
[2, 2], [1, 1], ...)``). Those constants, and sizes read from the weights'
shapes, are what the layer was built with. Nothing here is trusted blindly:
torchscript.py rebuilds the layer and keeps it only when it computes what
the traced one did.
"""

from __future__ import annotations

from typing import Any

# Layer type → (the aten call its forward makes, {argument: position in that call}).
CALLS: dict[str, tuple[str, dict[str, int]]] = {
    "Conv2d": ("aten::_convolution", {"stride": 3, "padding": 4, "dilation": 5, "groups": 8}),
    "BatchNorm2d": ("aten::batch_norm", {"momentum": 6, "eps": 7}),
    "MaxPool2d": (
        "aten::max_pool2d",
        {"kernel_size": 1, "stride": 2, "padding": 3, "dilation": 4, "ceil_mode": 5},
    ),
    "AvgPool2d": (
        "aten::avg_pool2d",
        {
            "kernel_size": 1,
            "stride": 2,
            "padding": 3,
            "ceil_mode": 4,
            "count_include_pad": 5,
            "divisor_override": 6,
        },
    ),
    "Flatten": ("aten::flatten", {"start_dim": 1, "end_dim": 2}),
    "Dropout": ("aten::dropout", {"p": 1}),
    "LeakyReLU": ("aten::leaky_relu", {"negative_slope": 1}),
    "Linear": ("aten::linear", {}),
}


def _constant(value) -> Any:
    """A call argument's constant (a list of constants as a tuple); KeyError if not one."""
    node = value.node()
    if node.kind() == "prim::Constant":
        return value.toIValue()
    if node.kind() == "prim::ListConstruct":
        return tuple(_constant(item) for item in node.inputs())
    raise KeyError(value.debugName())


def _call_constants(traced, call: str, positions: dict[str, int]) -> dict[str, Any]:
    calls = [node for node in traced.graph.nodes() if node.kind() == call]
    if len(calls) != 1:
        return {}
    inputs = list(calls[0].inputs())
    try:
        return {name: _constant(inputs[at]) for name, at in positions.items()}
    except (KeyError, IndexError, RuntimeError):  # a value computed at run time
        return {}


def _sizes(traced, kind: str, groups) -> dict[str, Any]:
    """What torch infers from the weights' shapes."""
    state = traced.state_dict()
    weight = state.get("weight")
    if kind == "Conv2d" and weight is not None and isinstance(groups, int):
        return {
            "in_channels": weight.shape[1] * groups,
            "out_channels": weight.shape[0],
            "kernel_size": tuple(weight.shape[2:]),
        }
    if kind == "Linear" and weight is not None:
        return {"in_features": weight.shape[1], "out_features": weight.shape[0]}
    if kind == "BatchNorm2d":
        stats = state.get("running_mean", weight)
        if stats is None:
            return {}
        return {
            "num_features": stats.shape[0],
            "affine": weight is not None,
            "track_running_stats": "running_mean" in state,
        }
    return {}


def traced_arguments(traced, kind: str) -> dict[str, Any]:
    """The constructor arguments a traced layer of ``kind`` was built with, as far as
    its call and weights tell them ({} for a kind not in CALLS)."""
    if kind not in CALLS or not hasattr(traced, "graph"):
        return {}
    call, positions = CALLS[kind]
    found = _call_constants(traced, call, positions)
    return {**found, **_sizes(traced, kind, found.get("groups"))}
