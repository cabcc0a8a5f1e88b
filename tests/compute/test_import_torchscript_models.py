"""TorchScript files that are not an nn.Sequential (issue 18): a forward that is the
chain of its children comes in as that chain (checked against the file's module),
anything else as one Opaque layer running the whole module; parameters keep the
module's own keys, and their count is torch's."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
import torch
from torch import nn

from cnnviz.cli import main
from cnnviz.compute.importers.sources import import_source
from cnnviz.compute.weights import save_weights
from cnnviz.core.analysis import analyze
from tests.imported_nets import converted

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # torch.jit is deprecated
SHAPE = (3, 16, 16)


class Scale(nn.Module):
    """A module cnnviz has no type for."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.gain = nn.Parameter(torch.linspace(0.5, 1.5, channels).view(channels, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gain


class ChainNet(nn.Module):
    """Not a Sequential, but its forward calls its children in order."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.act = nn.ReLU()
        self.scale = Scale(8)
        self.head = nn.Sequential(nn.MaxPool2d(2), nn.Flatten(), nn.Linear(8 * 8 * 8, 5))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.scale(self.act(self.bn(self.conv(x)))))


class ResidualNet(nn.Module):
    """A ResNet-like block: its forward adds its input back (no chain of children)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 3, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(3)
        self.conv2 = nn.Conv2d(3, 3, 3, padding=1)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(3, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        out = torch.relu(self.conv2(out) + x)
        return self.fc(torch.flatten(self.pool(out), 1))


class Reordered(nn.Module):
    """Its children are declared in another order than its forward calls them."""

    def __init__(self) -> None:
        super().__init__()
        self.second = nn.Conv2d(4, 2, 1)
        self.first = nn.Conv2d(3, 4, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.second(self.first(x))


def _trained_like(model: nn.Module) -> nn.Module:
    """Batch-norm statistics that are not the defaults, so they must be carried."""
    torch.manual_seed(7)
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
    return model.eval()


def _saved(tmp_path: Path, model: nn.Module, how: str, name: str = "model.pt") -> Path:
    path = tmp_path / name
    if how == "script":
        torch.jit.script(model).save(str(path))
    else:
        torch.jit.trace(model, torch.randn(1, *SHAPE)).save(str(path))
    return path


def _same_outputs(imported, model: nn.Module) -> bool:
    x = torch.randn(3, *SHAPE, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        return torch.allclose(converted(imported)(x), model(x), rtol=1e-5, atol=1e-6)


def _count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def test_a_scripted_chain_comes_in_as_its_layers(tmp_path):
    torch.manual_seed(0)
    model = _trained_like(ChainNet())
    imported = import_source(str(_saved(tmp_path, model, "script")), SHAPE)
    layers = imported.architecture.layers
    assert [layer.type for layer in layers] == [
        "Conv2d", "BatchNorm2d", "ReLU", "Opaque", "MaxPool2d", "Flatten", "Linear",
    ]  # fmt: skip
    assert (layers[3].get("label"), layers[3].get("source")) == ("Scale", "scale")
    assert layers[0].get("padding") == 1 and layers[6].get("out_features") == 5
    assert _same_outputs(imported, model)
    assert analyze(imported.architecture).total_params == _count(model)
    # The module's own keys, each to its cnnviz address.
    assert set(imported.key_map) == set(model.state_dict())
    assert imported.key_map["head.2.weight"] == ("6.weight",)
    assert imported.key_map["scale.gain"] == ("3.gain",)
    assert "checked numerically on two inputs" in imported.architecture.metadata["description"]


def test_a_traced_chain_comes_in_as_its_layers_too(tmp_path):
    """A trace keeps no constructor arguments: they are read from the aten call each
    layer made (stride, padding, eps, ...) and the weights' shapes."""
    torch.manual_seed(1)
    model = _trained_like(ChainNet())
    traced = import_source(str(_saved(tmp_path, model, "trace")), SHAPE)
    scripted = import_source(str(_saved(tmp_path, model, "script", "s.pt")), SHAPE)
    assert [layer.type for layer in traced.architecture.layers] == [
        "Conv2d", "BatchNorm2d", "ReLU", "Opaque", "MaxPool2d", "Flatten", "Linear",
    ]  # fmt: skip
    plain = [layer for layer in traced.architecture.layers if layer.type != "Opaque"]
    assert plain == [layer for layer in scripted.architecture.layers if layer.type != "Opaque"]
    assert _same_outputs(traced, model)
    assert analyze(traced.architecture).total_params == _count(model)
    assert set(traced.key_map) == set(model.state_dict())


def test_a_traced_sequential_keeps_every_argument_it_was_built_with(tmp_path):
    model = nn.Sequential(
        nn.Conv2d(3, 4, 3, stride=2, padding=1, bias=False),
        nn.BatchNorm2d(4, eps=1e-3),
        nn.MaxPool2d(2, ceil_mode=True),
        nn.AvgPool2d(2, padding=1),
        nn.Conv2d(4, 6, 1, groups=2),
        nn.Flatten(),
        nn.Linear(6 * 3 * 3, 5, bias=False),
        nn.Dropout(0.3),
        nn.LeakyReLU(0.2),
    )
    model = _trained_like(model)
    traced = import_source(str(_saved(tmp_path, model, "trace")), SHAPE)
    scripted = import_source(str(_saved(tmp_path, model, "script", "s.pt")), SHAPE)
    assert traced.architecture.layers == scripted.architecture.layers
    assert traced.architecture.layers[1].get("eps") == 1e-3
    assert _same_outputs(traced, model)


@pytest.mark.parametrize("how", ["script", "trace"])
def test_a_residual_model_is_one_opaque_layer_and_says_why(tmp_path, caplog, how):
    torch.manual_seed(2)
    model = _trained_like(ResidualNet())
    with caplog.at_level(logging.WARNING, logger="cnnviz.compute.importers.torchscript"):
        imported = import_source(str(_saved(tmp_path, model, how, "resnet.pt")), SHAPE)
    (layer,) = imported.architecture.layers
    assert (layer.type, layer.get("label"), layer.get("source")) == (
        "Opaque", "ResidualNet", "resnet.pt",
    )  # fmt: skip
    assert tuple(layer.get("out_shape")) == (4,)
    assert _same_outputs(imported, model)
    assert analyze(imported.architecture).total_params == _count(model)
    assert imported.key_map == {key: (f"0.{key}",) for key in model.state_dict()}
    note = (
        "resnet.pt: its forward is not a chain of its children (e.g. a residual add); "
        "shown as one opaque layer; import the Python class (FILE.py:CLASS) to see inside it"
    )
    assert [record.getMessage() for record in caplog.records] == [note]
    assert imported.architecture.metadata["description"] == note


def test_children_declared_out_of_order_are_no_chain(tmp_path):
    model = Reordered().eval()
    imported = import_source(str(_saved(tmp_path, model, "script")), SHAPE)
    assert [layer.type for layer in imported.architecture.layers] == ["Opaque"]
    assert _same_outputs(imported, model)


@pytest.mark.parametrize("model_class", [ChainNet, ResidualNet])
def test_weights_under_the_modules_own_keys_are_used(tmp_path, model_class):
    torch.manual_seed(3)
    model = _trained_like(model_class())
    path = _saved(tmp_path, model, "script")
    torch.manual_seed(4)
    other = _trained_like(model_class())
    weights = tmp_path / "other.safetensors"
    save_weights(other.state_dict(), weights)
    imported = import_source(str(path), SHAPE, str(weights))
    assert _same_outputs(imported, other)
    assert not _same_outputs(imported, model)


@pytest.mark.parametrize("model_class", [ChainNet, ResidualNet])
def test_summary_json_counts_the_parameters_torch_counts(tmp_path, capsys, model_class):
    model = model_class().eval()
    path = _saved(tmp_path, model, "trace")
    code = main(["summary", str(path), "--input", ",".join(map(str, SHAPE)), "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert json.loads(out)["total_params"] == _count(model)


def test_a_traced_layer_whose_rebuild_computes_otherwise_runs_its_own_program(tmp_path):
    """A reflect-padded conv traces as a pad and a conv without padding: rebuilt from
    that call it would give another output, so the traced layer is kept as it is."""
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1, padding_mode="reflect"), nn.ReLU())
    imported = import_source(str(_saved(tmp_path, model.eval(), "trace")), SHAPE)
    layers = imported.architecture.layers
    assert [layer.type for layer in layers] == ["Opaque", "ReLU"]
    assert layers[0].get("label") == "Conv2d"
    assert _same_outputs(imported, model)
