"""Project files: round trips, portable paths, and clear errors for bad files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from cnnviz.core import project as project_file
from cnnviz.core.architecture import Architecture, InputShape, Layer
from cnnviz.core.jobs import KernelEdit
from cnnviz.core.presets import load_preset
from cnnviz.core.project import Project, ProjectError, kernel_edit_problem


def small_arch() -> Architecture:
    return Architecture(
        "small",
        InputShape(3, 16, 16),
        (
            Layer.make("Conv2d", out_channels=4, kernel_size=3, padding=1),
            Layer.make("ReLU"),
            Layer.make("Conv2d", out_channels=2, kernel_size=(3, 5), groups=2),
        ),
    )


def sobel_edit() -> KernelEdit:
    sobel = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=np.float32)
    return KernelEdit(0, 3, np.stack([sobel, sobel, sobel]), bias=0.5)


def test_round_trip_keeps_everything(tmp_path):
    (tmp_path / "pics").mkdir()
    image = tmp_path / "pics" / "cat.png"
    outside = tmp_path.parent / "elsewhere.safetensors"
    project = Project(
        small_arch(),
        weights=str(outside),
        image=str(image),
        preprocessing={"resize": "crop", "normalize": "imagenet", "mean": [0.5]},
        kernel_edits=(sobel_edit(),),
    )
    path = tmp_path / "net.cnnviz"
    project_file.save(project, path)
    data = json.loads(path.read_text())
    # Inside the project folder: relative; outside: absolute.
    assert data["image"] == "pics/cat.png"
    assert data["weights"] == str(outside.resolve())
    back = project_file.load(path)
    assert back.architecture == project.architecture
    assert back.image == str(image.resolve())
    assert back.weights == str(outside.resolve())
    assert back.preprocessing == project.preprocessing
    (edit,) = back.kernel_edits
    assert (edit.layer, edit.out_channel, edit.bias) == (0, 3, 0.5)
    np.testing.assert_array_equal(edit.kernel, sobel_edit().kernel)
    assert edit.kernel.dtype == np.float32


def test_moving_the_project_folder_keeps_relative_paths(tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    project_file.save(Project(small_arch(), image=str(first / "x.png")), first / "p.cnnviz")
    first.rename(second)
    assert project_file.load(second / "p.cnnviz").image == str(second / "x.png")


def test_plain_architecture_file_opens_as_a_project(tmp_path):
    arch = load_preset("lenet5")
    path = tmp_path / "lenet.json"
    path.write_text(arch.dumps())
    project = project_file.load(path)
    assert project.architecture == arch
    assert project.image is None and project.kernel_edits == ()


def test_architecture_weights_next_to_the_file_are_found(tmp_path):
    data = small_arch().to_json() | {"weights": "w.safetensors"}
    (tmp_path / "net.json").write_text(json.dumps(data))
    assert project_file.load(tmp_path / "net.json").weights is None  # not there yet
    (tmp_path / "w.safetensors").write_bytes(b"x")
    assert project_file.load(tmp_path / "net.json").weights == str(tmp_path / "w.safetensors")


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "bad.cnnviz"
    path.write_text(text)
    return path


def valid_json() -> dict:
    return project_file.to_json(Project(small_arch()))


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda d: d | {"version": 3}, "newer cnnviz (project format version 3"),
        (lambda d: d | {"version": "1"}, 'bad "version"'),
        (lambda d: d | {"format": "something"}, "not a cnnviz project"),
        (lambda d: d | {"weights": 3}, '"weights" must be a file path'),
        (lambda d: d | {"image": ""}, '"image" must be a file path'),
        (lambda d: d | {"preprocessing": [1]}, '"preprocessing" must be an object'),
        (lambda d: d | {"kernel_edits": {}}, '"kernel_edits" must be a list'),
        (lambda d: d | {"kernel_edits": [{"layer": 0}]}, '"out_channel" must be whole'),
        (
            lambda d: d | {"kernel_edits": [{"layer": 1, "out_channel": 0, "kernel": [[[1]]]}]},
            "layer 1 is a ReLU, not a Conv2d",
        ),
        (
            lambda d: d | {"kernel_edits": [{"layer": 0, "out_channel": 0, "kernel": [[[1]]]}]},
            "the kernel is 1×1×1 but layer 0 needs 3×3×3",
        ),
        (
            lambda d: (
                d
                | {
                    "kernel_edits": [
                        {"layer": 0, "out_channel": 9, "kernel": [[[1.0] * 3] * 3] * 3}
                    ]
                }
            ),
            "layer 0 has no output channel 9",
        ),
        (
            lambda d: d | {"kernel_edits": [{"layer": 0, "out_channel": 0, "kernel": "abc"}]},
            "the kernel must be",
        ),
        (
            lambda d: d | {"architecture": d["architecture"] | {"layers": [{"type": "Conv9d"}]}},
            "unknown layer type 'Conv9d'",
        ),
    ],
)
def test_bad_projects_name_the_problem(tmp_path, mutate, expected):
    path = write(tmp_path, json.dumps(mutate(valid_json())))
    with pytest.raises(ProjectError) as caught:
        project_file.load(path)
    message = str(caught.value)
    assert message.startswith("bad.cnnviz: ")
    assert expected in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"format": "cnnviz-project", "version": 1, "architecture": ', "not valid JSON (line 1"),
        ("", "not valid JSON"),
        ("[1, 2]", "must hold a JSON object"),
        ('{"layers": []}', 'it has no "format" key'),
        ("\udcff", "not a text file"),
    ],
)
def test_corrupt_files_name_the_problem(tmp_path, text, expected):
    path = tmp_path / "bad.cnnviz"
    if text == "\udcff":
        path.write_bytes(b"\xff\xfe\x00garbage")
    else:
        path.write_text(text)
    with pytest.raises(ProjectError, match=expected.replace("(", r"\(")):
        project_file.load(path)


def test_missing_file_is_a_project_error(tmp_path):
    with pytest.raises(ProjectError, match="missing.cnnviz"):
        project_file.load(tmp_path / "missing.cnnviz")


def test_save_leaves_no_temporary_file(tmp_path):
    project_file.save(Project(small_arch()), tmp_path / "p.cnnviz")
    assert [p.name for p in tmp_path.iterdir()] == ["p.cnnviz"]


def test_kernel_edit_problem_follows_the_layer():
    arch = small_arch()
    assert kernel_edit_problem(arch, sobel_edit()) is None
    grouped = KernelEdit(2, 1, np.zeros((2, 3, 5), np.float32))  # 4 in / 2 groups
    assert kernel_edit_problem(arch, grouped) is None
    smaller = arch.with_layers([arch.layers[0].with_params(kernel_size=5), *arch.layers[1:]])
    assert "needs 3×5×5" in kernel_edit_problem(smaller, sobel_edit())
    assert "does not exist" in kernel_edit_problem(arch.with_layers([]), sobel_edit())


def test_the_seed_of_a_random_initialisation_round_trips_and_is_checked(tmp_path):
    path = tmp_path / "p.cnnviz"
    project_file.save(Project(load_preset("tinyvgg"), seed=7), path)
    assert project_file.load(path).seed == 7
    data = json.loads(path.read_text())
    for bad in (-1, 2**31, 1.5, "7", True):
        data["seed"] = bad
        path.write_text(json.dumps(data))
        with pytest.raises(ProjectError, match="seed"):
            project_file.load(path)
    del data["seed"]  # files from before the seed was saved: seed 0
    path.write_text(json.dumps(data))
    assert project_file.load(path).seed == 0
