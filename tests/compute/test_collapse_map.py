"""Why non-linearity: an activation-free conv net is one affine map x ↦ Wx + b.

W and b from compute.collapse are checked against an independent torch model
(tests/torch_graph.py, built from the JSON alone) with its activations swapped
for nn.Identity: W against autograd's Jacobian, b against its output at 0, and
Wx + b against its output on random inputs."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, assume, given, settings
from torch import nn

from cnnviz.compute import collapse
from cnnviz.compute.collapse import affine_map, compute_map, linear_twin, network_output
from cnnviz.compute.model import build_model
from cnnviz.core import linearize
from cnnviz.core.analysis import analyze
from cnnviz.core.architecture import ArchitectureError, from_json
from cnnviz.core.linear_collapse import MapRequest
from tests.graph_strategies import graphs
from tests.torch_graph import build

ACTIVATIONS = (nn.ReLU, nn.Tanh, nn.Sigmoid, nn.GELU, nn.LeakyReLU, nn.ELU, nn.Softmax)


def conv(out, k=3, **kw):
    return {"type": "Conv2d", "out_channels": out, "kernel_size": k, **kw}


NETS = {
    "strides_padding_bn": [
        conv(4, 3, stride=2, padding=1), {"type": "BatchNorm2d"}, {"type": "ReLU"},
        conv(3, 2, padding=2, dilation=2), {"type": "Tanh"},
        {"type": "AvgPool2d", "kernel_size": 2, "padding": 1, "count_include_pad": False},
        {"type": "Flatten"}, {"type": "Dropout", "p": 0.5},
        {"type": "Linear", "out_features": 5}, {"type": "Sigmoid"},
    ],
    "residual_and_concat": [
        conv(4, 3, padding=1), {"type": "GELU"},
        {"type": "Residual",
         "body": [conv(4, 3, padding=1), {"type": "BatchNorm2d"}, {"type": "LeakyReLU"},
                  conv(4, 1)],
         "shortcut": []},
        {"type": "Parallel", "merge": "concat",
         "branches": [[conv(2, 1), {"type": "ELU"}], [{"type": "AvgPool2d", "kernel_size": 3,
                       "stride": 1, "padding": 1}], [{"type": "ZeroPad2d", "padding": 1},
                       conv(3, 3)]]},
        {"type": "AdaptiveAvgPool2d", "output_size": 2}, {"type": "Flatten"},
        {"type": "Linear", "out_features": 4},
    ],
    "transpose_upsample_add": [
        conv(3, 3, stride=2), {"type": "ReLU"},
        {"type": "Parallel", "merge": "add",
         "branches": [[{"type": "ConvTranspose2d", "out_channels": 2, "kernel_size": 2,
                        "stride": 2}],
                      [{"type": "Upsample", "scale_factor": 2.0, "mode": "bilinear"},
                       conv(2, 1)]]},
        {"type": "Identity"}, {"type": "Flatten"}, {"type": "Linear", "out_features": 3},
        {"type": "Softmax"},
    ],
}  # fmt: skip


def graph(layers, channels=2, size=9) -> dict:
    return {"format": "cnnviz-architecture", "version": 2, "name": "t",
            "input": {"channels": channels, "height": size, "width": size},
            "layers": layers}  # fmt: skip


def reference(raw: dict) -> tuple[nn.Module, nn.Module]:
    """(independent torch model, the same with every activation an Identity),
    with BatchNorm's statistics made non-trivial."""
    model = build(raw).model.double().eval()
    gen = torch.Generator().manual_seed(1)
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            n = module.num_features
            module.running_mean.copy_(torch.randn(n, generator=gen, dtype=torch.float64))
            module.running_var.copy_(torch.rand(n, generator=gen, dtype=torch.float64) + 0.5)
            nn.init.normal_(module.weight, generator=gen)
            nn.init.normal_(module.bias, generator=gen)
    linear = copy.deepcopy(model)
    for name, module in list(linear.named_modules()):
        if isinstance(module, ACTIVATIONS):
            parent, _, child = name.rpartition(".")
            setattr(linear.get_submodule(parent), child, nn.Identity())
    return model, linear


def ours(raw: dict, state: dict):
    arch = from_json(raw)
    model = build_model(arch, seed=0)
    model.load_state_dict({k: v.float() for k, v in state.items()})
    return model, arch


@pytest.mark.parametrize("method", ["columns", "rows"])
@pytest.mark.parametrize("name", sorted(NETS))
def test_w_and_b_equal_the_jacobian_and_the_output_at_zero(name, method):
    raw = graph(NETS[name])
    _, linear = reference(raw)
    model, arch = ours(raw, linear.state_dict())
    twin, edited = linear_twin(model, arch)
    weight, bias = affine_map(twin, edited, method)

    shape = tuple(raw["input"][k] for k in ("channels", "height", "width"))
    zero = torch.zeros(1, *shape, dtype=torch.float64)
    jacobian = torch.autograd.functional.jacobian(lambda x: linear(x).flatten(), zero)
    expected_w = jacobian.reshape(-1, int(np.prod(shape))).numpy()
    with torch.no_grad():
        expected_b = linear(zero).flatten().numpy()
    assert weight.shape == expected_w.shape
    # float32 weights (ours hold torch's float32 copy), computed in float64 both sides
    np.testing.assert_allclose(weight, expected_w, atol=1e-5, rtol=1e-5)
    np.testing.assert_allclose(bias, expected_b, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name", sorted(NETS))
def test_wx_plus_b_is_the_activation_free_network_and_not_the_original(name):
    raw = graph(NETS[name])
    original, linear = reference(raw)
    model, arch = ours(raw, linear.state_dict())
    twin, edited = linear_twin(model, arch)
    weight, bias = affine_map(twin, edited)
    x = torch.from_numpy(np.random.default_rng(2).normal(size=(12, *arch.input.as_tuple())))
    with torch.no_grad():
        theirs, with_activations = linear(x).flatten(1).numpy(), original(x).flatten(1).numpy()
    mapped = x.flatten(1).numpy() @ weight.T + bias
    np.testing.assert_allclose(mapped, theirs, atol=1e-4, rtol=1e-4)
    # the independent model holds float64 weights: the float32 copy differs by rounding only
    np.testing.assert_allclose(network_output(twin, x.numpy()), theirs, atol=1e-4, rtol=1e-4)
    assert np.abs(mapped - with_activations).max() > 1e-2


def test_the_twin_keeps_the_weights_and_replaces_max_pools_by_average_pools():
    raw = graph([conv(3, 3, padding=1), {"type": "ReLU"},
                 {"type": "MaxPool2d", "kernel_size": 2, "stride": 2, "ceil_mode": True},
                 {"type": "Flatten"}, {"type": "Linear", "out_features": 4}])  # fmt: skip
    model, arch = ours(raw, build(raw).model.state_dict())
    with pytest.raises(ArchitectureError, match=r"MaxPool2d at layer 2 is not linear"):
        linear_twin(model, arch)
    twin, edited = linear_twin(model, arch, average_pools=True)
    assert [layer.type for layer in edited.layers] == [
        "Conv2d", "AvgPool2d", "Flatten", "Linear"
    ]  # fmt: skip
    assert edited.layers[1].get("ceil_mode") is True and edited.layers[1].get("kernel_size") == 2
    torch.testing.assert_close(twin[0].weight, model[0].weight)
    torch.testing.assert_close(twin[3].bias, model[4].bias)
    assert twin[0] is not model[0]  # copies: the user's model is never changed
    x = torch.randn(3, *arch.input.as_tuple())
    expected = nn.Sequential(model[0], nn.AvgPool2d(2, 2, ceil_mode=True), model[3], model[4])
    with torch.no_grad():
        torch.testing.assert_close(twin(x), expected(x))


def test_compute_map_on_an_image():
    raw = graph(NETS["strides_padding_bn"])
    _, linear = reference(raw)
    model, arch = ours(raw, linear.state_dict())
    twin, edited = linear_twin(model, arch)
    image = np.random.default_rng(5).random(arch.input.as_tuple()).astype(np.float32)
    found = compute_map(MapRequest(7, edited, image=image), twin)
    assert found.request_id == 7 and found.templates().shape == (5, *arch.input.as_tuple())
    with torch.no_grad():
        expected = linear(torch.from_numpy(image[None]).double()).flatten().numpy()
    np.testing.assert_allclose(found.network, expected, atol=1e-4, rtol=1e-4)
    assert found.max_diff < 1e-9
    with pytest.raises(ValueError, match="the image is"):
        compute_map(MapRequest(8, edited, image=image[:1]), twin)


def test_a_network_with_an_activation_left_is_refused_in_one_line():
    raw = graph([conv(3, 3), {"type": "ReLU"}, {"type": "Flatten"}])
    model, arch = ours(raw, build(raw).model.state_dict())
    with pytest.raises(ArchitectureError, match=r"^ReLU at layer 1 is not linear \(it bends"):
        affine_map(model, arch)


def _reference_twin(model: nn.Module) -> nn.Module:
    """`model` (torch_graph's) with activations → Identity and max pools → average
    pools of the same windows, by torch alone."""
    twin = copy.deepcopy(model).double().eval()
    for name, module in list(twin.named_modules()):
        if isinstance(module, (*ACTIVATIONS, nn.ReLU6, nn.SiLU, nn.Hardswish)):
            new = nn.Identity()
        elif isinstance(module, nn.MaxPool2d):
            new = nn.AvgPool2d(module.kernel_size, module.stride, module.padding, module.ceil_mode)
        elif isinstance(module, nn.AdaptiveMaxPool2d):
            new = nn.AdaptiveAvgPool2d(module.output_size)
        else:
            continue
        parent, _, child = name.rpartition(".")
        setattr(twin.get_submodule(parent), child, new)
    return twin


@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
@given(graphs())
def test_generated_networks_collapse_to_their_jacobian(raw):
    try:
        arch = from_json(raw)
    except ArchitectureError:
        assume(False)
    assume(analyze(arch).first_error is None)
    left = [n for n in linearize.non_linear(arch) if n.reason != linearize.ACTIVATION]
    assume(all(n.type in linearize.AVERAGE_OF for n in left))
    assume(all(layer.params.get("dilation", 1) in (1, (1, 1)) for _, layer in arch.walk()
               if layer.type == "MaxPool2d"))  # fmt: skip
    built = build(raw)
    assume(built.model is not None)
    model = build_model(arch, seed=0)
    model.load_state_dict(built.model.state_dict())
    twin, edited = linear_twin(model, arch, average_pools=True)
    weight, bias = affine_map(twin, edited, "columns")
    rows, _ = affine_map(twin, edited, "rows")
    np.testing.assert_allclose(rows, weight, atol=1e-9)

    reference = _reference_twin(built.model)
    zero = torch.zeros(1, *arch.input.as_tuple(), dtype=torch.float64)
    jacobian = torch.autograd.functional.jacobian(lambda x: reference(x).flatten(), zero)
    with torch.no_grad():
        expected_b = reference(zero).flatten().numpy()
    np.testing.assert_allclose(weight, jacobian.reshape(weight.shape).numpy(), atol=1e-6)
    np.testing.assert_allclose(bias, expected_b, atol=1e-6)


@pytest.mark.parametrize("method", ["columns", "rows"])
def test_one_sample_per_pass_gives_the_same_map(method, monkeypatch):
    raw = graph(NETS["residual_and_concat"])
    _, linear = reference(raw)
    model, arch = ours(raw, linear.state_dict())
    twin, edited = linear_twin(model, arch)
    whole, bias = affine_map(twin, edited, method)  # one pass holds every row or column
    monkeypatch.setattr(collapse, "BATCH_BUDGET", 1)
    pieces, same_bias = affine_map(twin, edited, method)
    np.testing.assert_allclose(pieces, whole, atol=1e-12)
    np.testing.assert_array_equal(same_bias, bias)
