"""The network as code (cnnviz.core.export_code): the generated module, run by
torch, builds cnnviz's own model.

For every preset and for random nested graphs the file is executed and its
``build_model()`` must have the analysis' parameter count, the state_dict
keys and shapes of compute.model.build_model, and with cnnviz's weights loaded
(unchanged, strict) give the same outputs. The text must be what ``ruff
format`` makes of it (and lint-clean), where ruff is at hand; else it must
compile and keep to the line length.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from cnnviz.compute.model import build_model
from cnnviz.core.analysis import analyze
from cnnviz.core.architecture import Architecture, ArchitectureError, InputShape, Layer, from_json
from cnnviz.core.export_code import LINE_LENGTH, export_code, literal
from cnnviz.core.presets import PRESETS, load_preset
from tests.compute.test_forward_hooked import randomize
from tests.graph_strategies import graphs

# The venv's ruff even when its bin folder is not on PATH.
RUFF = shutil.which("ruff") or shutil.which("ruff", path=str(Path(sys.executable).parent))


@pytest.fixture(autouse=True)
def one_torch_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def run_module(code: str) -> dict:
    namespace: dict = {"__name__": "exported"}
    exec(compile(code, "exported.py", "exec"), namespace)
    return namespace


def assert_formatted(code: str) -> None:
    """ruff format leaves the text as it is and ruff check finds nothing (its
    defaults, as in a user's project); without ruff: it compiles, lines fit."""
    ast.parse(code)
    if RUFF is None:
        too_long = [line for line in code.splitlines() if len(line) > LINE_LENGTH]
        assert not too_long
        return
    for command in (["format", "--check", "--diff"], ["check", "--no-cache"]):
        done = subprocess.run(
            [RUFF, *command, "--isolated", "--stdin-filename", "net.py", "-"],
            input=code,
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, done.stdout + done.stderr


def assert_same_model(arch: Architecture, seed: int, device: str = "cpu", batch: int = 2) -> None:
    """The exported model has cnnviz's parameters, keys and shapes, loads its
    weights unchanged and computes the same outputs."""
    analysis = analyze(arch)
    code = export_code(arch)
    ours = build_model(arch, seed=0)
    randomize(ours, seed)
    with torch.device(device):
        exported = run_module(code)["build_model"]()
    assert sum(p.numel() for p in exported.parameters()) == analysis.total_params
    theirs = {k: tuple(v.shape) for k, v in exported.state_dict().items()}
    assert theirs == {k: tuple(v.shape) for k, v in ours.state_dict().items()}
    assert list(theirs) == list(ours.state_dict())
    exported.load_state_dict(ours.state_dict(), assign=device == "meta")
    ours.eval(), exported.eval()
    x = torch.from_numpy(
        np.random.default_rng(seed).standard_normal(
            (batch, *analysis.input_shape), dtype=np.float32
        )
    )
    with torch.no_grad():
        np.testing.assert_allclose(exported(x).numpy(), ours(x).numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_exports_as_its_own_model(name):
    arch = load_preset(name)
    # The file is built on the meta device (no random init of 100M weights), then
    # takes cnnviz's weights as they are (assign): the keys must match one for one.
    assert_same_model(arch, seed=1, device="meta", batch=1)
    assert_formatted(export_code(arch))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graphs(), st.integers(0, 2**31 - 1))
def test_generated_graphs_export_as_their_own_model(graph, seed):
    arch = from_json(graph)
    assume(analyze(arch).valid)
    assert_same_model(arch, seed)
    assert_formatted(export_code(arch))


@settings(max_examples=40, deadline=None)
@given(st.text(max_size=120))
def test_any_name_gives_a_formatted_file(name):
    arch = Architecture(name, InputShape(1, 4, 4), (Layer.make("ReLU"),))
    code = export_code(arch)
    assert_formatted(code)
    doc = ast.get_docstring(ast.parse(code))
    assert "exported by cnnviz" in doc
    assert "Input: 1×4×4" in doc


def test_the_file_says_what_the_network_is():
    arch = load_preset("resnet18")
    code = export_code(arch)
    namespace = run_module(code)
    doc = namespace["__doc__"]
    assert doc.startswith("ResNet-18, exported by cnnviz")
    assert "Input: 3×224×224" in doc and "Parameters: 11,689,512." in doc
    assert namespace["INPUT_SHAPE"] == (3, 224, 224)
    # Only torch is imported; one class per block kind used (no Parallel here).
    imports = [n for n in ast.walk(ast.parse(code)) if isinstance(n, ast.Import | ast.ImportFrom)]
    assert {a.name for n in imports if isinstance(n, ast.Import) for a in n.names} == {"torch"}
    assert {n.module for n in imports if isinstance(n, ast.ImportFrom)} == {"torch"}
    assert "class Residual(nn.Module)" in code and "class Parallel" not in code
    # Explicit arguments (inferred sizes first), and the output shape in a comment.
    assert "nn.Conv2d(3, 64, kernel_size=7, stride=2, padding=3, bias=False),  # 64×112×112" in code
    assert "nn.Linear(512, 1000),  # 1000" in code


def test_a_parallel_network_defines_its_block_and_merge():
    code = export_code(load_preset("inceptionsmall"))
    assert "class Parallel(nn.Module)" in code and "class Residual" not in code
    assert 'merge="concat",' in code


def test_a_network_without_blocks_and_an_empty_one():
    code = export_code(load_preset("lenet5"))
    assert "class " not in code
    empty = Architecture("empty", InputShape(3, 8, 8))
    namespace = run_module(export_code(empty))
    assert len(namespace["build_model"]()) == 0
    assert_formatted(export_code(empty))


def test_parameters_at_torch_default_are_left_out_others_written():
    arch = Architecture(
        "args",
        InputShape(3, 8, 8),
        (
            Layer.make("Conv2d", out_channels=4, kernel_size=(3, 3), stride=1, padding="same"),
            Layer.make("ReLU", inplace=True),
            Layer.make("BatchNorm2d", eps=1e-3),
            Layer.make("Upsample", scale_factor=2.0, mode="bilinear"),
            Layer.make("Softmax"),
        ),
    )
    code = export_code(arch)
    assert 'nn.Conv2d(3, 4, kernel_size=3, padding="same"),' in code
    # Built out of place, as cnnviz builds it (an in-place ReLU in a body would
    # change the shortcut's input); Softmax's implicit dim spelled out.
    assert "nn.ReLU()," in code
    assert "nn.BatchNorm2d(4, eps=0.001)," in code
    assert 'nn.Upsample(scale_factor=2.0, mode="bilinear"),' in code
    assert "nn.Softmax(dim=1)," in code
    assert_same_model(arch, seed=3)


def test_sizes_are_written_in_torch_order_whatever_the_type():
    arch = Architecture(
        "sizes",
        InputShape(4, 6, 6),
        (
            Layer.make("GroupNorm", num_groups=2),
            Layer.make(
                "ConvTranspose2d", out_channels=3, kernel_size=3, stride=2, output_padding=1
            ),
            Layer.make("ZeroPad2d", padding=(1, 0, 2, -1)),
            Layer.make("LeakyReLU", negative_slope=0.2),
            Layer.make("AdaptiveAvgPool2d", output_size=(2, 3)),
            Layer.make("Flatten"),
            Layer.make("Linear", out_features=5, bias=False),
        ),
    )
    code = export_code(arch)
    for line in (
        "nn.GroupNorm(2, 4),  # 4×6×6",
        "nn.ConvTranspose2d(4, 3, kernel_size=3, stride=2, output_padding=1),  # 3×14×14",
        "nn.ZeroPad2d(padding=(1, 0, 2, -1)),  # 3×15×15",
        "nn.AdaptiveAvgPool2d(output_size=(2, 3)),  # 3×2×3",
        "nn.Linear(18, 5, bias=False),  # 5",
    ):
        assert line in code
    assert_same_model(arch, seed=4)


def test_literals_are_python_in_ruff_style():
    assert literal('a"b\\c') == '"a\\"b\\\\c"'
    assert literal((1,)) == "(1,)" and literal((1, 2)) == "(1, 2)"
    assert literal(None) == "None" and literal(True) == "True" and literal(1e-5) == "1e-05"


def test_an_invalid_network_is_refused_naming_the_layer():
    arch = Architecture(
        "bad", InputShape(1, 2, 2), (Layer.make("Conv2d", out_channels=1, kernel_size=5),)
    )
    with pytest.raises(ArchitectureError, match="layer 0 Conv2d"):
        export_code(arch)


def test_a_layer_torch_has_no_class_for_is_refused_not_guessed():
    # A layer that is not a catalogue type (e.g. an imported model's own module)
    # has no nn class to write; its analysis comes from whoever measured it.
    arch = Architecture("mystery", InputShape(1, 4, 4), (Layer.make("ReLU"),))
    analysis = analyze(arch)
    mystery = replace(analysis.layers[0], layer=Layer("Mystery"))
    with pytest.raises(ArchitectureError, match="layer 0 Mystery: not a torch.nn layer"):
        export_code(arch, replace(analysis, layers=(mystery,)))
