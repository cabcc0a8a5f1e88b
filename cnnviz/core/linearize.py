"""Why non-linearity, on paper: what in a network is not linear, and the edits
that take it out.

Without its activations a network of convolutions, Linear layers, average
pooling, BatchNorm and Dropout (at evaluation), padding, Flatten, Identity,
upsampling, residual adds and concats computes an affine map x ↦ Wx + b of its
flattened input (compute.collapse builds W and b). What stands in the way is
listed here, each with the reason in one line, and two edits remove it:
every activation taken out (blocks included), and max pooling replaced by
average pooling of the same window. Both are pure functions returning a
TreeEdit, so the editor applies each as one undoable step and hand-set kernels
follow their layer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from cnnviz.core import tree_edits
from cnnviz.core.analysis import analyze
from cnnviz.core.architecture import Architecture, ArchitectureError, Layer
from cnnviz.core.catalogue import CATALOGUE, layer_type

# Layer types that are affine at evaluation (a block is the sum or concat of its
# paths); anything else is not, or not known to be (an imported opaque module).
LINEAR = frozenset({
    "Conv2d", "ConvTranspose2d", "Linear", "Flatten", "Identity", "Dropout", "Dropout2d",
    "AvgPool2d", "AdaptiveAvgPool2d", "ZeroPad2d", "Upsample", "BatchNorm2d",
    "Residual", "Parallel",
})  # fmt: skip
# Why the others are not, each ending with what to do about it.
_MAX_POOL = "it keeps the largest of each window): replace it by {avg} to see the collapse"
_NOT_LINEAR = {
    "MaxPool2d": _MAX_POOL.format(avg="AvgPool2d"),
    "AdaptiveMaxPool2d": _MAX_POOL.format(avg="AdaptiveAvgPool2d"),
    "GroupNorm": "it divides each sample by its own spread): remove it to see the collapse",
    "LocalResponseNorm": "it divides by its neighbours' energy): remove it to see the collapse",
}
_BATCH_STATS = (
    "with track_running_stats off it divides by the batch's own spread, even at "
    "evaluation): turn track_running_stats on to see the collapse"
)
_UNKNOWN = "cnnviz cannot see inside it, so it is not known to be): remove it to see the collapse"
ACTIVATION = "it bends its input): remove every activation to see the collapse"
AVERAGE_OF = {"MaxPool2d": "AvgPool2d", "AdaptiveMaxPool2d": "AdaptiveAvgPool2d"}
# What a max pool's replacement keeps: the window, not the -inf padding's meaning.
_KEPT = ("kernel_size", "stride", "padding", "ceil_mode", "output_size")


@dataclass(frozen=True)
class NonLinear:
    address: str
    type: str
    reason: str  # the rest of the sentence after "… is not linear ("

    @property
    def line(self) -> str:
        return f"{self.type} at layer {self.address} is not linear ({self.reason}"


def is_activation(layer: Layer) -> bool:
    return not layer.is_block and layer.type in CATALOGUE and layer_type(layer.type).is_activation


def non_linear(arch: Architecture) -> list[NonLinear]:
    """Every layer that keeps the network from being one affine map, in pre-order."""
    found = []
    for address, layer in arch.walk():
        reason = _why_not_linear(layer)
        if reason is not None:
            found.append(NonLinear(address, layer.type, reason))
    return found


def _why_not_linear(layer: Layer) -> str | None:
    if is_activation(layer):
        return ACTIVATION
    if layer.type == "BatchNorm2d" and not layer.get("track_running_stats"):
        return _BATCH_STATS
    if layer.type in LINEAR:
        return None
    return _NOT_LINEAR.get(layer.type, _UNKNOWN)


def activation_addresses(arch: Architecture) -> list[str]:
    return [address for address, layer in arch.walk() if is_activation(layer)]


def max_pool_addresses(arch: Architecture) -> list[str]:
    return [address for address, layer in arch.walk() if layer.type in AVERAGE_OF]


def remove_activations(arch: Architecture) -> tree_edits.TreeEdit:
    """Every activation layer removed, at every depth; ArchitectureError if none."""
    addresses = activation_addresses(arch)
    if not addresses:
        raise ArchitectureError("there is no activation left to remove")
    return tree_edits.remove(arch, addresses)


def average_pool(layer: Layer, address: str) -> Layer:
    """The average pooling over the same windows as the max pool `layer`."""
    if layer.params.get("dilation", 1) not in (1, (1, 1), [1, 1]):
        raise ArchitectureError(
            f"{layer.type} at layer {address} is dilated: average pooling has no dilation, "
            "so it has no same-window replacement"
        )
    kept = {k: v for k, v in layer.params.items() if k in _KEPT}
    return Layer.make(AVERAGE_OF[layer.type], **kept)


def replace_max_pools(arch: Architecture) -> tree_edits.TreeEdit:
    """Every max pool replaced by the average pool of its windows (same output
    shape, so no other layer changes); ArchitectureError if there is none."""
    addresses = max_pool_addresses(arch)
    if not addresses:
        raise ArchitectureError("there is no max pooling to replace")
    edited = arch
    for address in addresses:
        layer = tree_edits.layer_at(edited, address)
        edited = tree_edits.replace(edited, address, average_pool(layer, address)).architecture
    identity = {address: address for address, _ in arch.walk()}
    return tree_edits.TreeEdit(edited, tuple(addresses), identity)


# W has out × in entries: a VGG at 224×224 (150 528 inputs, 1000 outputs) would
# take 150 M numbers, over half a gigabyte even in float32; refused in one line.
MAX_INPUTS = 100_352
MAX_OUTPUTS = 4_096
MAX_ENTRIES = 100_000_000


def map_size(arch: Architecture) -> tuple[int, int]:
    """(outputs, inputs): the shape of W, from the analysis; ArchitectureError if invalid."""
    analysis = analyze(arch)
    if analysis.first_error is not None:
        raise ArchitectureError(analysis.first_error.error)
    return math.prod(analysis.output_shape), math.prod(arch.input.as_tuple())


def check_collapsible(arch: Architecture) -> tuple[int, int]:
    """(outputs, inputs) of W, or ArchitectureError with one line: the first layer
    that is not linear, or a map too big to build."""
    found = non_linear(arch)
    if found:
        more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
        raise ArchitectureError(found[0].line + more)
    outputs, inputs = map_size(arch)
    if inputs > MAX_INPUTS or outputs > MAX_OUTPUTS or inputs * outputs > MAX_ENTRIES:
        raise ArchitectureError(
            f"W would be {outputs}×{inputs} ({outputs * inputs / 1e6:.0f} M numbers): "
            f"cnnviz builds it up to {MAX_INPUTS} inputs, {MAX_OUTPUTS} outputs and "
            f"{MAX_ENTRIES // 1_000_000} M numbers; shrink the input"
        )
    return outputs, inputs
