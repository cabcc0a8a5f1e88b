"""ATen operations (the graph of an exported program, ``.pt2``) → catalogue layers.

An exported program holds no modules, only ``aten`` calls on the model's
parameters (``get_attr`` nodes named after the module that held them:
``stem.weight``). A convolution, a linear layer or a batch norm is read back
from its call and the shapes of its parameters; its weights are that module's
(``weight_source``). The merges (add, cat), reshapes and means are read as
the functional ones are (node_kinds).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from cnnviz.compute.importers.functional import Unsupported, _stride
from cnnviz.compute.importers.module_layers import make_layer
from cnnviz.core.architecture import Layer

A = torch.ops.aten


def _pair(value):
    return tuple(value) if isinstance(value, list | tuple) else value


def _conv(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    return [
        make_layer(
            "Conv2d",
            out_channels=int(weight.shape[0]),
            kernel_size=tuple(weight.shape[2:]),
            stride=_pair(stride),
            padding=padding if isinstance(padding, str) else _pair(padding),
            dilation=_pair(dilation),
            groups=groups,
            bias=bias is not None,
        )
    ]


def _linear(input, weight, bias=None):
    return [make_layer("Linear", out_features=int(weight.shape[0]), bias=bias is not None)]


def _batch_norm(
    input, weight, bias, running_mean, running_var, training, momentum, eps, cudnn=True
):
    if training or running_mean is None:
        raise Unsupported("a batch norm without running statistics in eval is not a cnnviz layer")
    return [
        make_layer(
            "BatchNorm2d", eps=float(eps), momentum=float(momentum), affine=weight is not None
        )
    ]


def _one(type_name: str) -> Callable[..., list[Layer]]:
    return lambda input, *_args, **_kwargs: [make_layer(type_name)]


def _leaky(input, negative_slope=0.01):
    return [make_layer("LeakyReLU", negative_slope=float(negative_slope))]


def _gelu(input, approximate="none"):
    return [make_layer("GELU", approximate=approximate)]


def _hardtanh(input, min_val=-1.0, max_val=1.0):
    if (min_val, max_val) != (0.0, 6.0):
        raise Unsupported(f"a hardtanh from {min_val} to {max_val} is not a cnnviz layer")
    return [make_layer("ReLU6")]


def _max_pool(input, kernel_size, stride=(), padding=0, dilation=1, ceil_mode=False):
    return [
        make_layer(
            "MaxPool2d",
            kernel_size=_pair(kernel_size),
            stride=_pair(_stride(stride)),
            padding=_pair(padding),
            dilation=_pair(dilation),
            ceil_mode=ceil_mode,
        )
    ]


def _avg_pool(
    input, kernel_size, stride=(), padding=0, ceil_mode=False, count_include_pad=True, divisor=None
):
    if divisor is not None:
        raise Unsupported("an average pool with divisor_override is not a cnnviz layer")
    return [
        make_layer(
            "AvgPool2d",
            kernel_size=_pair(kernel_size),
            stride=_pair(_stride(stride)),
            padding=_pair(padding),
            ceil_mode=ceil_mode,
            count_include_pad=count_include_pad,
        )
    ]


def _adaptive(input, output_size):
    return [make_layer("AdaptiveAvgPool2d", output_size=_pair(output_size))]


def _dropout(input, p, train):
    return [make_layer("Dropout", p=float(p))]


def _softmax(input, dim, dtype_or_half=None):
    if dtype_or_half not in (None, False):
        raise Unsupported("a softmax with a dtype is not a cnnviz layer")
    return [make_layer("Softmax", dim=dim)]


LAYERS: dict = {
    A.conv2d.default: _conv,
    A.linear.default: _linear,
    A.batch_norm.default: _batch_norm,
    A.relu.default: _one("ReLU"),
    A.relu_.default: _one("ReLU"),
    A.sigmoid.default: _one("Sigmoid"),
    A.tanh.default: _one("Tanh"),
    A.silu.default: _one("SiLU"),
    A.hardswish.default: _one("Hardswish"),
    A.gelu.default: _gelu,
    A.leaky_relu.default: _leaky,
    A.hardtanh.default: _hardtanh,
    A.max_pool2d.default: _max_pool,
    A.avg_pool2d.default: _avg_pool,
    A.adaptive_avg_pool2d.default: _adaptive,
    A.dropout.default: _dropout,
    A.softmax.int: _softmax,
    A._softmax.default: _softmax,
}
ADD = (A.add.Tensor, A.add_.Tensor)
CAT = (A.cat.default,)
RESHAPE = (
    A.flatten.using_ints,
    A.view.default,
    A.reshape.default,
    A._unsafe_view.default,
    A.clone.default,
    A.contiguous.default,
)
MEAN = (A.mean.dim,)


def is_aten(target) -> bool:
    return isinstance(target, torch._ops.OpOverload)
