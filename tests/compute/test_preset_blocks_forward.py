"""The block presets, built by compute, compute what torchvision-style references compute.

The reference (tests/reference_nets.py) gets random weights and random
batch-norm statistics; its state_dict goes into the preset's model by order
under the preset's own keys, and both must give the same outputs in eval mode.
Smaller inputs than the presets' own keep it fast: every network here ends in
a global average pool, so any size that survives the strides runs.
"""

from __future__ import annotations

import pytest
import torch

from cnnviz.compute.model import build_model
from cnnviz.compute.weights import load_weights
from cnnviz.core.architecture import InputShape
from cnnviz.core.presets import load_preset
from tests.reference_nets import CASES, preset_state


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Two threads on the shared 2-core machine made these forwards 30x slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def randomize_batch_norm(model: torch.nn.Module) -> None:
    """Statistics and affine values away from 0/1, so a BN that is skipped,
    misplaced or fed the wrong buffer changes the output."""
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            n = module.num_features
            module.running_mean.copy_(torch.randn(n) * 0.1)
            module.running_var.copy_(torch.rand(n) + 0.5)
            module.weight.data.copy_(torch.rand(n) + 0.5)
            module.bias.data.copy_(torch.randn(n) * 0.1)


@pytest.mark.parametrize(
    ("name", "size"),
    [("resnet18", 64), ("mobilenet_v2", 64), ("inception_small", 32), ("resnet_digits", 28)],
)
def test_outputs_equal_the_reference_networks(name, size):
    arch = load_preset(name)
    arch = arch.with_input(InputShape(arch.input.channels, size, size))
    torch.manual_seed(0)
    reference = CASES[name][0]()
    with torch.no_grad():
        randomize_batch_norm(reference)
    keys = [key for key, _ in preset_state(arch)]
    model = build_model(arch, seed=1)
    model.load_state_dict(dict(zip(keys, reference.state_dict().values(), strict=True)))
    reference.eval(), model.eval()
    x = torch.randn(2, arch.input.channels, size, size)
    with torch.no_grad():
        expected = reference(x)
        torch.testing.assert_close(model(x), expected, rtol=1e-4, atol=1e-5)
    assert expected.shape == (2, 1000 if name in ("resnet18", "mobilenet_v2") else 10)


def test_a_safetensors_file_of_torchvision_named_weights_renamed_loads_as_it_is(tmp_path):
    """The digits ResNet's keys follow its module tree, so a reference's
    state_dict saved under those names is a weights file cnnviz reads."""
    from safetensors.torch import save_file

    arch = load_preset("resnet_digits")
    reference = CASES["resnet_digits"][0]()
    keys = [key for key, _ in preset_state(arch)]
    state = dict(zip(keys, reference.state_dict().values(), strict=True))
    save_file({k: v.contiguous() for k, v in state.items()}, tmp_path / "w.safetensors")
    model = build_model(arch, seed=3)
    load_weights(model, tmp_path / "w.safetensors")
    for key, value in model.state_dict().items():
        assert torch.equal(value, state[key]), key


@pytest.mark.parametrize("name", ["resnet18", "mobilenet_v2"])
def test_torchvision_names_are_renamed_onto_the_presets_keys(name):
    """A torchvision checkpoint (here the reference's own state_dict, with
    torchvision's names) lands on the preset's keys, every tensor in its place."""
    from cnnviz.compute.hub_weights import to_model_keys

    expected = dict(preset_state(load_preset(name)))
    with torch.device("meta"):
        state = CASES[name][0]().state_dict()
    renamed = to_model_keys(state, expected)
    assert {key: tuple(value.shape) for key, value in renamed.items()} == expected
    ordered = list(renamed)
    assert ordered == list(expected)
