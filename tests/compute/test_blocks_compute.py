"""Blocks through compute: torch's own state_dict keys, every inner output equal to an
independent torch model, weights kept across edits, cancellation, every forward path."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest
import torch
from safetensors.torch import save_file
from torch import nn

from cnnviz.compute import forward as forward_module
from cnnviz.compute.blocks import Parallel, Residual, flat_modules
from cnnviz.compute.forward import Cancelled, LayerFailure, OutOfMemory, record_forward
from cnnviz.compute.model import ModelKeeper, build_model
from cnnviz.compute.runner import ForwardRunner
from cnnviz.compute.train_setup import conv_filters, initialise
from cnnviz.compute.weights import WeightsError, load_fitting_layers, load_weights, read_weights
from cnnviz.core.analysis import analyze
from cnnviz.core.architecture import Layer, from_json
from cnnviz.core.jobs import ForwardRequest, KernelEdit
from cnnviz.core.memory import estimate
from tests.torch_modules import torch_network


def conv(out, k=3, **more):
    return {"type": "Conv2d", "out_channels": out, "kernel_size": k, **more}


# A Residual with an identity shortcut, one with a 1×1-conv shortcut (stride 2),
# a Parallel concat (with an empty branch) and a Parallel add, one nested block.
BLOCKS_FILE = {
    "format": "cnnviz-architecture",
    "version": 2,
    "name": "blocks",
    "input": {"channels": 3, "height": 12, "width": 12},
    "layers": [
        conv(6, padding=1),
        {
            "type": "Residual",
            "body": [conv(6, padding=1), {"type": "BatchNorm2d"}, {"type": "ReLU"}, conv(6, 1)],
            "shortcut": [],
        },
        {
            "type": "Residual",
            "body": [conv(8, stride=2, padding=1), {"type": "BatchNorm2d"}],
            "shortcut": [conv(8, 1, stride=2), {"type": "BatchNorm2d"}],
        },
        {"type": "ReLU"},
        {
            "type": "Parallel",
            "merge": "concat",
            "branches": [
                [conv(4, 1)],
                [conv(2, 1), {"type": "ReLU"}, conv(3, padding=1)],
                [{"type": "MaxPool2d", "kernel_size": 3, "stride": 1, "padding": 1}],
                [],
            ],
        },
        {
            "type": "Parallel",
            "merge": "add",
            "branches": [
                [conv(23, 1)],
                [{"type": "Residual", "body": [conv(23, padding=1)], "shortcut": []}],
            ],
        },
        {"type": "AdaptiveAvgPool2d", "output_size": 2},
        {"type": "Flatten"},
        {"type": "Linear", "out_features": 5},
    ],
}
ARCH = from_json(BLOCKS_FILE)


def randomize(model: nn.Module, seed: int) -> None:
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if tensor.is_floating_point():
                values = torch.rand(tensor.shape, generator=gen) * 0.6 - 0.3
                tensor.copy_(values.abs() + 0.5 if name.endswith("running_var") else values)


def independent_outputs(model: nn.Module, image: np.ndarray) -> dict[str, np.ndarray]:
    """Every module's output by its torch name ("3", "2.body.0"), via forward hooks."""
    outputs = {}
    hooks = [
        module.register_forward_hook(
            lambda _m, _i, out, name=name: outputs.__setitem__(name, out[0].detach().clone())
        )
        for name, module in model.named_modules()
        if name and not isinstance(module, nn.Sequential | nn.ModuleList)
    ]
    with torch.no_grad():
        model(torch.from_numpy(image)[None])
    for hook in hooks:
        hook.remove()
    return {name: out.numpy() for name, out in outputs.items()}


@pytest.fixture
def saved_independent(tmp_path):
    """The test's own torch model of BLOCKS_FILE with random weights, as safetensors."""
    model = torch_network(BLOCKS_FILE)
    randomize(model, 7)
    path = tmp_path / "blocks.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path))
    return model, path


def test_state_dict_keys_are_torchs_own_for_the_layout(saved_independent):
    model, _ = saved_independent
    built = build_model(ARCH, 0)
    assert list(built.state_dict()) == list(model.state_dict())
    keys = set(built.state_dict())
    assert {"1.body.0.weight", "2.shortcut.1.running_var", "4.branches.1.2.bias"} <= keys
    assert "5.branches.1.0.body.0.weight" in keys
    assert isinstance(built[1], Residual) and isinstance(built[4], Parallel)
    assert [type(m).__name__ for m in flat_modules(built)] == [
        info.layer.type for info in analyze(ARCH).layers
    ]


@pytest.mark.parametrize("copy_as_made", [False, True])
def test_every_output_equals_an_independent_model_that_loaded_the_same_file(
    saved_independent, monkeypatch, copy_as_made
):
    if copy_as_made:
        monkeypatch.setattr(forward_module, "COPY_AS_MADE_FROM", 0)
    model, path = saved_independent
    image = np.random.default_rng(3).random((3, 12, 12), dtype=np.float32)
    request = ForwardRequest(1, ARCH, image, weights_path=str(path), device="cpu")
    result = ForwardRunner().run(request)
    expected = independent_outputs(model, image)
    analysis = analyze(ARCH)
    assert len(result.layers) == len(analysis.layers) == len(expected)
    for layer, info in zip(result.layers, analysis.layers, strict=True):
        assert layer.index == info.index and layer.type == info.layer.type
        np.testing.assert_allclose(layer.output, expected[info.address], rtol=1e-5, atol=1e-6)


def test_each_input_is_what_the_layer_received():
    model = build_model(ARCH, 1).eval()
    image = np.random.default_rng(4).random((3, 12, 12), dtype=np.float32)
    layers = record_forward(model, torch.from_numpy(image)[None], image)
    analysis = analyze(ARCH)
    by_address = {info.address: layers[info.index] for info in analysis.layers}
    assert by_address["0"].input is image
    assert by_address["1"].input is by_address["0"].output  # a block: its input
    assert by_address["1.body.0"].input is by_address["0"].output  # a path's first layer
    assert by_address["1.body.1"].input is by_address["1.body.0"].output
    assert by_address["2.shortcut.0"].input is by_address["1"].output  # the block's merge
    assert by_address["4.branches.2.0"].input is by_address["3"].output
    assert by_address["5.branches.1.0.body.0"].input is by_address["4"].output
    assert by_address["6"].input is by_address["5"].output


def test_the_float64_path_concatenates_and_keeps_inputs():
    """Outputs that are not CPU float32 (a GPU's) are gathered into one buffer."""
    model = build_model(ARCH, 2).eval()
    image = np.random.default_rng(5).random((3, 12, 12), dtype=np.float32)
    plain = record_forward(model, torch.from_numpy(image)[None], image)
    model.to(torch.float64)
    layers = record_forward(model, torch.from_numpy(image).double()[None], image)
    for want, got in zip(plain, layers, strict=True):
        assert got.output.dtype == np.float32
        np.testing.assert_allclose(got.output, want.output, rtol=1e-5, atol=1e-6)
    assert layers[2].input is layers[0].output  # "1.body.0" receives layer 0's output


def test_cancelled_between_inner_layers():
    model = build_model(ARCH, 0).eval()
    asked = []

    def cancel_at_fourth_check():
        asked.append(True)
        return len(asked) == 4

    with pytest.raises(Cancelled):
        forward_module.layer_outputs(
            model, torch.zeros(1, 3, 12, 12), should_cancel=cancel_at_fourth_check
        )
    # Asked before layer 0, 1.body.0, 1.body.1 and 1.body.2: stopped inside the block.
    assert len(asked) == 4


def test_cancelled_inside_a_block_on_the_copy_path(monkeypatch):
    monkeypatch.setattr(forward_module, "COPY_AS_MADE_FROM", 0)
    model = build_model(ARCH, 0).eval()
    sizes = [int(np.prod(info.output_shape)) for info in analyze(ARCH).layers]
    asked = []
    with pytest.raises(Cancelled):
        record_forward(
            model,
            torch.zeros(1, 3, 12, 12),
            np.zeros((3, 12, 12), np.float32),
            sizes=sizes,
            should_cancel=lambda: asked.append(True) or len(asked) == 6,
        )
    assert len(asked) == 6


def test_a_failing_inner_layer_is_named_by_its_address():
    model = build_model(ARCH, 0).eval()
    model[2].shortcut[0] = nn.Conv2d(5, 8, 1, stride=2)  # expects 5 channels, gets 6
    with pytest.raises(LayerFailure, match=r"^layer 2\.shortcut\.0 Conv2d failed: "):
        forward_module.layer_outputs(model, torch.zeros(1, 3, 12, 12))


def test_an_allocation_failing_inside_a_block_is_one_line_naming_it(monkeypatch):
    monkeypatch.setattr(forward_module, "COPY_AS_MADE_FROM", 0)
    model = build_model(ARCH, 0).eval()

    class Failing(nn.Module):
        def forward(self, h):
            raise RuntimeError(
                "DefaultCPUAllocator: can't allocate memory: you tried to allocate 9000 bytes."
            )

    model[4].branches[1][1] = Failing()
    sizes = [int(np.prod(info.output_shape)) for info in analyze(ARCH).layers]
    image = np.zeros((3, 12, 12), np.float32)
    with pytest.raises(OutOfMemory, match=r"layer 4\.branches\.1\.1 Failing"):
        record_forward(model, torch.from_numpy(image)[None], image, sizes=sizes)


def test_the_copy_path_goes_on_from_the_kept_copies(monkeypatch):
    monkeypatch.setattr(forward_module, "COPY_AS_MADE_FROM", 0)
    model = build_model(ARCH, 0).eval()
    sizes = [int(np.prod(info.output_shape)) for info in analyze(ARCH).layers]
    seen = []
    model[2].shortcut[0].register_forward_pre_hook(lambda m, args: seen.append(args[0]))
    image = np.random.default_rng(1).random((3, 12, 12), dtype=np.float32)
    layers = record_forward(model, torch.from_numpy(image)[None], image, sizes=sizes)
    buffer = layers[0].output.base
    while buffer.base is not None:
        buffer = buffer.base
    # The shortcut reads block 1's merged output from the result buffer, not a copy of its own.
    assert np.shares_memory(seen[0].numpy(), buffer)
    np.testing.assert_array_equal(seen[0][0].numpy(), layers[1].output)


def layer_state(module: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in module.state_dict().items()}


def test_the_keeper_keeps_untouched_inner_layers_after_an_edit_elsewhere():
    keeper = ModelKeeper()
    first = keeper.update(ARCH, 0)
    with torch.no_grad():  # "trained" weights, which a fresh build would not give
        for p in first.parameters():
            p.add_(1.0)
    body_conv = first[1].body[0]
    shortcut_bn = layer_state(first[2].shortcut[1])
    branch_conv = first[4].branches[1][2]
    # Edit the last Linear and the Parallel add's first branch.
    layers = list(ARCH.layers)
    layers[-1] = layers[-1].with_params(out_features=7)
    layers[5] = layers[5].with_paths(
        [(Layer.make("Conv2d", out_channels=23, kernel_size=3, padding=1),), layers[5].paths[1]]
    )
    second = keeper.update(ARCH.with_layers(layers), 0)
    assert second[1].body[0] is body_conv
    assert second[4].branches[1][2] is branch_conv
    for name, value in layer_state(second[2].shortcut[1]).items():
        torch.testing.assert_close(value, shortcut_bn[name], rtol=0, atol=0)
    analysis = analyze(ARCH.with_layers(layers))
    assert analysis.at("1.body.0").index in keeper.kept
    assert analysis.at("5.branches.0.0").index not in keeper.kept
    assert analysis.at("8").index not in keeper.kept
    assert second[-1].out_features == 7


def test_an_inserted_block_layer_does_not_rerandomise_the_others():
    base = build_model(ARCH, 4)
    layers = list(ARCH.layers)
    body = (*layers[1].paths[0], Layer.make("ReLU"))
    layers[1] = layers[1].with_paths([body, layers[1].paths[1]])
    grown = build_model(ARCH.with_layers(layers), 4)
    for a, b in zip(
        [m for m in flat_modules(base) if isinstance(m, nn.Conv2d)],
        [m for m in flat_modules(grown) if isinstance(m, nn.Conv2d)],
        strict=True,
    ):
        torch.testing.assert_close(a.weight, b.weight, rtol=0, atol=0)


def test_kernel_edits_and_filters_use_the_flat_index():
    analysis = analyze(ARCH)
    index = analysis.at("2.shortcut.0").index
    image = np.zeros((3, 12, 12), np.float32)
    image[:, 4:8, 4:8] = 1.0
    kernel = np.full((6, 1, 1), 0.5, np.float32)
    edit = KernelEdit(layer=index, out_channel=3, kernel=kernel, bias=0.0)
    runner = ForwardRunner()
    result = runner.run(ForwardRequest(1, ARCH, image, kernel_edits=(edit,), device="cpu"))
    assert result.notice is None
    np.testing.assert_array_equal(result.filters[index][0][3], kernel)
    inner = result.layers[analysis.at("1").index]  # block 2's input: block 1's output
    expected = 0.5 * inner.output.sum(axis=0)[::2, ::2]
    np.testing.assert_allclose(result.layers[index].output[3], expected, rtol=1e-5, atol=1e-6)
    conv = flat_modules(runner.keeper.model)[index]
    assert not torch.equal(conv.weight[3], torch.from_numpy(kernel))  # undone afterwards
    assert set(result.filters) == {
        info.index for info in analysis.layers if info.layer.type == "Conv2d"
    }


def test_weights_that_do_not_fit_name_the_inner_layer(tmp_path, saved_independent):
    model, path = saved_independent
    state = read_weights(path)
    state["2.body.0.weight"] = torch.zeros(8, 5, 3, 3)
    built = build_model(ARCH, 0)
    bad = tmp_path / "bad.safetensors"
    save_file(state, str(bad))
    with pytest.raises(WeightsError, match=r"'2\.body\.0\.weight' is 8×5×3×3 .* layer 2\.body\.0"):
        load_weights(built, bad)
    loaded = load_fitting_layers(built, state)
    analysis = analyze(ARCH)
    assert analysis.at("2.body.0").index not in loaded
    assert analysis.at("2.shortcut.0").index in loaded
    torch.testing.assert_close(built[2].shortcut[0].weight, model[2].shortcut[0].weight)


def test_training_setup_reaches_the_layers_inside_blocks():
    model = build_model(ARCH, 0)
    before = copy.deepcopy(model)
    initialise(model, "xavier", 3)
    assert not torch.equal(
        model[5].branches[1][0].body[0].weight, before[5].branches[1][0].body[0].weight
    )
    assert torch.count_nonzero(model[5].branches[1][0].body[0].bias) == 0
    filters = conv_filters(model)
    analysis = analyze(ARCH)
    assert analysis.at("1.body.0").index in filters


def test_a_block_model_trains_a_step_through_its_own_forward():
    model = build_model(ARCH, 0).train()
    x = torch.randn(4, 3, 12, 12)
    loss = nn.functional.cross_entropy(model(x), torch.tensor([0, 1, 2, 3]))
    loss.backward()
    assert model[2].shortcut[0].weight.grad is not None
    assert model[4].branches[1][0].weight.grad.abs().sum() > 0


def test_the_memory_estimate_counts_each_merge_output():
    analysis = analyze(ARCH)
    est = estimate(analysis)
    block = next(m for m in est.layers if m.type == "Parallel")
    info = analysis.layers[block.index]
    assert block.output == int(np.prod(info.output_shape)) * 4
    assert block.address == info.address == "4"
    assert len(est.layers) == len(analysis.layers)


def test_the_file_round_trips_to_the_same_model(tmp_path):
    """The JSON the test builds from and the one cnnviz writes are the same network."""
    assert json.loads(ARCH.dumps())["layers"] == from_json(BLOCKS_FILE).to_json()["layers"]


def test_gpu_out_of_memory_runs_a_block_network_on_the_cpu(monkeypatch):
    from cnnviz.compute import runner as runner_module

    monkeypatch.setattr(runner_module, "resolve_device", lambda preference: torch.device("cuda"))
    monkeypatch.setattr(runner_module, "release_memory", lambda device: None)
    runner = ForwardRunner()
    real_forward = runner._forward_on
    tried = []

    def forward_on(model, image, request, device, should_cancel):
        tried.append(device.type)
        if device.type == "cuda":
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")
        return real_forward(model, image, request, device, should_cancel)

    monkeypatch.setattr(runner, "_forward_on", forward_on)
    image = np.random.default_rng(0).random((3, 12, 12), dtype=np.float32)
    result = runner.run(ForwardRequest(2, ARCH, image, device="cuda"))
    assert tried == ["cuda", "cpu"]
    assert "ran out of memory: this run used the CPU" in result.notice
    assert len(result.layers) == len(analyze(ARCH).layers)


def test_the_probabilities_come_from_a_last_block_merged_output():
    data = json.loads(json.dumps(BLOCKS_FILE))
    data["layers"].append(
        {"type": "Parallel", "merge": "add", "branches": [[{"type": "ReLU"}], [{"type": "Tanh"}]]}
    )
    arch = from_json(data)
    image = np.random.default_rng(6).random((3, 12, 12), dtype=np.float32)
    result = ForwardRunner().run(ForwardRequest(3, arch, image, device="cpu"))
    merged = result.layers[analyze(arch).at("9").index]
    assert merged.type == "Parallel" and result.layers[-1].type == "Tanh"
    scores = torch.from_numpy(merged.output)
    np.testing.assert_allclose(result.probabilities, torch.softmax(scores, 0).numpy(), rtol=1e-6)
