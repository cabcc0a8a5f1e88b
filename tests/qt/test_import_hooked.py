"""File > Import PyTorch Model… of a model torch.fx cannot trace (issue 18): a
read-only view hooked per module, with the real compute thread running the live
model; every edit and Save refused in one line, feature maps equal to torch's."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import torch

from cnnviz.compute.importers.model_import import example_input
from cnnviz.core.jobs import TrainConfig
from cnnviz.qt.editor import commands
from tests.hooked_reference import STOP, by_call, torch_calls
from tests.imported_nets import model_in_file
from tests.qt.test_import_pytorch import IMPORT_TIMEOUT_MS
from tests.qt.test_saved_network import outputs, real_window

MODELS = Path(__file__).parents[1] / "untraceable_models.py"
SHAPE = (3, 16, 16)


def _model(weights: str) -> torch.nn.Module:
    """The model as the import saw it: its file, with the weights the import kept."""
    from safetensors.torch import load_file

    model = model_in_file(MODELS, "Branching")
    model.load_state_dict(load_file(weights))
    return model.eval()


def test_an_untraceable_model_opens_read_only_with_each_modules_maps(qtbot, tmp_path):
    win = real_window(qtbot)
    doc = win.doc
    try:
        with qtbot.waitSignal(win.model_import.done, timeout=IMPORT_TIMEOUT_MS) as done:
            assert win.model_import.start(f"{MODELS}:Branching", "3,16,16")
        assert done.args == [True]
        entry = doc.architecture.metadata["hooked"]
        model = _model(entry["model_weights"])
        # The rows: each module call torch's own hooks see on the import's test input.
        recorded = by_call(torch_calls(model, example_input(SHAPE)))
        rows = [(layer.get("module"), layer.get("call")) for layer in doc.architecture.layers]
        assert rows == list(recorded)
        shapes = [info.output_shape for info in doc.analysis.layers]
        assert shapes == [tuple(out.shape) for out in recorded.values()]

        # Every row's feature maps: its module's output for the window's image.
        got = outputs(qtbot, win)
        result = win.controller.latest.result
        ran = by_call(torch_calls(model, torch.from_numpy(result.input)[None]))
        compared = 0
        for values, key in zip(got, rows, strict=True):
            if key in ran:  # the image may take the other path: those rows show zeros
                np.testing.assert_allclose(values, ran[key].numpy(), rtol=0, atol=0)
                compared += 1
        assert compared >= 4  # stem, shared twice, head run on every image
        assert win.statusbar.problem_text.startswith(entry["message"])
        total = sum(p.numel() for p in model.parameters())  # more than the rows hold
        assert f"<b>{total:,}</b> parameters in the model" in win.stack_panel.totals.text()
        assert "untraceable_models.py:" in entry["message"] and f"`{STOP}`" in entry["message"]
        shared = rows.index(("shared", 1))  # runs on every image
        win.select_layer(shared)
        panel = win.panels.docks["feature_maps"]
        qtbot.waitUntil(lambda: panel.fed is not None and panel.fed.layer_index == shared)
        shown = panel.fed.result.layers[shared].output
        np.testing.assert_allclose(shown, ran[("shared", 1)].numpy(), rtol=0, atol=0)
        # The rows are calls, not a chain: Properties names no row above as the input.
        win.properties.row = shared
        win.properties.refresh()
        out_text = "×".join(map(str, shapes[shared]))
        assert win.properties.subtitle.text().startswith(f"Layer {shared} · output {out_text} ·")

        # Every edit is refused in one line, and nothing reaches the undo stack.
        before = doc.architecture
        doc.undo_stack.push(commands.remove_rows(doc, [0]))
        assert doc.architecture is before and doc.undo_stack.count() == 0
        assert win.statusbar.problem_text == (
            "a read-only view of untraceable_models.py:Branching cannot be edited: change the "
            "model in its Python file and import it again"
        )
        assert not win.files.save_to(tmp_path / "mine.cnnviz")
        assert win.statusbar.problem_text == (
            "a read-only view of untraceable_models.py:Branching is not a cnnviz network; it is "
            "opened from its Python file"
        )
        assert not (tmp_path / "mine.cnnviz").exists() and not doc.modified
        with qtbot.waitSignal(win.controller.training_failed, timeout=60_000) as failed:
            assert win.controller.start_training(TrainConfig(epochs=1))
        assert failed.args[0].startswith("a read-only view of a model cnnviz could not trace")
        # A preset leaves the view for a network of its own: that is not refused.
        assert win.load_preset("lenet5")
        assert doc.read_only is None and doc.architecture.layers[0].type == "Conv2d"
    finally:
        if doc.path is not None:  # the import's folder
            shutil.rmtree(Path(doc.path).parent, ignore_errors=True)
        win.shutdown()
