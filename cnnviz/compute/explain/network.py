"""The network as attribution methods run it: a differentiable forward along the
model's Plan, the class scores before softmax, and the target class.

The forward follows ``compile_steps`` (a block's paths, then its merge), the
same order and modules as ``model(x)``, but it is ours: a method that changes
how a layer behaves on the way back (guided backprop's ReLU) passes its own
call for that layer type instead of hooking or swapping the user's module, and
Grad-CAM starts the graph at its layer's output (``run(x, layer=...)``: the
layers before it run without autograd). Nothing here touches the model's
modules, hooks, parameters or gradients.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from cnnviz.compute.blocks import compile_steps
from cnnviz.compute.runner import ComputeError

LayerCall = Callable[[torch.Tensor], torch.Tensor]


class Network:
    """``model``'s forward along its Plan; ``replace`` maps a module type to the
    call used for every module of that type (isinstance, as captum checks)."""

    def __init__(self, model: nn.Sequential, replace: dict[type, LayerCall] | None = None):
        replace = replace or {}

        def call_for(module: nn.Module) -> LayerCall:
            for kind, call in replace.items():
                if isinstance(module, kind):
                    return call
            return module  # Module.__call__: exactly what model(x) runs

        self.model = model
        self.plan = compile_steps(model, call_for)
        last = self.plan.steps[-1][0]  # the last top-level layer's step runs last
        # The class score is taken before softmax: a network ending in Softmax
        # is scored on that Softmax's input (Grad-CAM's paper, captum's advice).
        ends_in_softmax = isinstance(self.plan.modules[last], nn.Softmax)
        self.output_slot = self.plan.inputs[last] if ends_in_softmax else last + 1

    @property
    def device(self) -> torch.device:
        tensors = [*self.model.parameters(), *self.model.buffers()]
        return tensors[0].device if tensors else torch.device("cpu")

    def run(
        self, x: torch.Tensor, layer: int | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(scores (N, K), layer's output or None) for the batch ``x``.

        With ``layer``, the layers before it run without autograd and its output
        comes back detached and requiring grad: the graph starts there, which
        is all Grad-CAM differentiates.
        """
        values: list[torch.Tensor | None] = [None] * (len(self.plan.modules) + 1)
        values[0] = x
        kept = None
        grad = layer is None and torch.is_grad_enabled()
        for index, call, reads, is_merge, released in self.plan.steps:
            with torch.set_grad_enabled(grad):
                out = call([values[s] for s in reads]) if is_merge else call(values[reads[0]])
            if index == layer:
                out = kept = out.detach().requires_grad_(True)
                grad = True
            values[index + 1] = out
            for slot in released:
                if slot != self.output_slot:
                    values[slot] = None
        return values[self.output_slot], kept

    def scores(self, x: torch.Tensor) -> torch.Tensor:
        return self.run(x)[0]


def choose_target(scores: torch.Tensor, target: int | None) -> tuple[int, float]:
    """(target class, its score) from one image's scores; None = the top class."""
    count = scores.numel()
    if target is None:
        target = int(torch.argmax(scores))
    elif not 0 <= target < count:
        raise ComputeError(
            f"class {target} is not one of the network's {count} classes (0 to {count - 1})"
        )
    return target, float(scores[target])
