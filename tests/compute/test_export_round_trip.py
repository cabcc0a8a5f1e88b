"""Export, then import (issue 18's round trip): the file `cnnviz export` writes,
imported back as a person would (``net.py:build_model`` with a safetensors file
of cnnviz's weights), is the same network, with the same weights, computing
the same outputs.

"The same architecture" is read as the export reads it: both export to the
same code (each layer's type and the arguments torch gets, the blocks and
their merges). A few spellings build one and the same torch model, so the
importer cannot tell them apart and both sides are first brought to one
spelling (``canonical``): a pool's stride equal to its kernel (torch's
default), a block of one path (no merge at all: its layers), an add of two
paths (a Residual, the longer path its body) and an add inside an add of the
same input (one add of all the paths). The presets need none of these but the
first, so they also come back with cnnviz's own weight keys, one for one.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from safetensors.torch import save_file

from cnnviz.compute.importers import ModelImportError
from cnnviz.compute.importers.sources import import_source
from cnnviz.compute.model import build_model
from cnnviz.core import blocks
from cnnviz.core.analysis import analyze
from cnnviz.core.architecture import Architecture, InputShape, Layer, from_json
from cnnviz.core.export_code import export_code
from cnnviz.core.presets import PRESETS, load_preset
from tests.compute.test_forward_hooked import randomize
from tests.graph_strategies import graphs

POOLS = ("MaxPool2d", "AvgPool2d")


@pytest.fixture(autouse=True)
def one_torch_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _sides(value):
    return (value, value) if isinstance(value, int) else tuple(value)


def _leaf(layer: Layer) -> Layer:
    stride = layer.get("stride") if layer.type in POOLS else None
    if stride is not None and _sides(stride) == _sides(layer.get("kernel_size")):
        return Layer.make(layer.type, **{k: v for k, v in layer.params.items() if k != "stride"})
    return layer


def _is_add(layer: Layer) -> bool:
    return layer.is_block and blocks.merge_kind(layer.type, layer.params) == "add"


def canonical_path(layers) -> list[Layer]:
    """A path in the one spelling of each torch model (see the module docstring)."""
    out: list[Layer] = []
    for layer in layers:
        if not layer.is_block:
            out.append(_leaf(layer))
            continue
        paths = [canonical_path(path) for path in layer.paths]
        if _is_add(layer):  # (a + b) + c of one input is a + b + c
            paths = [
                q for p in paths for q in (p[0].paths if len(p) == 1 and _is_add(p[0]) else [p])
            ]
        if len(paths) == 1:
            out.extend(paths[0])
        elif _is_add(layer) and len(paths) == 2:
            out.append(Layer.block(blocks.RESIDUAL, sorted(paths, key=len, reverse=True)))
        else:
            merge = {"merge": "add"} if _is_add(layer) else {}
            out.append(Layer.block(blocks.PARALLEL, paths, **merge))
    return out


def canonical(arch: Architecture) -> Architecture:
    """The layers in one spelling; the name is the file's, not the network's."""
    return replace(arch, name="net", layers=tuple(canonical_path(arch.layers)), metadata={})


def round_trip(arch: Architecture, seed: int, folder):
    """(cnnviz's model with random weights, the network imported from its export)."""
    net = folder / "net.py"
    net.write_text(export_code(arch), encoding="utf-8")
    ours = build_model(arch, seed=0)
    randomize(ours, seed)
    weights = folder / "net.safetensors"
    save_file(ours.state_dict(), str(weights))
    imported = import_source(f"{net}:build_model", arch.input.as_tuple(), str(weights))
    return ours.eval(), imported


def assert_same_network(arch: Architecture, seed: int, folder):
    """The round trip gives the same network computing the same; (ours, imported)."""
    ours, imported = round_trip(arch, seed, folder)
    assert export_code(canonical(imported.architecture)) == export_code(canonical(arch))
    back = build_model(imported.architecture)
    back.load_state_dict(imported.state)
    # Every weight of the file's model came into the imported network.
    assert set(imported.key_map) == set(ours.state_dict())
    x = torch.from_numpy(
        np.random.default_rng(seed).standard_normal((2, *arch.input.as_tuple()), dtype=np.float32)
    )
    with torch.no_grad():
        np.testing.assert_allclose(back.eval()(x).numpy(), ours(x).numpy(), rtol=1e-5, atol=1e-5)
    return ours, imported


# VGG and AlexNet at 64×64: the same layers (their adaptive pool keeps the
# classifier's sizes), without seconds of 224×224 forwards on a CI machine.
SMALL = {"vgg16": 64, "vgg11": 64, "alexnet": 64}


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_comes_back_with_cnnviz_keys(name, tmp_path):
    arch = load_preset(name)
    if name in SMALL:
        arch = arch.with_input(InputShape(3, SMALL[name], SMALL[name]))
    ours, imported = assert_same_network(arch, 2, tmp_path)
    # Nothing to respell but a pool's stride: the same tree, so the same keys.
    assert [a for a, _ in imported.architecture.walk()] == [a for a, _ in arch.walk()]
    assert list(imported.state) == list(ours.state_dict())
    assert all(imported.key_map[key] == (key,) for key in imported.state)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graphs(), st.integers(0, 2**31 - 1))
def test_generated_graphs_come_back_the_same(tmp_path_factory, graph, seed):
    arch = from_json(graph)
    assume(analyze(arch).valid)
    try:
        assert_same_network(arch, seed, tmp_path_factory.mktemp("net"))
    except ModelImportError as exc:
        # A network whose output is NaN (LocalResponseNorm with k=0 after a ReLU:
        # 0/0) is refused by the importer's output check, NaN never being close
        # to NaN; that is the importer's to decide, not a difference in the export.
        assume("by up to nan" not in str(exc))
        raise


def test_one_spelling_per_torch_model():
    conv = Layer.make("Conv2d", out_channels=2, kernel_size=1)
    pool = Layer.make("MaxPool2d", kernel_size=2, stride=(2, 2))
    inner = Layer.block("Residual", [[conv], []])
    spelled = canonical_path(
        [
            pool,
            Layer.block("Parallel", [[conv, conv]], merge="concat"),
            Layer.block("Parallel", [[], [conv, conv]], merge="add"),
            Layer.block("Parallel", [[inner], [conv]], merge="add"),
        ]
    )
    assert spelled == [
        Layer.make("MaxPool2d", kernel_size=2),
        conv,
        conv,
        Layer.block("Residual", [[conv, conv], []]),
        Layer.block("Parallel", [[conv], [], [conv]], merge="add"),
    ]
