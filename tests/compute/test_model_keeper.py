"""Deterministic per-layer initialisation, and weights that survive unrelated edits."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from cnnviz.compute.model import ModelKeeper, build_model
from cnnviz.core.architecture import ArchitectureError, InputShape, Layer
from cnnviz.core.presets import load_preset


def tinyvgg():
    # 0 Conv 1 ReLU 2 Conv 3 ReLU 4 MaxPool 5 Conv 6 ReLU 7 Conv 8 ReLU 9 MaxPool
    # 10 Flatten 11 Linear
    return load_preset("tinyvgg").with_input(InputShape(3, 32, 32))


def mark(model: nn.Module, value_per_layer: dict[int, float]) -> None:
    """Stand-in for trained weights: values no initialisation would draw."""
    with torch.no_grad():
        for index, value in value_per_layer.items():
            for tensor in model[index].parameters():
                tensor.fill_(value)


def layer_state(module: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in module.state_dict().items()}


def assert_same_weights(a: nn.Module, b: nn.Module) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for key in sa:
        assert torch.equal(sa[key], sb[key]), key


def test_same_seed_same_weights_and_torch_global_state_untouched():
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    a, b = build_model(tinyvgg(), seed=7), build_model(tinyvgg(), seed=7)
    assert torch.equal(torch.random.get_rng_state(), before)
    assert_same_weights(a, b)
    c = build_model(tinyvgg(), seed=8)
    assert not torch.equal(a[0].weight, c[0].weight)


def test_twin_layers_get_different_weights():
    arch = tinyvgg()
    layers = [Layer.make("Conv2d", out_channels=3, kernel_size=3, padding=1)] * 2
    model = build_model(arch.with_layers(layers), seed=0)
    assert not torch.equal(model[0].weight, model[1].weight)


def test_inserting_a_layer_does_not_rerandomise_the_others_in_a_fresh_build():
    arch = tinyvgg()
    layers = list(arch.layers)
    # A shape-preserving layer after layer 0: every other layer's input is unchanged.
    inserted = arch.with_layers([layers[0], Layer.make("BatchNorm2d"), *layers[1:]])
    old, new = build_model(arch, 0), build_model(inserted, 0)
    for i in range(len(layers)):
        assert_same_weights(old[i], new[i if i == 0 else i + 1])


def test_changing_layer_5_stride_keeps_layers_0_to_4():
    arch = tinyvgg()
    keeper = ModelKeeper()
    model = keeper.update(arch, 0)
    mark(model, {0: 0.5, 2: 0.25})
    kept = {i: layer_state(model[i]) for i in range(5)}
    old_layer_7 = layer_state(model[7])
    layers = list(arch.layers)
    layers[5] = layers[5].with_params(stride=2)
    model2 = keeper.update(arch.with_layers(layers), 0)
    for i in range(5):
        for key, value in kept[i].items():
            assert torch.equal(model2[i].state_dict()[key], value)
    assert model2[5].stride == (2, 2)
    assert keeper.kept[:5] == (0, 1, 2, 3, 4)
    # Layer 7 sees smaller maps now (its input shape changed): re-initialised.
    assert 7 not in keeper.kept
    assert not torch.equal(model2[7].weight, old_layer_7["weight"])


def test_inserting_and_removing_layers_keeps_everyone_elses_weights():
    arch = tinyvgg()
    keeper = ModelKeeper()
    model = keeper.update(arch, 0)
    mark(model, {0: 0.5, 2: 0.25, 5: 0.125, 7: 0.0625, 11: 0.03125})
    before = {i: layer_state(model[i]) for i in (0, 2, 5, 7, 11)}
    layers = list(arch.layers)
    inserted = arch.with_layers([*layers[:3], Layer.make("LeakyReLU"), *layers[3:]])
    model2 = keeper.update(inserted, 0)
    for old_index, state in before.items():
        new_index = old_index if old_index < 3 else old_index + 1
        assert_same_state(model2[new_index], state)
    removed = inserted.with_layers([*inserted.layers[:3], *inserted.layers[4:]])
    model3 = keeper.update(removed, 0)
    for index, state in before.items():
        assert_same_state(model3[index], state)


def assert_same_state(module: nn.Module, state: dict[str, torch.Tensor]) -> None:
    for key, value in state.items():
        assert torch.equal(module.state_dict()[key], value), key


def test_changing_a_layer_itself_reinitialises_it():
    arch = tinyvgg()
    keeper = ModelKeeper()
    model = keeper.update(arch, 0)
    mark(model, {0: 0.5})
    layers = list(arch.layers)
    layers[0] = layers[0].with_params(out_channels=4)
    model2 = keeper.update(arch.with_layers(layers), 0)
    assert model2[0].weight.shape[0] == 4
    assert not torch.all(model2[0].weight == 0.5)
    assert 0 not in keeper.kept


def test_a_new_seed_starts_over():
    keeper = ModelKeeper()
    model = keeper.update(tinyvgg(), 0)
    mark(model, {0: 0.5})
    model2 = keeper.update(tinyvgg(), 1)
    assert keeper.kept == ()
    assert_same_weights(model2, build_model(tinyvgg(), 1))


def test_invalid_stack_is_an_architecture_error():
    arch = tinyvgg().with_input(InputShape(3, 4, 4))  # the 3×3 convs shrink it to nothing
    with pytest.raises(ArchitectureError, match="layer"):
        ModelKeeper().update(arch, 0)
