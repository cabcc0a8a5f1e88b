"""torchvision's ImageNet checkpoints in the presets: each mapping against a reference.

No network: each test writes a checkpoint with torchvision's names, made from a
reference model written here (AlexNet, VGG) or in tests/reference_nets.py
(ResNet-18, MobileNetV2) as torchvision writes it, under torchvision's file
name in a temporary ``TORCH_HOME``. The preset then finds it by itself
(presets.weights_path), reads it as every weights file is read, and must give
the reference's outputs. AlexNet and VGG run narrowed (every width divided,
the same layers in the same order) on a small input, so the test needs
megabytes, not the 0.5 GB of VGG-16; the full-size presets are compared with
full-size references key by key and shape by shape on the meta device.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

from cnnviz.cli import main
from cnnviz.compute.hub_weights import module_renames, to_model_keys
from cnnviz.compute.model import build_model
from cnnviz.compute.weights import WeightsError, load_weights
from cnnviz.core import hub_files
from cnnviz.core.architecture import InputShape
from cnnviz.core.class_names import named_classes
from cnnviz.core.images import Preprocessing, load_image, to_network_input
from cnnviz.core.presets import load_preset, weights_path
from cnnviz.core.samples import sample
from tests.reference_nets import MobileNetV2, ResNet

VGG_CONFIGS = {
    "vgg11": (64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"),
    "vgg16": (
        64,
        64,
        "M",
        128,
        128,
        "M",
        256,
        256,
        256,
        "M",
        512,
        512,
        512,
        "M",
        512,
        512,
        512,
        "M",
    ),
}


class VGG(nn.Module):
    """torchvision/models/vgg.py without batch norm; widths divided by `narrow`."""

    def __init__(self, config, narrow: int = 1, classes: int = 1000):
        super().__init__()
        layers: list[nn.Module] = []
        cin = 3
        for v in config:
            if v == "M":
                layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            else:
                layers += [nn.Conv2d(cin, v // narrow, kernel_size=3, padding=1), nn.ReLU()]
                cin = v // narrow
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        hidden = 4096 // narrow
        self.classifier = nn.Sequential(
            nn.Linear(cin * 7 * 7, hidden),
            nn.ReLU(),
            nn.Dropout(),
            nn.Linear(hidden, hidden),
            nn.ReLU(),
            nn.Dropout(),
            nn.Linear(hidden, classes),
        )

    def forward(self, x):
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


class AlexNet(nn.Module):
    """torchvision/models/alexnet.py; widths divided by `narrow`."""

    def __init__(self, narrow: int = 1, classes: int = 1000):
        super().__init__()
        w = [c // narrow for c in (64, 192, 384, 256, 256)]
        self.features = nn.Sequential(
            nn.Conv2d(3, w[0], kernel_size=11, stride=4, padding=2),
            nn.ReLU(),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(w[0], w[1], kernel_size=5, padding=2),
            nn.ReLU(),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(w[1], w[2], kernel_size=3, padding=1),
            nn.ReLU(),
            nn.Conv2d(w[2], w[3], kernel_size=3, padding=1),
            nn.ReLU(),
            nn.Conv2d(w[3], w[4], kernel_size=3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(kernel_size=3, stride=2),
        )
        self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
        hidden = 4096 // narrow
        self.classifier = nn.Sequential(
            nn.Dropout(),
            nn.Linear(w[4] * 6 * 6, hidden),
            nn.ReLU(),
            nn.Dropout(),
            nn.Linear(hidden, hidden),
            nn.ReLU(),
            nn.Linear(hidden, classes),
        )

    def forward(self, x):
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


# preset → (reference at a width divisor, divisor used for the forward, input side)
REFERENCES = {
    "alexnet": (lambda narrow=1: AlexNet(narrow), 16, 64),
    "vgg11": (lambda narrow=1: VGG(VGG_CONFIGS["vgg11"], narrow), 16, 32),
    "vgg16": (lambda narrow=1: VGG(VGG_CONFIGS["vgg16"], narrow), 16, 32),
    "resnet18": (lambda narrow=1: ResNet(), 1, 64),
    "mobilenet_v2": (lambda narrow=1: MobileNetV2(), 1, 64),
}


def narrowed(name: str, narrow: int, side: int):
    """The preset with every width (but the 1000 outputs) divided by `narrow`."""
    arch = load_preset(name)

    def shrink(layer):
        if layer.is_block:
            return layer.with_paths([[shrink(inner) for inner in p] for p in layer.paths])
        if layer.type in ("Conv2d",) and narrow > 1:
            changes = {"out_channels": layer.get("out_channels") // narrow}
            return layer.with_params(**changes)
        if layer.type == "Linear" and layer.get("out_features") != 1000:
            return layer.with_params(out_features=layer.get("out_features") // narrow)
        return layer

    arch = arch.with_layers(shrink(layer) for layer in arch.layers)
    return arch.with_input(InputShape(3, side, side))


def randomised(model: nn.Module, seed: int) -> nn.Module:
    """Batch norms with statistics far from the identity, so a misplaced one shows."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                n = module.num_features
                module.weight.copy_(0.5 + torch.rand(n, generator=generator))
                module.bias.copy_(0.1 * torch.randn(n, generator=generator))
                module.running_mean.copy_(0.1 * torch.randn(n, generator=generator))
                module.running_var.copy_(0.5 + torch.rand(n, generator=generator))
    return model.eval()


def write_checkpoint(home, name: str, state) -> object:
    path = home / "hub" / "checkpoints" / hub_files.find(name).file
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, path)
    return path


@pytest.mark.parametrize("name", list(REFERENCES))
def test_full_size_preset_takes_every_torchvision_tensor_with_its_shape(name):
    make = REFERENCES[name][0]
    with torch.device("meta"):
        reference = make()
        model = build_model(load_preset(name), 0)
    expected = {key: tuple(t.shape) for key, t in model.state_dict().items()}
    renamed = to_model_keys(reference.state_dict(), expected)
    got = {key: tuple(t.shape) for key, t in renamed.items()}
    optional = {k for k in set(got) ^ set(expected) if k.endswith("num_batches_tracked")}
    assert {k: v for k, v in got.items() if k not in optional} == {
        k: v for k, v in expected.items() if k not in optional
    }


@pytest.mark.parametrize("name", list(REFERENCES))
def test_preset_loaded_from_the_hub_cache_computes_what_the_reference_computes(
    name, tmp_path, monkeypatch
):
    make, narrow, side = REFERENCES[name]
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    torch.manual_seed(0)
    reference = randomised(make(narrow), seed=1)
    path = write_checkpoint(tmp_path, name, reference.state_dict())
    arch = narrowed(name, narrow, side)
    assert weights_path(arch) == path  # found with no option, as the CLI and window find it
    model = build_model(arch, seed=3)
    load_weights(model, path)
    model.eval()
    x = torch.randn(2, 3, side, side, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        expected, got = reference(x), model(x)
    assert got.shape == (2, 1000)
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)


def test_resnet_names_map_onto_blocks_and_their_shortcuts():
    with torch.device("meta"):
        renames = module_renames(ResNet().state_dict())
    assert renames["conv1"] == "0" and renames["bn1"] == "1"
    assert renames["layer1.0.conv1"] == "4.body.0"
    assert renames["layer1.1.bn2"] == "6.body.4"
    assert renames["layer2.0.downsample.0"] == "8.shortcut.0"
    assert renames["layer4.1.conv2"] == "18.body.3"
    assert renames["fc"] == "22"


def test_mobilenet_names_map_flat_blocks_and_residual_blocks():
    with torch.device("meta"):
        renames = module_renames(MobileNetV2().state_dict())
    assert renames["features.1.conv.0.0"] == "3"  # no expansion: depthwise first
    assert renames["features.1.conv.2"] == "7"
    assert renames["features.2.conv.3"] == "15"  # stride 2: laid out flat
    assert renames["features.3.conv.1.0"] == "16.body.3"  # adds its input: a Residual
    assert renames["features.18.0"] == "66"
    assert renames["classifier.1"] == "72"


def test_a_checkpoint_of_another_network_is_refused_in_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    reference = AlexNet(narrow=16)
    path = write_checkpoint(tmp_path, "vgg11", reference.state_dict())
    model = build_model(narrowed("vgg11", 16, 32), 0)
    with pytest.raises(WeightsError, match="vgg11-8a719046.pth do not fit the stack") as caught:
        load_weights(model, path)
    assert "\n" not in str(caught.value)


def test_run_resnet18_equals_a_torchvision_resnet18_that_loaded_the_same_file(
    tmp_path, monkeypatch, capsys
):
    # The end-to-end check, at 224 with torchvision's preprocessing.
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    torch.manual_seed(0)
    path = write_checkpoint(tmp_path, "resnet18", randomised(ResNet(), seed=4).state_dict())
    reference = ResNet().eval()
    reference.load_state_dict(torch.load(path, weights_only=True))
    out = tmp_path / "acts.npz"
    image = sample("cat").path
    assert main(["run", "resnet18", str(image), "--out", str(out), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["weights"] == str(path) and report["trained"] is True
    with np.load(out) as acts:
        x, logits = acts["input"], acts["layer_22"]
    prep = Preprocessing(resize="crop", crop_fraction=0.875, normalize="imagenet")
    np.testing.assert_array_equal(x, to_network_input(load_image(image), 3, 224, 224, prep))
    with torch.no_grad():
        expected = reference(torch.from_numpy(x)[None])[0]
    torch.testing.assert_close(torch.from_numpy(logits), expected, rtol=1e-4, atol=1e-4)
    best = int(expected.argmax())
    assert report["predicted_class"] == best
    assert report["class_name"] == named_classes("imagenet")[best]
