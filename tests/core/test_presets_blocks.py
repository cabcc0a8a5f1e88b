"""The presets with blocks are the networks they are named after.

Each preset is compared with an independent torch model written the way
torchvision writes it (tests/reference_nets.py): the same parameter count,
and every state_dict entry (weights and batch-norm buffers) of the same shape
in the same order, the preset's keys following its module tree
("4.body.0.weight") where torchvision's follow its attributes
("layer1.0.conv1.weight"). The preset's side is built from the core's
analysis, one torch module per leaf layer at the address the core gives it
(reference_nets.preset_state), so it needs nothing from compute.
"""

from __future__ import annotations

import re

import pytest
import torch

from cnnviz.core.analysis import analyze
from cnnviz.core.presets import PRESETS, load_preset, preset_path, weights_path
from tests import reference_nets as ref
from tests.reference_nets import CASES, preset_state

# torchvision's resnet18: every convolution's weight and the classifier's, in
# state_dict order (conv1, then layerS.B.conv1/conv2/downsample.0, then fc).
RESNET18_WEIGHT_SHAPES = [
    (64, 3, 7, 7),
    *[(64, 64, 3, 3)] * 4,
    (128, 64, 3, 3), (128, 128, 3, 3), (128, 64, 1, 1), (128, 128, 3, 3), (128, 128, 3, 3),
    (256, 128, 3, 3), (256, 256, 3, 3), (256, 128, 1, 1), (256, 256, 3, 3), (256, 256, 3, 3),
    (512, 256, 3, 3), (512, 512, 3, 3), (512, 256, 1, 1), (512, 512, 3, 3), (512, 512, 3, 3),
    (1000, 512),
]  # fmt: skip


def reference_state(name: str) -> list[tuple[str, tuple[int, ...]]]:
    with torch.device("meta"):
        model = CASES[name][0]()
    return [(key, tuple(value.shape)) for key, value in model.state_dict().items()]


def test_every_block_preset_is_listed():
    # The preset's name as typed ("mobilenet_v2") is its key without underscores.
    assert {name.replace("_", "") for name in CASES} <= set(PRESETS)


@pytest.mark.parametrize("name", CASES)
def test_parameter_count_is_the_reference_networks(name):
    reference, expected = CASES[name]
    arch = load_preset(name)
    analysis = analyze(arch)
    assert analysis.valid, analysis.first_error
    assert arch.has_blocks
    assert analysis.total_params == expected
    with torch.device("meta"):
        assert sum(p.numel() for p in reference().parameters()) == expected


@pytest.mark.parametrize("name", CASES)
def test_every_state_entry_has_the_reference_shape_in_order(name):
    ours, theirs = preset_state(load_preset(name)), reference_state(name)
    assert [shape for _, shape in ours] == [shape for _, shape in theirs]
    # The same kind of entry at each place: weight with weight, running_var with running_var.
    assert [k.rsplit(".", 1)[1] for k, _ in ours] == [k.rsplit(".", 1)[1] for k, _ in theirs]


def torchvision_to_preset_key(key: str) -> str:
    """ResNet-18's torchvision key as the preset names it: the stem is layers
    0-1, block k (layerS.B, k = 2(S-1)+B) is layer 4+2k with a ReLU after it,
    the classifier is layer 22."""
    stem = {"conv1": "0", "bn1": "1", "fc": "22"}
    head, _, rest = key.partition(".")
    if head in stem:
        return f"{stem[head]}.{rest}"
    stage, block, module, tail = re.fullmatch(r"layer(\d)\.(\d)\.(\w+)\.(.+)", key).groups()
    top = 4 + 2 * (2 * (int(stage) - 1) + int(block))
    inside = {"conv1": "body.0", "bn1": "body.1", "conv2": "body.3", "bn2": "body.4"}
    if module == "downsample":
        return f"{top}.shortcut.{tail}"
    return f"{top}.{inside[module]}.{tail}"


def test_resnet18_keys_map_one_to_one_onto_torchvisions():
    ours = dict(preset_state(load_preset("resnet18")))
    theirs = reference_state("resnet18")
    mapped = {torchvision_to_preset_key(key): shape for key, shape in theirs}
    assert len(mapped) == len(theirs) == len(ours) == 122
    assert mapped == ours
    weights = [shape for key, shape in theirs if key.endswith("weight") and len(shape) > 1]
    assert weights == RESNET18_WEIGHT_SHAPES
    assert ours["8.shortcut.0.weight"] == (128, 64, 1, 1)
    assert ours["8.shortcut.1.running_var"] == (128,)


def test_mobilenet_v2_has_torchvisions_inverted_residuals():
    arch = load_preset("mobilenet_v2")
    with torch.device("meta"):
        reference = ref.MobileNetV2()
    residuals = [layer for layer in arch.layers if layer.type == "Residual"]
    assert len(residuals) == sum(m.use_res_connect for m in reference.features[1:-1])
    assert all(layer.paths[1] == () for layer in residuals)  # identity shortcuts
    assert {layer.type for _, layer in arch.walk()} >= {"ReLU6", "Dropout"}
    depthwise = [
        layer for _, layer in arch.walk() if layer.type == "Conv2d" and layer.get("groups") > 1
    ]
    assert len(depthwise) == 17
    assert analyze(arch).total_macs == pytest.approx(300e6, rel=0.05)


def test_inception_modules_concatenate_four_branches():
    analysis = analyze(load_preset("inception_small"))
    modules = [info for info in analysis.layers if info.layer.type == "Parallel"]
    assert [len(info.layer.paths) for info in modules] == [4, 4, 4]
    assert [info.output_shape for info in modules] == [(64, 32, 32), (128, 16, 16), (176, 8, 8)]


def test_the_digits_resnet_ships_trained_weights():
    """tests/compute/test_bundled_weights.py checks that the weights score this."""
    arch = load_preset("resnet_digits")
    assert weights_path(arch, preset_path("resnet_digits")) is not None
    metrics = arch.metadata["metrics"]
    assert metrics["dataset"] == "digits" and metrics["test_accuracy"] >= 0.98
    assert metrics["command"].startswith("cnnviz train resnet_digits --dataset digits")
