"""The shipped class lists and the "classes" an architecture file may name."""

from __future__ import annotations

import json

import pytest

from cnnviz.core.architecture import ArchitectureError, loads
from cnnviz.core.class_names import named_classes
from cnnviz.core.presets import load_preset

IMAGENET_PRESETS = ("alexnet", "vgg11", "vgg16", "resnet18", "mobilenet_v2")


def _file(**extra) -> str:
    data = {
        "format": "cnnviz-architecture",
        "version": 1,
        "name": "n",
        "input": {"channels": 3, "height": 8, "width": 8},
        "layers": [{"type": "Flatten"}, {"type": "Linear", "out_features": 1000}],
        **extra,
    }
    return json.dumps(data)


def test_imagenet_names_in_index_order():
    names = named_classes("imagenet")
    assert len(names) == len(set(names)) == 1000
    # Spot checks at known indices of the ILSVRC 2012 order torchvision reports.
    assert (names[0], names[1], names[285], names[967], names[999]) == (
        "tench",
        "goldfish",
        "Egyptian cat",
        "espresso",
        "toilet tissue",
    )
    assert all(name == name.strip() and name for name in names)


def test_an_architecture_names_the_imagenet_list_and_keeps_the_name_when_saved():
    arch = loads(_file(classes="imagenet"))
    assert arch.classes == list(named_classes("imagenet"))
    assert arch.to_json()["classes"] == "imagenet"  # not a thousand names copied in
    assert loads(arch.dumps()).classes == arch.classes


@pytest.mark.parametrize("value", ["imagenet21k", 5, ["a", 2]])
def test_unknown_class_list_is_refused_in_one_line(value):
    with pytest.raises(ArchitectureError, match='"classes" must be a list of names, or "imagenet"'):
        loads(_file(classes=value))


@pytest.mark.parametrize("name", IMAGENET_PRESETS)
def test_imagenet_presets_name_the_imagenet_classes(name):
    assert load_preset(name).classes == list(named_classes("imagenet"))
