"""What the hooked forward calls for each layer: where it can, the layer's op itself.

A torch module's ``forward`` is Python glue around one ATen op: Conv2d's
checks its padding mode and goes through ``F.conv2d`` to ``torch.conv2d``;
BatchNorm2d's works out which statistics apply before ``torch.batch_norm``.
In a network whose whole forward takes a tenth of a millisecond that glue is
a fifth of the time (the interview net: 112 µs with the modules' forwards,
90 µs calling the ops), as much as recording every layer's output costs
(tests/benchmarks/bench_forward.py). So for the common layers in their usual
settings the forward calls the op directly, with the module's own tensors
looked up at each call: loaded, trained or hand-edited weights, and a model
moved to another device, are what it computes with.

Everything else calls the module: other layer types, unusual settings (a
padding mode other than zeros, batch norm without running statistics),
train mode for the layers whose forward depends on it, and any model with a
forward hook (hooks run only through ``Module.__call__``; a hook on a block
itself does not run: the forward goes through the layers inside it).
tests/compute/test_forward_hooked.py compares every layer's output with plain
torch modules, value for value, on the presets and on generated stacks.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable

import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.modules import module as _module_globals

from cnnviz.compute.blocks import Plan, compile_steps, flat_modules, has_blocks

LayerCall = Callable[[torch.Tensor], torch.Tensor]

# Only forward hooks change what a forward computes or observes: backward
# hooks do nothing without grad, and the forward runs without it.
_GLOBAL_HOOKS = ("_global_forward_hooks", "_global_forward_pre_hooks")


def _hooked(modules: tuple[nn.Module, ...]) -> bool:
    if torch._C._get_tracing_state() or any(
        getattr(_module_globals, name, True) for name in _GLOBAL_HOOKS
    ):
        return True
    for m in modules:  # noqa: SIM110 (a loop: any() of a generator costs more, every forward)
        if m._forward_hooks or m._forward_pre_hooks:
            return True
    return False


def _conv2d(m: nn.Conv2d) -> LayerCall | None:
    if m.padding_mode != "zeros":
        return None  # the module pads first (reflect, replicate, circular)
    params = m._parameters
    stride, padding, dilation, groups = m.stride, m.padding, m.dilation, m.groups

    def call(h: torch.Tensor) -> torch.Tensor:
        return torch.conv2d(h, params["weight"], params["bias"], stride, padding, dilation, groups)

    return call


def _batch_norm(m: nn.BatchNorm2d) -> LayerCall | None:
    if not m.track_running_stats or m.running_mean is None or m.running_var is None:
        return None  # normalises with the batch's own statistics even in eval mode
    params, buffers, eps = m._parameters, m._buffers, m.eps

    def call(h: torch.Tensor) -> torch.Tensor:
        if m.training:  # batch statistics, and running ones updated
            return m.forward(h)
        return torch.batch_norm(
            h,
            params["weight"],
            params["bias"],
            buffers["running_mean"],
            buffers["running_var"],
            False,
            0.0,  # the momentum: unused in eval mode
            eps,
            torch.backends.cudnn.enabled,
        )

    return call


def _max_pool(m: nn.MaxPool2d) -> LayerCall | None:
    if m.return_indices:
        return None
    args = (m.kernel_size, m.stride, m.padding, m.dilation, m.ceil_mode)
    return lambda h: torch.max_pool2d(h, *args)


def _avg_pool(m: nn.AvgPool2d) -> LayerCall:
    args = (m.kernel_size, m.stride, m.padding, m.ceil_mode, m.count_include_pad)
    divisor = m.divisor_override
    return lambda h: F.avg_pool2d(h, *args, divisor)


def _dropout(m: nn.Dropout | nn.Dropout2d) -> LayerCall:
    # In eval mode dropout hands its input on untouched (torch returns the same tensor).
    return lambda h: m.forward(h) if m.training else h


def _linear(m: nn.Linear) -> LayerCall:
    params = m._parameters
    return lambda h: F.linear(h, params["weight"], params["bias"])


def _flatten(m: nn.Flatten) -> LayerCall:
    start, end = m.start_dim, m.end_dim
    return lambda h: h.flatten(start, end)


_DIRECT: dict[type, Callable[[nn.Module], LayerCall | None]] = {
    nn.Conv2d: _conv2d,
    nn.BatchNorm2d: _batch_norm,
    nn.ReLU: lambda m: None if m.inplace else torch.relu,
    nn.Tanh: lambda m: torch.tanh,
    nn.Sigmoid: lambda m: torch.sigmoid,
    nn.MaxPool2d: _max_pool,
    nn.AvgPool2d: _avg_pool,
    nn.Dropout: lambda m: None if m.inplace else _dropout(m),
    nn.Dropout2d: lambda m: None if m.inplace else _dropout(m),
    nn.Linear: _linear,
    nn.Flatten: _flatten,
}


def _call_for(module: nn.Module) -> LayerCall:
    # The exact type: a subclass may have a forward of its own.
    make = _DIRECT.get(type(module))
    direct = make(module) if make is not None else None
    return direct if direct is not None else module.forward


# model → (its modules when the calls were made, the calls). Weak: a model the
# keeper dropped takes its entry with it.
_cache: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def layer_calls(model: nn.Sequential) -> list[LayerCall]:
    """What to call for each layer of ``model``, in order, for a forward without grad.

    With any forward hook set, the modules themselves (so the hooks run); otherwise
    each layer's op where ``_DIRECT`` knows it, else the module's forward
    (``Module.__call__`` only adds the search for hooks).
    """
    return prepared(model)[0]


def block_plan(model: nn.Sequential) -> Plan | None:
    """The Plan of a model with blocks (the forward follows it), None for a plain stack
    (without looking for hooks: for a plain stack that costs more than the rest)."""
    if _entry(model, tuple(model))[2] is None:
        return None
    return prepared(model)[1]


def _entry(model: nn.Sequential, modules: tuple) -> tuple:
    """(modules, their calls, the Plan or None), made again for a new model or for
    layers swapped in place; whether it has blocks is found out only then."""
    entry = _cache.get(model)
    if entry is None or entry[0] != modules:
        plan = compile_steps(model, _call_for) if has_blocks(modules) else None
        entry = (modules, [_call_for(m) for m in modules], plan)
        _cache[model] = entry
    return entry


def prepared(model: nn.Sequential) -> tuple[list[LayerCall], Plan | None]:
    """(layer_calls, None) for a plain stack; for a model with blocks (its top-level
    modules' calls, and the Plan the forward follows through the blocks).

    A plain stack pays for no more than it did before blocks: the check for
    blocks is made once per model (and again if its layers are swapped).
    """
    modules = tuple(model)
    entry = _entry(model, modules)
    plan = entry[2]
    if plan is None:
        return (list(modules), None) if _hooked(modules) else (entry[1], None)
    # A block's layers can be swapped or hooked without the top level changing.
    flat = tuple(flat_modules(model))
    if flat != plan.modules:
        plan = compile_steps(model, _call_for)
        _cache[model] = (modules, entry[1], plan)
    if _hooked(flat):
        return list(modules), compile_steps(model, lambda m: m)
    return entry[1], plan
