"""Random nested networks (residual and parallel blocks) against torch.

Hypothesis draws architecture files (tests/graph_strategies.py), valid and
invalid; each is built as an independent torch model straight from its JSON
(tests/torch_graph.py, never cnnviz's compute) and the core's analysis must
agree with it at every address: output shapes, parameters per layer and in
total, the MACs of each merge, and where torch rejects the graph the core
rejects it at the same layer. The receptive field of the output is checked
against autograd.

CNNVIZ_GRAPH_EXAMPLES=2000 asks for more examples than CI runs.
"""

from __future__ import annotations

import os

import pytest
import torch
from hypothesis import HealthCheck, assume, event, example, given, settings

from cnnviz.core.analysis import Analysis, LayerInfo, analyze
from cnnviz.core.architecture import from_json
from cnnviz.core.blocks import merge_kind
from tests.core.test_against_torch import core_is_deliberately_stricter
from tests.core.test_receptive_field import gradient_box
from tests.graph_strategies import graphs
from tests.torch_graph import Built, build, layer_addresses

EXAMPLES = int(os.environ.get("CNNVIZ_GRAPH_EXAMPLES", "150"))
graph_settings = settings(
    max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Tiny tensors: a second thread only waits for the first (3 ms a graph on
    one thread, 30 ms on two busy cores)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def add_torch_broadcasts(info: LayerInfo, built: Built) -> bool:
    """An add of paths with unequal shapes that torch broadcasts (a 1×1 map plus
    a 4×4 one, a vector plus maps): the core refuses it, as a block in a real
    network that did this would be a mistake, not a design."""
    if not info.layer.is_block or merge_kind(info.layer.type, info.layer.params) != "add":
        return False
    shapes = {tuple(y.shape) for y in built.path_outputs[info.address]}
    return len(shapes) > 1


def core_is_stricter(info: LayerInfo, built: Built) -> bool:
    """The rules where the core rejects on purpose what torch accepts."""
    return core_is_deliberately_stricter(info) or add_torch_broadcasts(info, built)


def compared_addresses(analysis: Analysis, built: Built) -> list[str]:
    """Check where the core and torch reject the graph; return the addresses
    both computed, in the order torch computed them."""
    first = analysis.first_error
    order = list(built.outputs)
    if first is not None and first.address in built.outputs:
        assert core_is_stricter(first, built), f"the core rejects what torch accepts: {first.error}"
        return order[: order.index(first.address)]
    core_failed_at = first.address if first else None
    assert core_failed_at == built.failed_at, (
        f"the core fails at {core_failed_at} ({first and first.error}),"
        f" torch at {built.failed_at} ({built.reason})"
    )
    if first is not None:
        assert first.error.startswith(f"layer {first.address} {first.layer.type}: "), first.error
    return order


def own_counts(module: torch.nn.Module) -> tuple[int, int]:
    """(weights, biases) of one layer: every parameter but the bias, and the bias."""
    named = dict(module.named_parameters(recurse=False))
    bias = named.pop("bias", None)
    return sum(p.numel() for p in named.values()), 0 if bias is None else bias.numel()


def check_addresses(analysis: Analysis, built: Built, addresses: list[str]) -> None:
    modules = dict(built.model.named_modules()) if built.model is not None else None
    for address in addresses:
        info, y = analysis.at(address), built.outputs[address]
        assert info.output_shape == tuple(y.shape[1:]), (address, info.output_shape, y.shape)
        if info.layer.is_block:
            extra_paths = len(info.layer.paths) - 1
            add = merge_kind(info.layer.type, info.layer.params) == "add"
            assert info.macs == (extra_paths * y.numel() if add else 0), address
            assert info.params == 0, address
        if modules is None:
            continue
        module = modules[address]
        if info.layer.is_block:
            within = sum(p.numel() for p in module.parameters())
            assert analysis.params_within(info.index) == within, address
        else:
            assert (info.weights, info.biases) == own_counts(module), address


def check_model(analysis: Analysis, built: Built) -> None:
    """The assembled model: its module names are the core's addresses, and a
    forward with hooks by name gives the shapes the core has."""
    model = built.model
    assert layer_addresses(model) == [info.address for info in analysis.layers]
    assert analysis.total_params == sum(p.numel() for p in model.parameters())
    shapes = {}
    for name in layer_addresses(model):
        model.get_submodule(name).register_forward_hook(
            lambda _m, _i, out, name=name: shapes.__setitem__(name, tuple(out.shape[1:]))
        )
    with torch.no_grad():
        model(torch.zeros(1, *analysis.input_shape))
    assert shapes == {info.address: info.output_shape for info in analysis.layers}


def check_graph(graph: dict) -> Analysis:
    analysis = analyze(from_json(graph))
    built = build(graph)
    first = analysis.first_error
    event("valid" if first is None else f"invalid: {'merge' if first.layer.is_block else 'layer'}")
    addresses = compared_addresses(analysis, built)
    check_addresses(analysis, built, addresses)
    if built.model is not None and analysis.valid:
        check_model(analysis, built)
    return analysis


RESIDUAL_8 = {
    "format": "cnnviz-architecture",
    "version": 2,
    "input": {"channels": 2, "height": 8, "width": 8},
    "layers": [
        {
            "type": "Residual",
            "body": [{"type": "Conv2d", "out_channels": 3, "kernel_size": 3, "stride": 2}],
            "shortcut": [{"type": "Conv2d", "out_channels": 3, "kernel_size": 1, "stride": 2}],
        }
    ],
}
BROADCAST_ADD = {  # 3×1×1 + 3×4×4: torch broadcasts, the core refuses
    **RESIDUAL_8,
    "layers": [
        {
            "type": "Parallel",
            "merge": "add",
            "branches": [
                [{"type": "Conv2d", "out_channels": 3, "kernel_size": 1}],
                [
                    {"type": "AdaptiveAvgPool2d", "output_size": 1},
                    {"type": "Conv2d", "out_channels": 3, "kernel_size": 1},
                ],
            ],
        }
    ],
}


@graph_settings
@given(graphs())
@example(RESIDUAL_8)
@example(BROADCAST_ADD)
def test_random_graphs_agree_with_torch(graph):
    check_graph(graph)


# Layers whose every input value they read has a non-zero derivative (random
# weights, smooth activations, averages): through them the gradient of one output
# reaches every pixel of its field, so the gradient's box is the field's box.
# (ReLU, max pooling and the like pass it only where they let a value through.)
DENSE = {
    "Conv2d",
    "AvgPool2d",
    "AdaptiveAvgPool2d",
    "BatchNorm2d",
    "Identity",
    "Dropout",
    "Dropout2d",
    "Linear",
    "Flatten",
    "Sigmoid",
    "Tanh",
    "ELU",
    "GELU",
    "SiLU",
    "ZeroPad2d",
    "ConvTranspose2d",
    "GroupNorm",
}


def note_mixing_layers(analysis: Analysis) -> None:
    """Say (in --hypothesis-show-statistics) how often the layers whose field
    depends on their parameters come up: a BatchNorm2d without running
    statistics, a Softmax along the height or width."""
    for info in analysis.layers:
        if info.layer.type == "BatchNorm2d" and not info.layer.get("track_running_stats"):
            event("BatchNorm2d without running statistics (whole map)")
        dim = info.layer.get("dim") if info.layer.type == "Softmax" else None
        if dim is not None and len(info.input_shape) == 3 and dim % 4 in (2, 3):
            event("Softmax along the height or width")


def dense(analysis: Analysis) -> bool:
    def passes_every_gradient(layer) -> bool:
        # ELU with alpha 0 is a ReLU: nothing flows back through its negative
        # side (nor, in float32, with a denormal alpha such as 5e-324).
        return layer.type in DENSE and not (layer.type == "ELU" and layer.get("alpha") < 1e-6)

    return all(info.layer.is_block or passes_every_gradient(info.layer) for info in analysis.layers)


class AllChannels(torch.nn.Module):
    """The model's output summed over channels: a field belongs to a position
    (a concat's channels come from branches that see differently)."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x):
        return self.model(x).sum(1, keepdim=True)


def _within(inner, outer) -> bool:
    return (
        inner[0] >= outer[0]
        and inner[1] >= outer[1]
        and inner[2] <= outer[2]
        and inner[3] <= outer[3]
    )


def inner_gradient_boxes(model, input_shape, positions: dict) -> dict:
    """For each address → (row, col): the box of input pixels whose gradient of
    that layer's output there (all channels) is non-zero; None where none is
    (gradient_box's rule, for a layer inside the network)."""
    x = torch.ones(1, *input_shape, requires_grad=True)
    outputs = {}
    hooks = [
        model.get_submodule(address).register_forward_hook(
            lambda _m, _i, out, address=address: outputs.__setitem__(address, out)
        )
        for address in positions
    ]
    model(x)
    for hook in hooks:
        hook.remove()
    boxes = {}
    for address, (row, col) in positions.items():
        (grad,) = torch.autograd.grad(outputs[address][0, :, row, col].sum(), x, retain_graph=True)
        touched = grad[0].abs().sum(0).nonzero()
        if len(touched) == 0:
            boxes[address] = None
            continue
        (top, left), (bottom, right) = touched.min(0).values, touched.max(0).values
        boxes[address] = (int(top), int(left), int(bottom) + 1, int(right) + 1)
    return boxes


def check_field(info: LayerInfo, row: int, col: int, seen, input_hw, is_dense: bool) -> None:
    field = info.receptive_field
    box = field.box(row, col, input_hw)
    top, left, bottom, right = field.unclipped_box(row, col)
    inside = top >= 0 and left >= 0 and bottom <= input_hw[0] and right <= input_hw[1]
    where = (info.address, row, col, field)
    if box[2] <= box[0] or box[3] <= box[1]:
        # An empty field: the output reads only padding (a ZeroPad2d that pads
        # one side and crops the other), so no input pixel gets a gradient.
        event("empty field")
        assert seen is None, (seen, box, *where)
    elif is_dense and inside:
        event("field equals the gradient's box")
        assert seen == box, where
    elif seen is not None:
        event("gradient's box within the field")
        assert _within(seen, box), (seen, box, *where)


@settings(
    max_examples=max(EXAMPLES // 2, 1),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(graphs(heads=False))
def test_receptive_fields_are_what_autograd_sees(graph):
    """The gradient of one output value reaches only input pixels inside the
    field's box; through dense layers it reaches the whole box (where the field
    lies inside the input: padding has no pixels). At three positions of the
    output, and the centre of every layer's maps inside the network."""
    analysis = analyze(from_json(graph))
    assume(analysis.valid and len(analysis.output_shape) == 3)
    note_mixing_layers(analysis)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)  # the same weights each time Hypothesis replays a graph
        model = build(graph).model
    with torch.no_grad():
        assume(bool(model(torch.ones(1, *analysis.input_shape)).isfinite().all()))
    is_dense, input_hw = dense(analysis), analysis.input_shape[1:]
    last = analysis.top_level[-1]
    _, out_h, out_w = last.output_shape
    for row, col in {(0, 0), (out_h // 2, out_w // 2), (out_h - 1, out_w - 1)}:
        seen = gradient_box(AllChannels(model), analysis.input_shape, row, col)
        check_field(last, row, col, seen, input_hw, is_dense)
    maps = [info for info in analysis.layers if len(info.output_shape) == 3]
    centres = {
        info.address: (info.output_shape[1] // 2, info.output_shape[2] // 2) for info in maps
    }
    seen = inner_gradient_boxes(model, analysis.input_shape, centres)
    for info in maps:
        check_field(info, *centres[info.address], seen[info.address], input_hw, is_dense)


def test_the_examples_cover_each_verdict():
    """The explicit examples are what they claim: a 3×3 stride-2 body without
    padding makes 3×3 of 8×8, its 1×1 stride-2 shortcut 4×4, and both refuse
    the add; the broadcasting add is refused by the core alone."""
    assert build(RESIDUAL_8).failed_at == "0"
    assert analyze(from_json(RESIDUAL_8)).first_error.address == "0"
    analysis = analyze(from_json(BROADCAST_ADD))
    assert analysis.first_error.address == "0" and build(BROADCAST_ADD).failed_at is None
