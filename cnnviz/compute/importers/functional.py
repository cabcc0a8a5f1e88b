"""Functional calls in a traced graph → catalogue layers.

Each supported function or tensor method has a stub with torch's signature
that returns the layers it becomes, so ``F.max_pool2d(x, 2)`` and
``F.max_pool2d(x, kernel_size=2, stride=2)`` read the same way. The first
argument (the tensor) is ignored; an argument computed from the input (an fx
node) is refused by the caller. Reshapes (flatten, view, reshape) and
``mean`` over the map are decided from the shapes the trace measured,
merges (add, cat) by ``fx_convert`` itself.
"""

from __future__ import annotations

import operator
from collections.abc import Callable

import torch
import torch.nn.functional as F

from cnnviz.compute.importers.module_layers import make_layer
from cnnviz.core.architecture import Layer


class Unsupported(ValueError):
    """The call has no catalogue layer; the message says why."""


def _one(type_name: str) -> Callable[..., list[Layer]]:
    def stub(input, inplace=False):
        return [make_layer(type_name)]

    return stub


def _leaky_relu(input, negative_slope=0.01, inplace=False):
    return [make_layer("LeakyReLU", negative_slope=float(negative_slope))]


def _elu(input, alpha=1.0, inplace=False):
    return [make_layer("ELU", alpha=float(alpha))]


def _gelu(input, approximate="none"):
    return [make_layer("GELU", approximate=approximate)]


def _plain(type_name: str) -> Callable[..., list[Layer]]:
    return lambda input: [make_layer(type_name)]


def _softmax(input, dim=None, _stacklevel=3, dtype=None):
    if dtype is not None:
        raise Unsupported("a softmax with a dtype is not a cnnviz layer")
    return [make_layer("Softmax", dim=dim)]


def _stride(stride):
    return None if stride is None or stride in ([], ()) else stride


def _max_pool(
    input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False
):
    if return_indices:
        raise Unsupported("a max pool that also returns its indices is not a cnnviz layer")
    return [
        make_layer(
            "MaxPool2d",
            kernel_size=kernel_size,
            stride=_stride(stride),
            padding=padding,
            dilation=dilation,
            ceil_mode=ceil_mode,
        )
    ]


def _avg_pool(
    input,
    kernel_size,
    stride=None,
    padding=0,
    ceil_mode=False,
    count_include_pad=True,
    divisor_override=None,
):
    if divisor_override is not None:
        raise Unsupported("an average pool with divisor_override is not a cnnviz layer")
    return [
        make_layer(
            "AvgPool2d",
            kernel_size=kernel_size,
            stride=_stride(stride),
            padding=padding,
            ceil_mode=ceil_mode,
            count_include_pad=count_include_pad,
        )
    ]


def _adaptive(type_name: str) -> Callable[..., list[Layer]]:
    def stub(input, output_size, return_indices=False):
        if return_indices or output_size is None or None in tuple(_seq(output_size)):
            raise Unsupported("an adaptive pool with indices or a None size is not a cnnviz layer")
        return [make_layer(type_name, output_size=output_size)]

    return stub


def _seq(value):
    return value if isinstance(value, list | tuple) else (value,)


def _dropout(type_name: str) -> Callable[..., list[Layer]]:
    def stub(input, p=0.5, training=True, inplace=False):
        return [make_layer(type_name, p=float(p))]

    return stub


def _pad(input, pad, mode="constant", value=None):
    if mode != "constant" or value not in (None, 0, 0.0) or len(pad) not in (2, 4):
        raise Unsupported("only zero padding of height and width is a cnnviz layer (ZeroPad2d)")
    sides = tuple(pad) if len(pad) == 4 else (pad[0], pad[1], 0, 0)
    return [make_layer("ZeroPad2d", padding=sides)]


def _interpolate(
    input,
    size=None,
    scale_factor=None,
    mode="nearest",
    align_corners=None,
    recompute_scale_factor=None,
    antialias=False,
):
    if mode not in ("nearest", "bilinear") or antialias or recompute_scale_factor:
        raise Unsupported(
            "only nearest or bilinear resizing without antialias or recompute_scale_factor "
            "is a cnnviz layer (Upsample)"
        )
    if isinstance(scale_factor, list | tuple):
        if len(set(scale_factor)) != 1:
            raise Unsupported("Upsample scales height and width alike")
        scale_factor = scale_factor[0]
    scale = None if scale_factor is None else float(scale_factor)
    return [
        make_layer(
            "Upsample", size=size, scale_factor=scale, mode=mode, align_corners=align_corners
        )
    ]


FUNCTIONS: dict[Callable, Callable[..., list[Layer]]] = {
    F.relu: _one("ReLU"),
    torch.relu: _one("ReLU"),
    torch.relu_: _one("ReLU"),
    F.relu_: _one("ReLU"),
    F.relu6: _one("ReLU6"),
    F.silu: _one("SiLU"),
    F.hardswish: _one("Hardswish"),
    F.leaky_relu: _leaky_relu,
    F.elu: _elu,
    F.gelu: _gelu,
    torch.sigmoid: _plain("Sigmoid"),
    F.sigmoid: _plain("Sigmoid"),
    torch.tanh: _plain("Tanh"),
    F.tanh: _plain("Tanh"),
    F.softmax: _softmax,
    torch.softmax: _softmax,
    F.max_pool2d: _max_pool,
    torch.max_pool2d: _max_pool,
    F.avg_pool2d: _avg_pool,
    F.adaptive_avg_pool2d: _adaptive("AdaptiveAvgPool2d"),
    F.adaptive_max_pool2d: _adaptive("AdaptiveMaxPool2d"),
    F.dropout: _dropout("Dropout"),
    F.dropout2d: _dropout("Dropout2d"),
    F.pad: _pad,
    F.interpolate: _interpolate,
}

METHODS: dict[str, Callable[..., list[Layer]]] = {
    "relu": _one("ReLU"),
    "relu_": _one("ReLU"),
    "sigmoid": _plain("Sigmoid"),
    "sigmoid_": _plain("Sigmoid"),
    "tanh": _plain("Tanh"),
    "tanh_": _plain("Tanh"),
    "softmax": _softmax,
}

# Reshapes, decided by the shapes: a Flatten when they keep the batch and lay the
# rest out as one vector, nothing when they change no shape.
RESHAPE_FUNCTIONS = (torch.flatten, torch.reshape)
RESHAPE_METHODS = ("flatten", "view", "reshape", "contiguous", "clone")
MEAN_FUNCTIONS = (torch.mean,)
MEAN_METHODS = ("mean",)

# Merges of paths.
ADD_FUNCTIONS = (operator.add, operator.iadd, torch.add)
ADD_METHODS = ("add", "add_")
CAT_FUNCTIONS = (torch.cat, torch.concat, torch.concatenate)

# Why some common operations are refused, in a learner's words.
_REASONS = {
    "mul": "an elementwise product",
    "imul": "an elementwise product",
    "truediv": "a division",
    "sub": "a difference",
    "isub": "a difference",
    "matmul": "a matrix product",
}


def refusal_reason(name: str, tensor_inputs: int) -> str:
    """Why ``name`` (a function or method name) with this many tensor inputs is refused."""
    base = name.rsplit(".", 1)[-1].strip("_")
    if base in _REASONS:
        what = _REASONS[base]
        if tensor_inputs >= 2:
            return f"{what} of two paths is not a cnnviz layer"
        return f"{what} with a constant is not a cnnviz layer"
    return f"{name} is not a cnnviz layer"


def op_name(target) -> str:
    """``torch.sigmoid``, ``F.max_pool2d``, ``mul``, ``x.view`` for a node's target."""
    if isinstance(target, str):
        return f"x.{target}"
    module = getattr(target, "__module__", None) or ""
    name = getattr(target, "__name__", repr(target))
    if module in ("_operator", "operator"):
        return name
    if module.startswith("torch.nn.functional"):
        return f"F.{name}"
    return f"torch.{name}" if module.startswith("torch") or not module else f"{module}.{name}"
