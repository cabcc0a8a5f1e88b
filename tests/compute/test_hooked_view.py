"""The read-only hooked view of a model torch.fx cannot trace (issue 18): its rows
against torch's own forward hooks, its runner against the live model's modules."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from cnnviz.compute.importers import Untraceable
from cnnviz.compute.importers.hooked_view import as_architecture, view_of
from cnnviz.compute.importers.model_import import example_input
from cnnviz.compute.importers.sources import import_source
from cnnviz.compute.model import build_model
from cnnviz.compute.runner import ComputeError, ForwardRunner
from cnnviz.compute.weights import save_weights
from cnnviz.core.architecture import ArchitectureError, loads
from cnnviz.core.jobs import ForwardRequest
from tests.hooked_reference import STOP, by_call, torch_calls

MODELS = Path(__file__).parents[1] / "untraceable_models.py"
SOURCE = f"{MODELS}:Branching"
SHAPE = (3, 16, 16)


def _failure() -> Untraceable:
    with pytest.raises(Untraceable) as caught:
        import_source(SOURCE, SHAPE)
    return caught.value


def test_the_rows_are_the_calls_torch_sees_with_their_shapes_and_parameters():
    failure = _failure()
    model = failure.model
    view = view_of(failure, SOURCE, SHAPE)
    expected = torch_calls(model, example_input(SHAPE))
    assert [(r.module, r.shape) for r in view.rows] == [
        (name, tuple(out.shape[1:])) for name, out in expected
    ]
    assert [r.name for r in view.rows if r.module == "shared"] == ["shared", "shared (call 2)"]
    for row in view.rows:
        own = sum(p.numel() for p in model.get_submodule(row.module).parameters())
        assert row.params == (own if row.call == 1 else 0)
    assert view.total_params == sum(p.numel() for p in model.parameters())
    ran = {name for name, _ in expected}
    assert {path for path, _, _ in view.not_run} == {"a", "b.0", "b.1"} - ran


def test_the_message_names_the_file_and_the_line_that_stopped_the_trace():
    view = view_of(_failure(), SOURCE, SHAPE)
    lines = MODELS.read_text(encoding="utf-8").splitlines()
    number = next(n for n, text in enumerate(lines, 1) if text.strip() == STOP)
    assert view.message == (
        f"read-only view: torch.fx could not trace Branching (untraceable_models.py:{number}: "
        f"`{STOP}`); every module is shown as it ran on a test input"
    )


def _request(arch, image: np.ndarray) -> ForwardRequest:
    return ForwardRequest(request_id=1, architecture=arch, image=image, device="cpu")


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_the_runner_gives_each_rows_module_output_for_the_image(tmp_path, sign):
    failure = _failure()
    weights = tmp_path / "model.safetensors"
    save_weights(failure.model, weights)
    # Through the file, as the window reads it.
    arch = loads(as_architecture(view_of(failure, SOURCE, SHAPE), str(weights)).dumps())
    image = (sign * np.abs(np.random.default_rng(0).normal(size=SHAPE))).astype(np.float32)
    result = ForwardRunner().run(_request(arch, image))
    ran = by_call(torch_calls(failure.model, torch.from_numpy(image)[None]))
    missing = []
    for layer, row in zip(result.layers, arch.layers, strict=True):
        key = (row.get("module"), row.get("call"))
        if key in ran:
            np.testing.assert_allclose(layer.output, ran.pop(key).numpy(), rtol=0, atol=0)
        else:
            missing.append(row.get("label"))
            assert not layer.output.any()
    if missing or ran:  # the image took the other path: the notice names it
        assert all(label in result.notice for label in missing)
        assert all(name in result.notice for name, _ in ran)
    else:
        assert result.notice == arch.metadata["hooked"]["message"]
    scores = failure.model(torch.from_numpy(image)[None])[0]
    np.testing.assert_allclose(
        result.probabilities, torch.softmax(scores, 0).detach().numpy(), rtol=1e-6
    )


def test_a_hooked_view_refuses_what_needs_a_network_cnnviz_built():
    failure = _failure()
    arch = as_architecture(view_of(failure, SOURCE, SHAPE))
    runner = ForwardRunner()
    with pytest.raises(ComputeError, match="read-only view of a model cnnviz could not trace"):
        runner.model_for(_request(arch, np.zeros(SHAPE, np.float32)))
    with pytest.raises(ArchitectureError, match="read-only view of a model cnnviz could not"):
        build_model(arch)  # what training and the labs build


def test_a_tuple_more_axes_or_one_number_per_sample_is_a_row_that_says_so(tmp_path):
    source = f"{MODELS}:Odd"
    with pytest.raises(Untraceable) as caught:
        import_source(source, (3, 8, 8))
    model = caught.value.model
    save_weights(model, tmp_path / "odd.safetensors")
    view = view_of(caught.value, source, (3, 8, 8))
    arch = loads(as_architecture(view, str(tmp_path / "odd.safetensors")).dumps())
    assert [layer.get("label") for layer in arch.layers] == [
        "conv Conv2d",
        "pair Pair (gives a tuple: its first tensor is shown)",
        "volume Volume (gives 4×2×8×8, shown flat)",
        "score Score (gives one number per sample)",
    ]
    assert [tuple(layer.get("out_shape")) for layer in arch.layers] == [
        (4, 8, 8), (4, 8, 8), (512,), (1,)
    ]  # fmt: skip
    image = np.random.default_rng(1).random((3, 8, 8), dtype=np.float32)
    result = ForwardRunner().run(_request(arch, image))
    seen = dict(torch_calls(model, torch.from_numpy(image)[None]))
    expected = [seen["conv"][0], seen["pair"][0][0], seen["volume"][0].reshape(-1), seen["score"]]
    for layer, values in zip(result.layers, expected, strict=True):
        np.testing.assert_array_equal(layer.output, values.numpy())
