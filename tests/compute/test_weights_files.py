"""Weights files: safetensors round trip, safe .pt reading, first-mismatch messages."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from torch import nn

from cnnviz.compute import weights as weights_module
from cnnviz.compute.model import build_model
from cnnviz.compute.weights import (
    WeightsError,
    load_fitting_layers,
    load_weights,
    read_weights,
    save_weights,
)
from cnnviz.core.architecture import InputShape
from cnnviz.core.presets import load_preset
from tests.special_files import DEV_ZERO, make_fifo, needs_dev_zero, needs_fifo, within


@pytest.fixture
def fifo(tmp_path):
    return make_fifo(tmp_path)


def interview(seed: int = 0) -> nn.Sequential:
    return build_model(load_preset("interview"), seed)


def assert_same_state(a: nn.Module, b: nn.Module) -> None:
    for key, value in a.state_dict().items():
        assert torch.equal(value, b.state_dict()[key]), key


def test_safetensors_round_trip(tmp_path):
    source = interview(1)
    path = tmp_path / "w.safetensors"
    save_weights(source, path)
    target = interview(2)
    load_weights(target, path)
    assert_same_state(source, target)
    assert not (tmp_path / "w.safetensors.tmp").exists()


def test_numpy_state_dict_saves_like_a_trained_result(tmp_path):
    source = interview(1)
    numpy_state = {k: v.numpy().copy() for k, v in source.state_dict().items()}
    save_weights(numpy_state, tmp_path / "w.safetensors")
    assert set(read_weights(tmp_path / "w.safetensors")) == set(numpy_state)


def test_pt_state_dict_loads_and_uses_weights_only(tmp_path, monkeypatch):
    source = interview(1)
    path = tmp_path / "w.pt"
    torch.save(source.state_dict(), path)
    calls = []
    real_load = torch.load

    def spy(*args, **kwargs):
        calls.append(kwargs)
        return real_load(*args, **kwargs)

    monkeypatch.setattr(weights_module.torch, "load", spy)
    target = interview(2)
    load_weights(target, path)
    assert_same_state(source, target)
    assert calls and all(call.get("weights_only") is True for call in calls)


class _Payload:
    """Unpickling this would create a file: what a malicious checkpoint could do."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_a_pickle_that_would_run_code_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pth"
    with path.open("wb") as handle:
        pickle.dump({"0.weight": _Payload(marker)}, handle, protocol=2)
    with pytest.raises(WeightsError, match=r"^evil\.pth: holds Python objects \(io.open\)"):
        read_weights(path)
    assert not marker.exists()


def test_a_whole_pickled_model_is_refused(tmp_path):
    path = tmp_path / "model.pt"
    torch.save(nn.Sequential(nn.Linear(2, 2)), path)
    with pytest.raises(WeightsError) as caught:
        read_weights(path)
    message = str(caught.value)
    assert message.startswith(
        "model.pt: holds Python objects (torch.nn.modules.container.Sequential) that cnnviz "
        "will not unpickle (unsafe); save a state dict instead: safetensors.torch.save_file("
    )
    # Never torch's own advice, which is to run the pickle's code.
    assert "weights_only" not in message and "\n" not in message and "\x1b" not in message


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"xyz, not a pickle", "not a plain state dict that cnnviz can read safely; save a"),
        (pickle.dumps({"a": pickle.PickleError()}), "not a plain state dict that cnnviz can"),
        (b"", "the file is empty or cut short"),
    ],
)
def test_unreadable_pt_files_say_what_to_do_in_one_line(tmp_path, content, reason):
    path = tmp_path / "w.pt"
    path.write_bytes(content)
    with pytest.raises(WeightsError) as caught:
        read_weights(path)
    message = str(caught.value)
    assert message.startswith(f"w.pt: {reason}")
    assert "weights_only" not in message and "\n" not in message


@pytest.mark.parametrize(
    "content, reason",
    [(b"", "not a readable safetensors file"), (b"\x00garbage" * 10, "not a readable safetensors")],
)
def test_unreadable_safetensors(tmp_path, content, reason):
    path = tmp_path / "bad.safetensors"
    path.write_bytes(content)
    with pytest.raises(WeightsError, match=f"bad.safetensors: {reason}"):
        read_weights(path)


def test_missing_file_and_non_dict(tmp_path):
    with pytest.raises(WeightsError, match="no such weights file"):
        read_weights(tmp_path / "nothing.safetensors")
    torch.save([torch.zeros(2)], tmp_path / "list.pt")
    with pytest.raises(WeightsError, match="list.pt: holds a list, not a state dict"):
        read_weights(tmp_path / "list.pt")


def test_shape_mismatch_names_the_first_key_in_layer_order(tmp_path):
    arch = load_preset("interview")
    save_weights(build_model(arch, 0), tmp_path / "w.safetensors")
    layers = list(arch.layers)
    layers[4] = layers[4].with_params(out_channels=12)  # changes 4.*, 5.* and 10.weight
    other = build_model(arch.with_layers(layers), 0)
    with pytest.raises(WeightsError) as info:
        load_weights(other, tmp_path / "w.safetensors")
    message = str(info.value)
    assert message.startswith("w.safetensors do not fit the stack: ")
    assert "'4.weight' is 16×8×3×3 in the file but layer 4 Conv2d needs 12×8×3×3" in message
    assert "\n" not in message


def test_missing_and_unexpected_keys_are_named(tmp_path):
    model = interview(0)
    state = dict(model.state_dict())
    del state["4.bias"]
    torch.save(state, tmp_path / "missing.pt")
    with pytest.raises(WeightsError, match=r"the file has no '4\.bias' \(layer 4 Conv2d\)"):
        load_weights(interview(0), tmp_path / "missing.pt")
    state = dict(model.state_dict(), **{"3.weight": torch.zeros(2)})
    torch.save(state, tmp_path / "extra.pt")
    with pytest.raises(
        WeightsError, match=r"has '3\.weight' but layer 3 MaxPool2d has no such weights"
    ):
        load_weights(interview(0), tmp_path / "extra.pt")


def test_wrapped_and_prefixed_state_dicts_load(tmp_path):
    source = interview(1)
    wrapped = {"epoch": 3, "state_dict": {f"module.{k}": v for k, v in source.state_dict().items()}}
    torch.save(wrapped, tmp_path / "checkpoint.pt")
    target = interview(2)
    load_weights(target, tmp_path / "checkpoint.pt")
    assert_same_state(source, target)


def test_batch_norm_counter_may_be_absent(tmp_path):
    source = interview(1)
    state = {k: v for k, v in source.state_dict().items() if "num_batches_tracked" not in k}
    save_weights(state, tmp_path / "w.safetensors")
    target = interview(2)
    load_weights(target, tmp_path / "w.safetensors")
    np.testing.assert_array_equal(target[1].running_var.numpy(), source[1].running_var.numpy())


def test_fitting_layers_load_where_the_shapes_agree():
    arch = load_preset("interview")
    source = build_model(arch, 1)
    smaller = build_model(arch.with_input(InputShape(1, 20, 20)), 2)  # only Linear differs
    loaded = load_fitting_layers(smaller, source.state_dict())
    assert loaded == [0, 1, 4, 5]
    assert torch.equal(smaller[4].weight, source[4].weight)
    assert not torch.equal(smaller[10].bias, source[10].bias)


@needs_fifo
def test_weights_files_refuse_a_fifo(fifo):
    for name in ("w.pt", "w.safetensors", "w.bin2"):
        path = fifo.rename(fifo.with_name(name))
        with pytest.raises(WeightsError, match="named pipe"):
            within(10, lambda path=path: read_weights(path), path)
        fifo = path


@needs_dev_zero
def test_weights_files_refuse_dev_zero():
    with pytest.raises(WeightsError, match="/dev/zero: is a character device"):
        read_weights(DEV_ZERO)
