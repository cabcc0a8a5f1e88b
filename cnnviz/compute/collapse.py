"""An activation-free network as one affine map x ↦ Wx + b (why non-linearity).

Once nothing non-linear is left (core.linearize says what is and refuses the
rest), the network f is affine in its flattened input: b = f(0) and column i
of W is f(eᵢ) − b; equally, row k is the gradient of output k, the same at
every input. Whichever needs fewer passes runs, batched, in float64 so W
reproduces the network to rounding, with the batch sized so the activations
stay within a budget. Nothing here assumes a
particular layer type: convolutions, strides, padding, average pools,
BatchNorm and Dropout at evaluation, residual adds and concats all come out of
the same forwards.

``linear_twin`` makes that network from one with activations (and, if asked,
max pools): the same modules and weights, the activations taken out by the
core's tree edit, max pools replaced by average pools of the same windows.
"""

from __future__ import annotations

import copy
import math

import numpy as np
import torch
from torch import nn

from cnnviz.compute.blocks import assemble
from cnnviz.compute.model import build_layer
from cnnviz.core import linearize, tree_edits
from cnnviz.core.analysis import analyze
from cnnviz.core.architecture import Architecture, ArchitectureError
from cnnviz.core.linear_collapse import AffineMap, MapRequest

# Activations of one batch of basis vectors, at the widest layer, in bytes.
BATCH_BUDGET = 64 * 2**20
# Above this many entries W is kept in float32 (100 M float64 would be 800 MB).
FLOAT64_ENTRIES = 10_000_000


def linear_twin(
    model: nn.Module, arch: Architecture, average_pools: bool = False
) -> tuple[nn.Sequential, Architecture]:
    """(model, architecture) of `arch` without its activations (and max pools, if
    `average_pools`), holding copies of `model`'s modules for every layer kept.
    ArchitectureError when something non-linear is still left."""
    left = [
        n
        for n in linearize.non_linear(arch)
        if n.reason != linearize.ACTIVATION
        and not (average_pools and n.type in linearize.AVERAGE_OF)
    ]
    if left:  # named at its address in `arch`, before the activations go
        raise ArchitectureError(left[0].line)
    edited, address_map = arch, {a: a for a, _ in arch.walk()}
    if linearize.activation_addresses(arch):
        edit = linearize.remove_activations(arch)
        edited, address_map = edit.architecture, edit.address_map
    if average_pools and linearize.max_pool_addresses(edited):
        edited = linearize.replace_max_pools(edited).architecture  # addresses unchanged
    linearize.check_collapsible(edited)
    old_of = {new: old for old, new in address_map.items()}
    analysis = analyze(edited)
    modules = {}
    for info in analysis.layers:
        if info.layer.is_block:
            continue
        old = old_of[info.address]
        if tree_edits.layer_at(arch, old) == info.layer:
            modules[info.index] = copy.deepcopy(model.get_submodule(old))
        else:  # a max pool made an average pool
            modules[info.index] = build_layer(info.layer, info.input_shape)
    return assemble(analysis.layers, modules).eval(), edited


def _widest(arch: Architecture, inputs: int) -> int:
    """Values per sample of the largest layer output (or the input)."""
    sizes = [math.prod(i.output_shape) for i in analyze(arch).layers if i.output_shape]
    return max([inputs, *sizes])


def _float64_copy(model: nn.Module) -> nn.Module:
    """A float64 copy of `model` on the CPU in eval mode; the caller's model is left as it is."""
    return copy.deepcopy(model).to("cpu").double().eval()


def affine_map(
    model: nn.Module, arch: Architecture, method: str = "auto"
) -> tuple[np.ndarray, np.ndarray]:
    """(W (out, in), b (out,)) of the activation-free `model` built for `arch`.
    ArchitectureError (one line) when `arch` is not linear or W is too big.

    `method` "columns": column i = f(eᵢ) − b, one forward per input value;
    "rows": row k = the gradient of output k (the map is affine, so its gradient
    is the same everywhere), one backward per output value; "auto": whichever
    needs fewer passes (a 10-class net on 3×64×64 images: 10 rows, not 12 288 columns).
    """
    outputs, inputs = linearize.check_collapsible(arch)
    model = _float64_copy(model)
    shape = arch.input.as_tuple()
    dtype = np.float64 if outputs * inputs <= FLOAT64_ENTRIES else np.float32
    with torch.no_grad():
        bias = model(torch.zeros(1, *shape, dtype=torch.float64)).reshape(-1)
    if method == "auto":
        method = "rows" if outputs < inputs else "columns"
    fill = _by_rows if method == "rows" else _by_columns
    weight = np.empty((outputs, inputs), dtype=dtype)
    fill(model, arch, weight, bias)
    return weight, bias.numpy()


def _by_columns(model: nn.Module, arch: Architecture, weight: np.ndarray, bias) -> None:
    inputs = weight.shape[1]
    shape = arch.input.as_tuple()
    batch = max(1, min(inputs, BATCH_BUDGET // (8 * _widest(arch, inputs))))
    with torch.no_grad():
        for start in range(0, inputs, batch):
            n = min(batch, inputs - start)
            basis = torch.zeros(n, inputs, dtype=torch.float64)
            basis[torch.arange(n), start + torch.arange(n)] = 1.0
            columns = model(basis.reshape(n, *shape)).reshape(n, -1) - bias
            weight[:, start : start + n] = columns.T.numpy()


def _by_rows(model: nn.Module, arch: Architecture, weight: np.ndarray, _bias) -> None:
    """Sample k of a batch asks for output start + k: at evaluation no sample sees
    another, so one backward gives each its own row."""
    outputs, inputs = weight.shape
    shape = arch.input.as_tuple()
    kept = sum(math.prod(i.output_shape) for i in analyze(arch).layers if i.output_shape)
    batch = max(1, min(outputs, BATCH_BUDGET // (8 * 2 * (kept + inputs))))
    for start in range(0, outputs, batch):
        n = min(batch, outputs - start)
        x = torch.zeros(n, *shape, dtype=torch.float64, requires_grad=True)
        y = model(x).reshape(n, -1)
        y[torch.arange(n), start + torch.arange(n)].sum().backward()
        weight[start : start + n] = x.grad.reshape(n, -1).numpy()


def network_output(model: nn.Module, x: np.ndarray) -> np.ndarray:
    """The model's outputs (N, out) on inputs (N, C, H, W), in float64."""
    model = _float64_copy(model)
    with torch.no_grad():
        return model(torch.from_numpy(np.asarray(x, dtype=np.float64))).flatten(1).numpy()


def compute_map(request: MapRequest, model: nn.Module) -> AffineMap:
    """W and b of `model` (built for the request's stack), checked on its image."""
    weight, bias = affine_map(model, request.architecture)
    shape = request.architecture.input.as_tuple()
    found = AffineMap(request.request_id, weight, bias, shape)
    if request.image is None:
        return found
    image = np.asarray(request.image, dtype=np.float64)
    if image.shape != shape:
        raise ValueError(f"the image is {image.shape}, the network takes {shape}")
    network = network_output(model, image[None])[0]
    mapped = weight @ image.reshape(-1) + bias
    return AffineMap(request.request_id, weight, bias, shape, network, mapped)
