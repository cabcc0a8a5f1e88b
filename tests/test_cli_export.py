"""`cnnviz export ARCH --out net.py`: the file builds the network cnnviz runs, and
weights from it give identical outputs through `cnnviz run --weights`."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import save_file

from cnnviz.cli import main
from cnnviz.core.architecture import Architecture, InputShape, Layer, save
from tests.compute.test_forward_hooked import randomize


def export_cli(capsys, *args):
    code = main(["export", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def exported_model(path) -> torch.nn.Sequential:
    namespace: dict = {"__name__": "exported"}
    exec(compile(path.read_text(encoding="utf-8"), str(path), "exec"), namespace)
    return namespace["build_model"]()


def test_resnet18_exports_and_its_weights_run_in_cnnviz(capsys, tmp_path):
    out = tmp_path / "r.py"
    code, stdout, err = export_cli(capsys, "resnet18", "--out", out)
    assert (code, err) == (0, "")
    assert "r.py" in stdout
    model = exported_model(out)
    assert sum(p.numel() for p in model.parameters()) == 11_689_512
    randomize(model, 7)
    weights = tmp_path / "r.safetensors"
    save_file(model.state_dict(), str(weights))

    image = tmp_path / "picture.png"
    pixels = np.random.default_rng(0).integers(0, 256, (240, 260, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(image)
    acts = tmp_path / "acts.npz"
    assert main(["run", "resnet18", str(image), "--weights", str(weights), "--out", str(acts)]) == 0
    capsys.readouterr()
    with np.load(acts) as saved:
        network_input, logits = saved["input"], saved[f"layer_{len(model) - 1:02d}"]
    model.eval()
    with torch.no_grad():
        expected = model(torch.from_numpy(network_input)[None])[0].numpy()
    assert logits.shape == (1000,)
    # The same modules on the same input: equal here; a tolerance only for a
    # machine whose kernels sum in another order from one call to the next.
    np.testing.assert_allclose(logits, expected, rtol=1e-5, atol=1e-6)


def test_without_out_the_code_goes_to_standard_output(capsys):
    code, stdout, err = export_cli(capsys, "lenet5", "--input", "1,28,28")
    assert (code, err) == (0, "")
    assert stdout.startswith('"""LeNet-5, exported by cnnviz')
    assert "INPUT_SHAPE = (1, 28, 28)" in stdout
    compile(stdout, "net.py", "exec")


@pytest.fixture
def invalid_arch(tmp_path):
    path = tmp_path / "bad.json"
    conv = Layer.make("Conv2d", out_channels=2, kernel_size=9)
    save(Architecture("bad", InputShape(1, 4, 4), (conv,)), path)
    return path


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (["nosuchnet", "--out", "{tmp}/n.py"], "unknown preset"),
        (["{bad}", "--out", "{tmp}/n.py"], "layer 0 Conv2d"),
        (["lenet5", "--out", "{tmp}/n.txt"], "must name a .py file"),
        (["lenet5", "--out", "{tmp}/missing/n.py"], "does not exist"),
        (["lenet5", "--out", "{tmp}/folder.py"], "is a folder"),
        (["lenet5", "--input", "1,28"], "--input must be C,H,W"),
        (["lenet5", "--input", "1,2,2"], "layer"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(capsys, tmp_path, invalid_arch, args, reason):
    (tmp_path / "folder.py").mkdir()
    args = [a.format(tmp=tmp_path, bad=invalid_arch) for a in args]
    code, stdout, err = export_cli(capsys, *args)
    assert code == 2
    assert stdout == ""
    assert err.startswith("cnnviz export: error: ") and err.count("\n") == 1
    assert reason in err
    assert not (tmp_path / "n.py").exists()
