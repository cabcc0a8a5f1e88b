"""Does an analysis agree with torch? Cheap enough to ask after every edit.

The same question as tests/core/test_against_torch.py, for stacks of any
size: torch runs the stack on the meta device (shapes and parameters without
memory or arithmetic: VGG-16 at 224×224 in well under a second), and on the
CPU with real tensors when that is cheap. The meta device does not check
Softmax's `dim`, so there a Softmax also runs on a CPU tensor of one element
per axis, which fails exactly when the real one would; nor a ConvTranspose2d's
output_padding and output size, so there one channel of it runs on the CPU
with the input just large enough to reach those checks (`_transposed_probe`).
"""

from __future__ import annotations

import math
import warnings
from typing import NamedTuple

import torch

from cnnviz.core.analysis import Analysis
from tests.core.test_against_torch import core_is_deliberately_stricter
from tests.core.test_graphs_against_torch import check_addresses, compared_addresses
from tests.torch_graph import REJECTIONS, build, leaf_module
from tests.torch_modules import torch_module

# Above these, torch runs on the meta device only.
CPU_ACTIVATIONS = 200_000
CPU_PARAMETERS = 500_000
CPU_MACS = 20_000_000


class Trace(NamedTuple):
    # (output shape without batch, weights, biases) of each layer torch ran.
    results: list[tuple[tuple[int, ...], int, int]]
    failed_at: int | None
    # Parameters of every module built, the failing one included (it is built
    # before it fails: a Conv2d after a Flatten takes thousands of in_channels).
    parameters: int


def _transposed_probe(module: torch.nn.ConvTranspose2d, x: torch.Tensor) -> None:
    """The CPU's checks of a ConvTranspose2d (output_padding below stride or
    dilation, an output of at least 1) on one channel. Each side is the real one
    or, if smaller, the least that gives an output (the size grows with the
    input), so it fails exactly when the real input would."""
    sides = []
    for axis, size in enumerate(x.shape[2:]):
        k, s, p = module.kernel_size[axis], module.stride[axis], module.padding[axis]
        d, op = module.dilation[axis], module.output_padding[axis]
        least = 1 + max(0, -(-(2 * p - d * (k - 1) - op) // s))
        sides.append(min(size, least))
    torch.nn.functional.conv_transpose2d(
        torch.zeros(1, 1, *sides, device="cpu"),
        torch.zeros(1, 1, *module.kernel_size, device="cpu"),
        None,
        module.stride,
        module.padding,
        module.output_padding,
        1,
        module.dilation,
    )


def run_torch(input_shape: tuple[int, ...], layers, device: str) -> Trace:
    """What torch does with the stack on `device`, until it fails."""
    results, parameters = [], 0
    with torch.device(device), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        x = torch.zeros(1, *input_shape)
        for index, layer in enumerate(layers):
            try:
                module = torch_module(layer, x).eval()
                parameters += sum(p.numel() for p in module.parameters())
                with torch.no_grad():
                    if device == "meta" and layer.type == "Softmax":
                        module(torch.zeros((1,) * x.dim(), device="cpu"))
                    if device == "meta" and layer.type == "ConvTranspose2d" and x.dim() == 4:
                        _transposed_probe(module, x)
                    x = module(x)
            except (RuntimeError, ValueError, IndexError):
                return Trace(results, index, parameters)
            named = dict(module.named_parameters())
            weights, bias = named.get("weight"), named.get("bias")
            results.append(
                (
                    tuple(x.shape[1:]),
                    0 if weights is None else weights.numel(),
                    0 if bias is None else bias.numel(),
                )
            )
    return Trace(results, None, parameters)


def _cheap_on_cpu(analysis: Analysis, meta: Trace) -> bool:
    activations = sum(math.prod(shape) for shape, _, _ in meta.results)
    return (
        activations <= CPU_ACTIVATIONS
        and meta.parameters <= CPU_PARAMETERS
        and analysis.total_macs <= CPU_MACS
    )


def torch_trace(analysis: Analysis) -> tuple[Trace, str]:
    """What torch does with the analysed stack, and on which device it was asked."""
    layers = [info.layer for info in analysis.layers]
    meta = run_torch(analysis.input_shape, layers, "meta")
    if _cheap_on_cpu(analysis, meta):
        return run_torch(analysis.input_shape, layers, "cpu"), "cpu"
    return meta, "meta"


def assert_agrees_with_torch(analysis: Analysis) -> str:
    """Shapes and parameter counts per layer as torch has them, and the first invalid
    layer where torch fails; returns the device torch ran on."""
    (results, torch_failed_at, _), device = torch_trace(analysis)
    infos = analysis.layers
    first_error = analysis.first_error
    if first_error is not None and core_is_deliberately_stricter(first_error):
        # Only what comes before the stricter layer is compared.
        infos = infos[: first_error.index]
        results = results[: first_error.index]
        if torch_failed_at is not None and torch_failed_at >= first_error.index:
            torch_failed_at = None
        first_error = None
    core_failed_at = first_error.index if first_error else None
    stack = [info.layer for info in infos]
    assert core_failed_at == torch_failed_at, (
        f"on {device}: the analysis fails at {core_failed_at}"
        f" ({first_error and first_error.error}), torch at {torch_failed_at};"
        f" input {analysis.input_shape}, layers {stack}"
    )
    for info, (shape, weights, biases) in zip(infos, results, strict=False):
        assert (info.output_shape, info.weights, info.biases) == (shape, weights, biases), (
            f"on {device}, layer {info.index} {info.layer}: analysis"
            f" {(info.output_shape, info.weights, info.biases)}, torch {(shape, weights, biases)}"
        )
    return device


def _graph_cheap_on_cpu(analysis: Analysis, meta) -> bool:
    activations = sum(math.prod(y.shape) for y in meta.outputs.values())
    return (
        activations <= CPU_ACTIVATIONS
        and analysis.total_params <= CPU_PARAMETERS
        and analysis.total_macs <= CPU_MACS
    )


def _fails_on_cpu(info) -> bool:
    """Whether torch refuses this layer for its input with a real tensor: the meta
    device checks shapes only, not e.g. a Softmax's dim or a ConvTranspose2d's
    output_padding against its stride."""
    x = torch.zeros(1, *info.input_shape)
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            leaf_module(info.layer.to_json(), x)(x)
    except REJECTIONS:
        return True
    return False


def assert_graph_agrees_with_torch(analysis: Analysis, arch) -> str:
    """The same question for a network with blocks: torch builds it from its file
    (tests/torch_graph.py, independent of cnnviz) on the meta device, and on the
    CPU when cheap; shapes, parameters and merges are compared address by
    address and torch must fail where the analysis does. Returns the device."""
    graph = arch.to_json()
    with torch.device("meta"):
        built = build(graph, torch.zeros(1, *analysis.input_shape))
    device = "meta"
    if _graph_cheap_on_cpu(analysis, built):
        built, device = build(graph, torch.randn(1, *analysis.input_shape)), "cpu"
    first = analysis.first_error
    if (
        device == "meta"
        and first is not None
        and not first.layer.is_block
        and first.address in built.outputs
    ):
        # Torch on the meta device ran the layer the core refuses: ask the CPU.
        assert core_is_deliberately_stricter(first) or _fails_on_cpu(first), (
            f"the core refuses what torch accepts: {first.error}"
        )
        order = list(built.outputs)
        addresses = order[: order.index(first.address)]
    else:
        addresses = compared_addresses(analysis, built)
    check_addresses(analysis, built, addresses)
    return device
