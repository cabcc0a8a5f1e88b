"""compute builds every catalogue type the same way: getattr(nn, type)(**params,
**what the type's module says torch needs from the input). No per-type code."""

from __future__ import annotations

import inspect

import pytest
import torch
from torch import nn

from cnnviz.compute import model as model_module
from cnnviz.compute.model import build_layer
from cnnviz.core.architecture import Layer
from cnnviz.core.catalogue import CATALOGUE
from cnnviz.core.shapes import layer_cost


def _starter_layer(name: str) -> Layer:
    spec = CATALOGUE[name]
    values = {"out_channels": 4, "kernel_size": 3, "out_features": 5, "num_groups": 2}
    params = {p.name: values.get(p.name, 2) for p in spec.params if p.required}
    params.update(spec.starter)
    return Layer.make(name, **params)


@pytest.mark.parametrize("name", sorted(CATALOGUE))
def test_every_type_builds_generically_and_runs(name):
    layer = _starter_layer(name)
    shape = (4, 6, 6)
    cost = layer_cost(layer, shape)
    module = build_layer(layer, shape).eval()
    assert type(module) is getattr(nn, name)
    with torch.no_grad():
        out = module(torch.rand(1, *shape))
    assert tuple(out.shape[1:]) == cost.output_shape
    named = dict(module.named_parameters())
    weights, biases = named.get("weight"), named.get("bias")
    assert (0 if weights is None else weights.numel()) == cost.weights
    assert (0 if biases is None else biases.numel()) == cost.biases


def test_model_py_names_no_layer_type():
    """The build has no branch per type: no catalogue name appears in its code."""
    source = inspect.getsource(model_module)
    for name in CATALOGUE:
        assert f'"{name}"' not in source and f"'{name}'" not in source, name
