"""What cnnviz cannot express stays in an imported network as an Opaque layer that
runs the original module (issue 18): a custom module with learned parameters, a
torch module cnnviz has no type for, an operation written at the top level."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
import torch
from torch import nn

from cnnviz.cli import main as cli_main
from cnnviz.compute.forward import record_forward
from cnnviz.compute.importers import ModelImportError, Untraceable
from cnnviz.compute.importers.model_import import import_module
from cnnviz.compute.importers.sources import import_source, load_python
from cnnviz.compute.model import build_model
from cnnviz.compute.weights import load_into, read_weights, save_weights
from cnnviz.core import architecture
from cnnviz.core.analysis import analyze
from cnnviz.core.architecture import ArchitectureError
from cnnviz.core.export_code import export_code
from tests.imported_nets import converted

MODELS = Path(__file__).parents[1] / "opaque_models.py"
SHAPE = (3, 16, 16)


def original(name: str) -> nn.Module:
    return load_python(MODELS, name).eval()


def line_of(code: str) -> str:
    lines = MODELS.read_text(encoding="utf-8").splitlines()
    numbers = [n for n, text in enumerate(lines, 1) if code in text]
    assert len(numbers) == 1, code
    return f"opaque_models.py:{numbers[0]}"


def opaque_layers(arch) -> list:
    return [layer for _, layer in arch.walk() if layer.type == "Opaque"]


def output_of(model: nn.Module, module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``module``'s output inside ``model``'s forward (a forward hook on the original)."""
    seen = []
    handle = module.register_forward_hook(lambda _m, _i, out: seen.append(out.clone()))
    try:
        with torch.no_grad():
            model(x)
    finally:
        handle.remove()
    return seen[0]


def test_a_custom_module_and_a_top_level_operation_become_opaque_layers():
    imported = import_source(f"{MODELS}:Net", SHAPE)
    layers = imported.architecture.layers
    assert [layer.type for layer in layers] == [
        "Conv2d", "Conv2d", "Opaque", "ReLU", "Opaque", "MaxPool2d", "MaxPool2d", "Flatten",
        "Linear",
    ]  # fmt: skip
    norm, swish = layers[2], layers[4]
    assert (norm.get("label"), norm.get("source")) == ("LayerNorm2d", "stage.norm")
    assert swish.get("label") == "torch.sigmoid(x) * x"
    assert swish.get("source") == line_of("x = torch.sigmoid(x) * x")


def test_each_opaque_layer_has_torchs_shapes_and_parameter_count():
    model = original("Net")
    norm, swish = opaque_layers(import_module(model, SHAPE, "Net").architecture)
    x = torch.randn(2, *SHAPE)
    measured = output_of(model, model.stage.norm, x)
    assert tuple(norm.get("in_shape")) == tuple(measured.shape[1:])  # a norm keeps the shape
    assert tuple(norm.get("out_shape")) == tuple(measured.shape[1:])
    assert norm.get("params") == sum(p.numel() for p in model.stage.norm.parameters()) == 16
    assert tuple(swish.get("out_shape")) == (8, 16, 16) and swish.get("params") == 0


def test_the_converted_network_gives_the_models_outputs_and_the_opaque_maps():
    model = original("Net")
    imported = import_module(model, SHAPE, "Net")
    built = converted(imported)
    x = torch.randn(1, *SHAPE)
    with torch.no_grad():
        assert torch.allclose(built(x), model(x), rtol=1e-5, atol=1e-6)
    # The feature maps cnnviz shows for the opaque layer are the original module's output.
    maps = record_forward(built, x, x[0].numpy())
    expected = output_of(model, model.stage.norm, x)[0].numpy()
    assert maps[2].type == "Opaque"
    assert maps[2].output.shape == expected.shape
    assert abs(maps[2].output - expected).max() < 1e-5


def test_the_opaque_parameters_load_under_the_layers_address():
    model = original("Net")
    imported = import_module(model, SHAPE, "Net")
    with torch.no_grad():
        model.stage.norm.weight.uniform_(2.0, 3.0)  # not what the program was saved with
    assert imported.key_map["stage.norm.weight"] == ("2.weight",)
    built = build_model(imported.architecture)
    load_into(built, {**imported.state, "2.weight": model.stage.norm.weight.detach()})
    x = torch.randn(1, *SHAPE)
    with torch.no_grad():
        assert torch.allclose(built.eval()(x), model(x), rtol=1e-5, atol=1e-6)


def test_a_torch_module_cnnviz_lacks_and_an_operation_on_it():
    model = original("TorchLayerNorm")
    imported = import_module(model, (3, 8, 8), "TorchLayerNorm")
    norm, doubled = opaque_layers(imported.architecture)
    assert (norm.get("label"), norm.get("source")) == ("LayerNorm", "norm")
    assert norm.get("params") == sum(p.numel() for p in model.norm.parameters()) == 512
    assert doubled.get("label") == "self.norm(self.conv(x)) * 2"
    x = torch.randn(3, 3, 8, 8)
    with torch.no_grad():
        assert torch.allclose(converted(imported)(x), model(x), rtol=1e-5, atol=1e-6)


def test_an_operation_whose_paths_cross_is_still_refused_in_one_line():
    with pytest.raises(ModelImportError) as caught:
        import_source(f"{MODELS}:Crossing", (3, 8, 8))
    code = "return torch.cat([a * b, b], 1)"
    assert str(caught.value) == (
        f"cannot import: `{code}` at {line_of(code)} (an elementwise product of two paths "
        "is not a cnnviz layer)"
    )


def test_save_and_open_give_identical_outputs(tmp_path):
    imported = import_source(f"{MODELS}:Net", SHAPE)
    path = tmp_path / "net.json"
    architecture.save(imported.architecture, path)
    save_weights(imported.state, tmp_path / "net.safetensors")
    reopened = architecture.load(path)
    assert reopened == imported.architecture
    built = build_model(reopened)
    load_into(built, read_weights(tmp_path / "net.safetensors"))
    x = torch.randn(2, *SHAPE)
    with torch.no_grad():
        assert torch.equal(built.eval()(x), converted(imported)(x))


def test_an_opaque_layer_takes_only_the_input_it_was_measured_on():
    arch = import_source(f"{MODELS}:TorchLayerNorm", (3, 8, 8)).architecture
    smaller = arch.with_input(architecture.InputShape(3, 6, 6))
    assert analyze(smaller).first_error.error == (
        "layer 1 Opaque: LayerNorm was measured on 4×8×8 and runs the original module; "
        "it cannot take 4×6×6"
    )


def test_a_program_that_is_not_torchscript_is_one_line():
    norm = opaque_layers(import_source(f"{MODELS}:TorchLayerNorm", (3, 8, 8)).architecture)[0]
    arch = architecture.Architecture(
        "broken", architecture.InputShape(4, 8, 8), (norm.with_params(program="bm90IGEgemlw"),)
    )
    with pytest.raises(ArchitectureError, match=r"^Opaque LayerNorm: its program is not a Tor"):
        build_model(arch)


def test_summary_json_counts_torchs_parameters(capsys):
    code = cli_main(["summary", f"{MODELS}:Net", "--input", "3,16,16", "--json"])
    out = capsys.readouterr().out
    assert code == 0
    assert json.loads(out)["total_params"] == sum(p.numel() for p in original("Net").parameters())


@pytest.mark.parametrize(("name", "opaque"), [("Swish", 1), ("OneD", 2)])
def test_models_once_refused_now_import_with_their_outputs(name, opaque):
    model = load_python(Path(__file__).parents[1] / "import_models.py", name).eval()
    imported = import_module(model, SHAPE, name)
    assert len(opaque_layers(imported.architecture)) == opaque
    x = torch.randn(2, *SHAPE)
    with torch.no_grad():
        assert torch.allclose(converted(imported)(x), model(x), rtol=1e-5, atol=1e-6)


@pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:DeprecationWarning")
def test_export_embeds_the_programs_and_imports_back(tmp_path):
    model = original("Net")
    imported = import_module(model, SHAPE, "Net")
    path = tmp_path / "net.py"
    path.write_text(export_code(imported.architecture), encoding="utf-8")
    tree = ast.parse(path.read_text(encoding="utf-8"))
    modules = {
        alias.name for node in tree.body if isinstance(node, ast.Import) for alias in node.names
    }
    assert modules == {"base64", "io", "torch"}  # torch and the standard library only
    save_weights(imported.state, tmp_path / "w.safetensors")
    exported = load_python(path, "build_model").eval()
    exported.load_state_dict(read_weights(tmp_path / "w.safetensors"))
    x = torch.randn(2, *SHAPE)
    with torch.no_grad():
        assert torch.allclose(exported(x), model(x), rtol=1e-5, atol=1e-6)
    back = import_source(f"{path}:build_model", SHAPE, str(tmp_path / "w.safetensors"))
    assert [layer.type for layer in back.architecture.layers] == [
        layer.type for layer in imported.architecture.layers
    ]
    with torch.no_grad():
        assert torch.allclose(converted(back)(x), model(x), rtol=1e-5, atol=1e-6)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_a_scripted_sequential_keeps_a_child_cnnviz_lacks_as_opaque(tmp_path):
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.LayerNorm([4, 8, 8]), nn.ReLU())
    path = tmp_path / "net.pt"
    torch.jit.script(model.eval()).save(str(path))
    imported = import_source(str(path), (3, 8, 8))
    norm = imported.architecture.layers[1]
    assert (norm.type, norm.get("label"), norm.get("source")) == ("Opaque", "LayerNorm", "1")
    assert norm.get("params") == 2 * 4 * 8 * 8
    x = torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        assert torch.allclose(converted(imported)(x), model(x), rtol=1e-5, atol=1e-6)


def test_the_built_opaque_layer_takes_forward_hooks():
    """A ScriptModule refuses forward hooks; cnnviz's panels (gradients) hook every layer."""
    model = original("Net")
    built = converted(import_module(model, SHAPE, "Net"))
    x = torch.randn(1, *SHAPE)
    assert torch.allclose(output_of(built, built[2], x), output_of(model, model.stage.norm, x))
    assert [key for key in built.state_dict() if key.startswith("2.")] == ["2.weight", "2.bias"]


def test_the_pictured_model_imports_with_its_outputs():
    """docs/import_opaque.png: Showcase at 3×64×64, its LayerNorm2d selected."""
    model = original("Showcase")
    imported = import_module(model, (3, 64, 64), "Showcase")
    labels = [layer.get("label") for layer in opaque_layers(imported.architecture)]
    assert labels == ["LayerNorm2d", "x * torch.sigmoid(x)"]
    assert analyze(imported.architecture).total_params == sum(p.numel() for p in model.parameters())
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(converted(imported)(x), model(x), rtol=1e-5, atol=1e-6)


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")
def test_a_program_that_computes_something_else_is_refused(monkeypatch):
    """A trace keeps what it cannot record as constants: the program is checked on
    another input against the module itself, and refused when they differ."""
    from cnnviz.compute.importers import opaque_units

    wrong = torch.jit.script(nn.Identity())
    monkeypatch.setattr(opaque_units, "compile_module", lambda module, example, **_: wrong)
    with pytest.raises(ModelImportError) as caught:
        import_module(original("TorchLayerNorm"), (3, 8, 8), "TorchLayerNorm")
    assert str(caught.value) == (
        "cannot import: LayerNorm `norm` is no cnnviz layer, and its TorchScript computes "
        "other values than it on another input (torch.jit.trace kept some as constants)"
    )


def test_summary_says_the_opaque_macs_are_not_counted(capsys):
    assert cli_main(["summary", f"{MODELS}:Net", "--input", "3,16,16"]) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if "Opaque(" in line]
    assert len(rows) == 2 and all(row.endswith("not counted") for row in rows)
    assert "; not counted: 2 opaque layers" in out


def test_a_submodule_torch_fx_cannot_trace_is_kept_scripted_with_both_branches():
    model = original("Gated")
    imported = import_module(model, (3, 8, 8), "Gated")
    gate = imported.architecture.layers[1]
    assert (gate.type, gate.get("label"), gate.get("source")) == ("Opaque", "Gate", "blocks.0")
    built = converted(imported)
    h = torch.randn(1, 4, 8, 8).abs()  # the gate's input: mean above 0, then below
    with torch.no_grad():
        for x in (h, -h):
            assert torch.allclose(built[1](x), model.blocks[0](x))
        x = torch.randn(2, 3, 8, 8)
        assert torch.allclose(built(x), model(x), rtol=1e-5, atol=1e-6)


def test_a_submodule_neither_fx_nor_torchscript_takes_leaves_the_hooked_view_its_line():
    with pytest.raises(Untraceable) as caught:
        import_module(original("UsesPythonic"), (3, 8, 8), "UsesPythonic")
    assert caught.value.place == line_of("if x.detach().numpy().mean() > 0:")


def test_an_operation_reading_a_value_from_before_its_unit_is_refused_in_one_line():
    with pytest.raises(ModelImportError) as caught:
        import_source(f"{MODELS}:SizeScaled", (3, 8, 8))
    code = "return self.conv(x) * x.size(1)"
    assert str(caught.value).startswith(f"cannot import: `{code}` at {line_of(code)} (")


def test_an_exported_program_keeps_the_same_parts_with_the_same_keys(tmp_path):
    """A .pt2's graph cannot be traced again: a submodule's nodes become one layer."""
    model = original("Net")
    path = tmp_path / "net.pt2"
    torch.export.save(torch.export.export(model, (torch.randn(2, *SHAPE),)), str(path))
    from_program = import_source(str(path), None)
    from_python = import_module(model, SHAPE, "Net")
    assert [
        (layer.type, layer.params.get("source")) for layer in from_program.architecture.layers
    ] == [(layer.type, layer.params.get("source")) for layer in from_python.architecture.layers]
    assert from_program.key_map == from_python.key_map
    assert analyze(from_program.architecture).total_params == 2114
    x = torch.randn(2, *SHAPE)
    with torch.no_grad():
        assert torch.allclose(converted(from_program)(x), model(x), rtol=1e-5, atol=1e-6)
