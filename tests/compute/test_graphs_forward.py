"""Random nested networks through compute: the hooked forward of cnnviz's built
model equals an independent torch model at every address.

The independent model is built straight from the architecture file by the
test (tests/torch_graph.py), given random weights, and its state_dict is
loaded into cnnviz's model: the keys must be the same, one for one
("3.body.0.weight"). Then every layer's output and input, inside blocks and
merged, must equal what forward hooks on the independent model record, on
both recording paths (recorded, and copied as each output is made).

CNNVIZ_GRAPH_EXAMPLES=2000 asks for more examples than CI runs.
"""

from __future__ import annotations

import math
import os
from unittest import mock

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from cnnviz.compute import forward as forward_module
from cnnviz.compute.forward import record_forward
from cnnviz.compute.model import build_model
from cnnviz.core.analysis import analyze
from cnnviz.core.architecture import from_json
from tests.compute.test_forward_hooked import randomize
from tests.graph_strategies import graphs
from tests.torch_graph import build, layer_addresses

EXAMPLES = max(int(os.environ.get("CNNVIZ_GRAPH_EXAMPLES", "150")) // 2, 1)


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Tiny tensors: a second thread only waits for the first."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def hooked_outputs(model: torch.nn.Module, image: np.ndarray) -> dict[str, tuple]:
    """(input, output) of every layer and block by its module name."""
    seen = {}
    hooks = [
        model.get_submodule(name).register_forward_hook(
            lambda _m, inputs, out, name=name: seen.__setitem__(
                name, (inputs[0][0].clone().numpy(), out[0].clone().numpy())
            )
        )
        for name in layer_addresses(model)
    ]
    with torch.no_grad():
        model(torch.from_numpy(image.copy())[None])
    for hook in hooks:
        hook.remove()
    return seen


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graphs(), st.booleans(), st.integers(0, 2**31 - 1))
def test_every_output_equals_the_independent_model(graph, copy_as_made, seed):
    arch = from_json(graph)
    analysis = analyze(arch)
    assume(analysis.valid)
    reference = build(graph).model
    assert reference is not None, "torch refuses a graph the core accepts"
    randomize(reference, seed)
    model = build_model(arch, seed=0)
    assert list(model.state_dict()) == list(reference.state_dict())
    model.load_state_dict(reference.state_dict())
    model.eval()
    image = np.random.default_rng(seed).standard_normal(analysis.input_shape, dtype=np.float32)
    sizes = [math.prod(info.output_shape) for info in analysis.layers]
    # Copying each output as it is made is the path of large networks.
    threshold = 0 if copy_as_made else forward_module.COPY_AS_MADE_FROM
    with mock.patch.object(forward_module, "COPY_AS_MADE_FROM", threshold):
        layers = record_forward(model, torch.from_numpy(image.copy())[None], image, sizes=sizes)
    expected = hooked_outputs(reference, image)
    assert len(layers) == len(analysis.layers) == len(expected)
    for layer, info in zip(layers, analysis.layers, strict=True):
        assert (layer.index, layer.type) == (info.index, info.layer.type)
        want_input, want_output = expected[info.address]
        np.testing.assert_allclose(
            layer.output, want_output, rtol=1e-5, atol=1e-6, err_msg=info.address
        )
        np.testing.assert_allclose(
            layer.input, want_input, rtol=1e-5, atol=1e-6, err_msg=info.address
        )
