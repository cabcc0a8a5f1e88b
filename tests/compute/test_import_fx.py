"""Importing a person's own PyTorch model (issue 18): torch.fx conversion to an
architecture with blocks, its weights under cnnviz's keys, outputs equal to the
model's, and one clear line for what cannot be expressed."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
import torch
from torch import nn

from cnnviz.compute.blocks import named_flat
from cnnviz.compute.importers import ModelImportError
from cnnviz.compute.importers.fx_convert import convert_graph, measure, trace
from cnnviz.compute.importers.model_import import import_module
from cnnviz.compute.importers.sources import import_source
from cnnviz.compute.model import build_model
from cnnviz.compute.weights import save_weights
from cnnviz.core.analysis import analyze
from tests.imported_nets import converted, model_in_file

MODELS = Path(__file__).parents[1] / "import_models.py"
SHAPE = (3, 16, 16)


def source(name: str) -> str:
    return f"{MODELS}:{name}"


def line_of(code: str) -> str:
    """``import_models.py:N`` of the line holding ``code`` (never hard-coded numbers)."""
    lines = MODELS.read_text(encoding="utf-8").splitlines()
    numbers = [n for n, text in enumerate(lines, 1) if code in text]
    assert len(numbers) == 1, code
    return f"import_models.py:{numbers[0]}"


def outputs_by_name(model: nn.Module, named, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """Each named module's output for ``x`` (forward hooks; a copy, as the model's
    ``out += x`` then adds in place to what its conv2 gave)."""
    seen: dict[str, torch.Tensor] = {}

    def keeper(name: str):
        def hook(_module, _inputs, out) -> None:  # None: the output stays the module's own
            seen.setdefault(name, out.clone())

        return hook

    handles = [module.register_forward_hook(keeper(name)) for name, module in named]
    try:
        with torch.no_grad():
            seen["output"] = model(x)
    finally:
        for handle in handles:
            handle.remove()
    return seen


def original(name: str) -> nn.Module:
    """The model object import_source converted (rebuilt the same way, same weights)."""
    return model_in_file(MODELS, name)


def test_a_usual_model_becomes_blocks():
    arch = import_source(source("Net"), SHAPE).architecture
    assert [layer.type for layer in arch.layers] == [
        "Conv2d", "ReLU", "Residual", "ReLU", "Parallel", "MaxPool2d", "Flatten", "Linear",
    ]  # fmt: skip
    residual, parallel = arch.layers[2], arch.layers[4]
    body, shortcut = residual.paths
    assert [layer.type for layer in body] == ["Conv2d", "BatchNorm2d", "ReLU", "Conv2d"]
    assert shortcut == ()  # `out += x`: the identity
    assert body[0].get("bias") is False and body[0].get("padding") == 1
    assert parallel.get("merge") == "concat"
    assert [[layer.type for layer in path] for path in parallel.paths] == [
        ["Conv2d"],
        ["Conv2d", "ReLU"],
    ]
    assert arch.input.as_tuple() == SHAPE and arch.name == "Net"


def test_outputs_equal_the_model_at_the_end_and_at_every_converted_module():
    torch.manual_seed(5)
    model = original("Net").eval()
    with torch.no_grad():  # BatchNorm statistics that are not the identity
        model.block.bn1.running_mean.uniform_(-1, 1)
        model.block.bn1.running_var.uniform_(0.5, 2)
    imported = import_module(model, SHAPE, "Net")
    mine = converted(imported)
    x = torch.randn(3, *SHAPE)
    theirs = outputs_by_name(model, model.named_modules(), x)
    ours = outputs_by_name(mine, named_flat(mine), x)
    assert torch.equal(ours["output"], theirs["output"])
    assert len(imported.modules) == 8  # every module of the model has its layer
    for address, name in imported.modules.items():
        assert torch.equal(ours[address], theirs[name]), (address, name)


def test_the_key_map_carries_every_weight():
    model = original("Net")
    imported = import_module(model, SHAPE, "Net")
    assert set(imported.key_map) == set(model.state_dict())
    assert imported.key_map["block.conv1.weight"] == ("2.body.0.weight",)
    assert imported.key_map["right.0.bias"] == ("4.branches.1.0.bias",)
    for key, keys in imported.key_map.items():
        assert torch.equal(imported.state[keys[0]], model.state_dict()[key])
    assert set(imported.state) == set(build_model(imported.architecture).state_dict())


def test_total_params_equal_torchs_count():
    model = original("Net")
    arch = import_module(model, SHAPE, "Net").architecture
    assert analyze(arch).total_params == sum(p.numel() for p in model.parameters())


def test_functional_calls_reshapes_and_chained_adds():
    model = original("Functional")
    imported = import_module(model, SHAPE, "Functional")
    types = [layer.type for layer in imported.architecture.layers]
    assert types == [
        "Conv2d", "LeakyReLU", "Parallel", "AvgPool2d", "Sigmoid", "AdaptiveAvgPool2d",
        "AdaptiveAvgPool2d", "Flatten", "Linear", "Softmax",
    ]  # fmt: skip
    adds = imported.architecture.layers[2]
    assert adds.get("merge") == "add" and len(adds.paths) == 3 and adds.paths[0] == ()
    assert imported.architecture.layers[1].get("negative_slope") == 0.2
    x = torch.randn(2, *SHAPE)
    with torch.no_grad():
        assert torch.allclose(converted(imported)(x), model(x), rtol=1e-5, atol=1e-6)


def test_a_factory_function_is_called_without_arguments():
    arch = import_source(source("make_net"), SHAPE).architecture
    assert arch == import_source(source("Net"), SHAPE).architecture.__class__(
        "make_net", arch.input, arch.layers
    )


@pytest.mark.parametrize(
    ("name", "code", "reason"),
    [
        # Operations cnnviz cannot express become Opaque layers (test_import_opaque.py);
        # paths that cross no block can hold are still refused.
        ("Dense", "a = self.a(x)", "its output feeds more than one of the paths that split"),
    ],
)
def test_what_cannot_be_expressed_is_refused_in_one_line_naming_the_source_line(name, code, reason):
    with pytest.raises(ModelImportError) as caught:
        import_source(source(name), SHAPE)
    message = str(caught.value)
    assert message.startswith(f"cannot import: `{code}` at {line_of(code)} ({reason}")
    assert "\n" not in message


def test_a_module_cnnviz_lacks_is_named():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3)
            self.up = nn.PixelShuffle(2)

        def forward(self, x):
            return self.up(self.conv(x))

    layers = import_module(Net(), SHAPE, "Net").architecture.layers
    assert [(layer.type, layer.get("label"), layer.get("source")) for layer in layers[1:]] == [
        ("Opaque", "PixelShuffle", "up")
    ]


def test_a_model_that_cannot_be_traced_names_the_line_that_stopped_it():
    with pytest.raises(ModelImportError) as caught:
        import_source(source("Branchy"), SHAPE)
    code = "if x.sum() > 0:"
    assert str(caught.value).startswith(
        f"cannot trace Branchy at {line_of(code)} (`{code}`): TraceError: symbolically traced"
    )


def test_the_wrong_input_size_names_the_line_and_the_size():
    with pytest.raises(ModelImportError) as caught:
        import_source(source("Fixed"), SHAPE)
    message = str(caught.value)
    assert message.startswith(
        f"Fixed does not take a 3×16×16 input at {line_of('return self.fc(x)  # the wrong')}"
    )
    assert message.endswith("give the input size it expects with --input C,H,W")
    assert import_source(source("Fixed"), (3, 8, 8)).architecture.layers[-1].type == "Linear"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Nope", r"^import_models\.py has no 'Nope' \(it defines: Block, Branchy, Dense, "),
        ("NeedsWidth", r"^import_models\.py:NeedsWidth\(\) failed: TypeError: .*missing 1 req"),
    ],
)
def test_a_missing_class_or_one_that_needs_arguments(text, expected):
    with pytest.raises(ModelImportError, match=expected):
        import_source(source(text), SHAPE)


def test_a_broken_file_names_its_line(tmp_path):
    path = tmp_path / "broken.py"
    path.write_text("import torch\n\nclass Net(torch.nn.Module:\n    pass\n")
    with pytest.raises(ModelImportError, match=r"^broken\.py:3: cannot run it: SyntaxError"):
        import_source(f"{path}:Net", SHAPE)
    path.write_text("import torch\nraise RuntimeError('no GPU here')\n")
    with pytest.raises(
        ModelImportError,
        match=r"^broken\.py: cannot run it at broken\.py:2 \(`raise RuntimeError\('no GPU",
    ):
        import_source(f"{path}:Net", SHAPE)
    with pytest.raises(ModelImportError, match=r"^gone\.py: No such file or directory$"):
        import_source(f"{tmp_path / 'gone.py'}:Net", SHAPE)


def test_without_an_input_size_it_asks_for_one():
    with pytest.raises(ModelImportError, match=r"--input C,H,W"):
        import_source(source("Net"), None)


# --- weights under the model's own keys ----------------------------------------------


def test_weights_file_under_the_models_keys_reaches_the_converted_network(tmp_path):
    trained = original("Net")
    for parameter in trained.parameters():
        nn.init.normal_(parameter)
    path = tmp_path / "net.safetensors"
    save_weights(trained, path)
    imported = import_source(source("Net"), SHAPE, str(path))
    x = torch.randn(2, *SHAPE)
    with torch.no_grad():
        assert torch.equal(converted(imported)(x), trained.eval()(x))
    torch.save(trained.state_dict(), tmp_path / "net.pt")
    again = import_source(source("Net"), SHAPE, str(tmp_path / "net.pt"))
    assert all(torch.equal(again.state[k], v) for k, v in imported.state.items())


def test_weights_that_do_not_fit_name_the_first_key_and_both_shapes(tmp_path):
    state = original("Net").state_dict()
    state["block.conv2.weight"] = torch.zeros(8, 8, 5, 5)
    save_weights(state, tmp_path / "w.safetensors")
    with pytest.raises(ModelImportError) as caught:
        import_source(source("Net"), SHAPE, str(tmp_path / "w.safetensors"))
    assert str(caught.value) == (
        "w.safetensors does not fit the model: 'block.conv2.weight' is 8×8×5×5 in the file "
        "but the model needs 8×8×3×3"
    )


class _Payload:
    """Unpickling this would create a file: what a malicious checkpoint could do."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_a_pickle_that_would_run_code_is_refused_and_nothing_runs(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pth"
    with path.open("wb") as handle:
        pickle.dump({"stem.weight": _Payload(marker)}, handle, protocol=2)
    with pytest.raises(ModelImportError, match=r"^evil\.pth: holds Python objects \(io.open\)"):
        import_source(source("Net"), SHAPE, str(path))
    assert not marker.exists()


# --- TorchScript ------------------------------------------------------------------


# Scripting is how such files are made; torch deprecates it, but people have them.
SCRIPTING = pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")


@SCRIPTING
def test_a_scripted_sequential_is_rebuilt_and_converted(tmp_path):
    torch.manual_seed(3)
    model = nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(4 * 8 * 8, 5),
    ).eval()
    path = tmp_path / "seq.pt"
    torch.jit.script(model).save(str(path))
    imported = import_source(str(path), SHAPE)
    assert [layer.type for layer in imported.architecture.layers] == [
        "Conv2d", "BatchNorm2d", "ReLU", "MaxPool2d", "Flatten", "Linear",
    ]  # fmt: skip
    x = torch.randn(2, *SHAPE)
    with torch.no_grad():
        assert torch.equal(converted(imported)(x), model(x))


# A scripted module that is no nn.Sequential, and traced files (which keep no
# constructor arguments): tests/compute/test_import_torchscript_models.py


def test_resnet18_written_as_torchvision_writes_it_comes_in_as_the_preset():
    from cnnviz.compute.hub_weights import to_model_keys
    from cnnviz.core.presets import load_preset
    from tests.import_resnet import resnet18

    model = resnet18()
    imported = import_module(model, (3, 64, 64), "resnet18")
    preset = load_preset("resnet18")
    assert imported.architecture.layers == preset.layers
    assert analyze(imported.architecture).total_params == 11_689_512
    # Its keys map as cnnviz's torchvision renaming maps them.
    state = model.state_dict()
    renamed = to_model_keys(state, build_model(preset).state_dict())
    mapped = {keys[0]: state[key] for key, keys in imported.key_map.items()}
    assert set(renamed) == set(mapped)
    assert all(torch.equal(renamed[key], mapped[key]) for key in mapped)


# --- exported programs (.pt2) ---------------------------------------------------------


def _exported(tmp_path, model: nn.Module, shape=SHAPE, dynamic=None) -> Path:
    path = tmp_path / "net.pt2"
    program = torch.export.export(model.eval(), (torch.randn(2, *shape),), dynamic_shapes=dynamic)
    torch.export.save(program, str(path))
    return path


@pytest.mark.parametrize("name", ["Net", "Functional"])
def test_an_exported_program_converts_as_its_python_model_does(tmp_path, name):
    model = original(name)
    imported = import_source(str(_exported(tmp_path, model)), None)
    assert imported.architecture.layers == import_module(model, SHAPE).architecture.layers
    assert imported.architecture.input.as_tuple() == SHAPE
    assert set(imported.key_map) == set(model.state_dict())
    x = torch.randn(2, *SHAPE)
    with torch.no_grad():
        assert torch.allclose(converted(imported)(x), model(x), rtol=1e-5, atol=1e-6)


def test_an_exported_program_for_another_input_says_so(tmp_path):
    path = _exported(tmp_path, original("Net"))
    with pytest.raises(ModelImportError, match=r"^net\.pt2 was exported for 2×3×16×16 inputs"):
        import_source(str(path), (3, 32, 32))


def test_an_exported_program_that_would_run_code_is_refused_and_nothing_runs(tmp_path):
    """torch.export.load itself falls back to unpickling with weights_only=False (it
    would run this payload); cnnviz reads every part of the file safely."""
    import io
    import zipfile

    marker = tmp_path / "pwned"
    payload = io.BytesIO()
    torch.save({"x": _Payload(marker)}, payload)
    good, evil = _exported(tmp_path, original("Net")), tmp_path / "evil.pt2"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(evil, "w") as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            dst.writestr(info, payload.getvalue() if "sample_inputs" in info.filename else data)
    with pytest.raises(ModelImportError, match=r"^evil\.pt2: holds Python objects \(io.open\)"):
        import_source(str(evil), None)
    assert not marker.exists()


def test_an_operation_in_place_whose_result_is_unused_is_not_dropped_silently():
    class InPlace(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 3, 3, padding=1)

        def forward(self, x):
            x.relu_()  # changes x; the graph only records a call nobody reads
            return self.conv(x)

    with pytest.raises(ModelImportError, match=r"^cannot import InPlace: the converted network's"):
        import_module(InPlace(), SHAPE, "InPlace")


def test_without_source_lines_the_operation_is_named():
    class Doubled(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 3, 3, padding=1)

        def forward(self, x):
            a = self.conv(x)
            b = self.conv(a)
            return torch.cat([a * b, b], 1)  # b also leaves the product's unit: refused

    model = Doubled()
    gm = trace(model, "Doubled")
    for node in gm.graph.nodes:
        node.stack_trace = None  # as for code compiled from a string
    values = measure(gm, torch.randn(2, *SHAPE), "Doubled")
    with pytest.raises(ModelImportError) as caught:
        convert_graph(gm, values, "Doubled", SHAPE)
    assert str(caught.value) == (
        "cannot import: mul (an elementwise product of two paths is not a cnnviz layer)"
    )


def test_an_exported_program_with_a_dynamic_batch_converts(tmp_path):
    model = original("Net")
    batch = {"x": {0: torch.export.Dim("batch")}}
    imported = import_source(str(_exported(tmp_path, model, dynamic=batch)), None)
    assert imported.architecture.layers == import_module(model, SHAPE).architecture.layers
