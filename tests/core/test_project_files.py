"""Everything cnnviz writes as a project it reads back, equal, within bounded reads.

A property test saves generated projects (large kernels on a 512-channel layer,
drawn images, weights) and loads them again; the bounds are the same on both
sides, so a project too large to read is never written.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from safetensors.numpy import load_file

from cnnviz.core import project as project_file
from cnnviz.core import project_files
from cnnviz.core.architecture import Architecture, InputShape, Layer
from cnnviz.core.jobs import KernelEdit
from cnnviz.core.project import Project, ProjectError

FINITE = st.floats(width=32, allow_nan=False, allow_infinity=False)


def wide_arch(channels: int = 512, kernel: int = 3, out: int = 4) -> Architecture:
    """Layer 1 sees `channels` input channels: its kernels are channels × k × k."""
    return Architecture(
        "wide",
        InputShape(3, 8, 8),
        (
            Layer.make("Conv2d", out_channels=channels, kernel_size=1),
            Layer.make("ReLU"),
            Layer.make("Conv2d", out_channels=out, kernel_size=kernel, padding=1),
        ),
    )


def assert_same(back: Project, project: Project) -> None:
    assert back.architecture == project.architecture
    assert back.image == project.image
    assert back.preprocessing == project.preprocessing
    assert len(back.kernel_edits) == len(project.kernel_edits)
    for got, want in zip(back.kernel_edits, project.kernel_edits, strict=True):
        assert (got.layer, got.out_channel, got.bias) == (want.layer, want.out_channel, want.bias)
        assert got.kernel.dtype == np.float32
        np.testing.assert_array_equal(got.kernel, want.kernel)
    if project.image_data is None:
        assert back.image_data is None
    else:
        assert back.image_data.dtype == np.float32
        np.testing.assert_array_equal(back.image_data, project.image_data)


@st.composite
def projects(draw) -> tuple[Project, dict | None]:
    channels = draw(st.sampled_from([512, 3, 64]))  # the first is drawn most
    kernel = draw(st.sampled_from([3, 1]))
    arch = wide_arch(channels, kernel)
    edits = []
    for out_channel in draw(st.sets(st.integers(0, 3), max_size=3)):
        values = draw(arrays(np.float32, (channels, kernel, kernel), elements=FINITE))
        bias = draw(st.none() | st.floats(allow_nan=False, allow_infinity=False))
        edits.append(KernelEdit(2, out_channel, values, bias))
    image_shape = st.sampled_from([(28, 28), (5, 7, 3), (2, 3, 1)])
    image_data = draw(st.none() | image_shape.flatmap(lambda s: arrays(np.float32, s)))
    image_data = None if image_data is None else np.nan_to_num(image_data, posinf=1, neginf=0)
    image = None if image_data is not None else draw(st.none() | st.just("/pictures/cat.png"))
    settings_ = draw(
        st.dictionaries(st.sampled_from(["resize", "mean"]), st.integers(), max_size=2)
    )
    weights = draw(st.none() | st.just({"0.weight": np.ones((channels, 3, 1, 1), np.float32)}))
    project = Project(arch, None, image, settings_, tuple(edits), image_data)
    return project, weights


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(generated=projects())
def test_what_is_written_reads_back_equal(tmp_path_factory, generated):
    project, weights = generated
    path = tmp_path_factory.mktemp("p") / "net.cnnviz"
    written = project_file.write(project, path, weights)
    back = project_file.load(path)
    assert_same(back, project)
    if weights is None:
        assert back.weights is None
    else:
        assert back.weights == written.weights == str(path.with_name("net.weights.safetensors"))
        stored = load_file(back.weights)
        assert stored.keys() == weights.keys()
        np.testing.assert_array_equal(stored["0.weight"], weights["0.weight"])
    # The JSON stays small: large kernels and images are in the data file.
    assert path.stat().st_size < 2 * 1024 * 1024


def test_a_hand_set_kernel_on_a_512_channel_layer_opens(tmp_path):
    kernel = np.random.default_rng(1).normal(size=(512, 3, 3)).astype(np.float32)
    project = Project(wide_arch(), kernel_edits=(KernelEdit(2, 1, kernel, 0.5),))
    path = tmp_path / "wide.cnnviz"
    project_file.save(project, path)
    assert_same(project_file.load(path), project)
    assert json.loads(path.read_text())["kernel_edits"][0]["kernel"] == {"array": "kernel_edit.0"}


def test_a_project_over_10_mb_opens_and_its_json_stays_small(tmp_path):
    rng = np.random.default_rng(2)
    edits = tuple(
        KernelEdit(2, c, rng.normal(size=(512, 3, 3)).astype(np.float32)) for c in range(300)
    )
    image = rng.random((1024, 1024, 3), dtype=np.float32)
    project = Project(wide_arch(out=300), kernel_edits=edits, image_data=image)
    path = tmp_path / "big.cnnviz"
    project_file.save(project, path)
    total = sum(p.stat().st_size for p in tmp_path.iterdir())
    assert total > 10 * 1024 * 1024
    assert path.stat().st_size < 1024 * 1024
    assert_same(project_file.load(path), project)


def test_small_kernels_stay_readable_and_the_file_stays_version_1(tmp_path):
    kernel = np.arange(27, dtype=np.float32).reshape(3, 3, 3) / 7
    project = Project(wide_arch(channels=3), kernel_edits=(KernelEdit(2, 0, kernel),))
    path = tmp_path / "small.cnnviz"
    project_file.save(project, path)
    data = json.loads(path.read_text())
    assert data["version"] == 1 and "data" not in data  # older cnnviz opens it
    assert np.asarray(data["kernel_edits"][0]["kernel"], np.float32).tolist() == kernel.tolist()
    assert [p.name for p in tmp_path.iterdir()] == ["small.cnnviz"]


def test_a_project_too_large_to_read_is_never_written(tmp_path, monkeypatch):
    kernel = np.ones((512, 3, 3), np.float32)
    project = Project(wide_arch(), kernel_edits=(KernelEdit(2, 1, kernel),))
    monkeypatch.setattr(project_files, "MAX_DATA_BYTES", kernel.nbytes - 1)
    with pytest.raises(ProjectError, match="cannot save big.cnnviz: .*over the"):
        project_file.save(project, tmp_path / "big.cnnviz")
    assert list(tmp_path.iterdir()) == []
    monkeypatch.setattr(project_files, "MAX_JSON_BYTES", 100)
    with pytest.raises(ProjectError, match="too large for its JSON file"):
        project_file.save(Project(wide_arch()), tmp_path / "big.cnnviz")
    assert list(tmp_path.iterdir()) == []


def test_reading_is_bounded_with_one_line_each(tmp_path, monkeypatch):
    kernel = np.ones((512, 3, 3), np.float32)
    path = tmp_path / "p.cnnviz"
    project_file.save(Project(wide_arch(), kernel_edits=(KernelEdit(2, 1, kernel),)), path)
    monkeypatch.setattr(project_files, "MAX_DATA_BYTES", 1000)
    with pytest.raises(ProjectError, match=r"^p.cnnviz: data file p.data.safetensors: file too"):
        project_file.load(path)
    monkeypatch.setattr(project_files, "MAX_JSON_BYTES", 100)
    with pytest.raises(ProjectError, match=r"^p.cnnviz: file too large for a cnnviz project"):
        project_file.load(path)
    deep = tmp_path / "deep.cnnviz"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    monkeypatch.setattr(project_files, "MAX_JSON_BYTES", 1024 * 1024)
    with pytest.raises(ProjectError, match=r"^deep.cnnviz: nested 100,000 levels deep; at most"):
        project_file.load(deep)


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda d: d | {"image": {"array": 3}}, '"array" must name an array'),
        (lambda d: d | {"image": {"array": "image"}, "data": None}, "names none"),
        (lambda d: d | {"image": {"array": "nope"}}, "the data file has no array 'nope'"),
        (lambda d: d | {"data": "missing.data.safetensors"}, "No such file"),
    ],
)
def test_bad_array_references_name_the_problem(tmp_path, mutate, expected):
    image = np.zeros((4, 4), np.float32)
    path = tmp_path / "p.cnnviz"
    project_file.save(Project(wide_arch(channels=3), image_data=image), path)
    path.write_text(json.dumps(mutate(json.loads(path.read_text()))))
    with pytest.raises(ProjectError, match=expected) as caught:
        project_file.load(path)
    assert "\n" not in str(caught.value)


def test_a_data_file_that_is_not_safetensors_is_refused(tmp_path):
    path = tmp_path / "p.cnnviz"
    project_file.save(Project(wide_arch(channels=3), image_data=np.ones((2, 2), np.float32)), path)
    path.with_name("p.data.safetensors").write_bytes(b"\xff" * 64)
    with pytest.raises(ProjectError, match="not a readable safetensors file"):
        project_file.load(path)


def test_autosaved_text_points_at_its_moved_sidecars(tmp_path):
    text = json.dumps({"format": "cnnviz-project", "weights": "a.weights.safetensors"})
    moved = json.loads(project_files.with_absolute_paths(text, tmp_path))
    assert moved["weights"] == str(tmp_path / "a.weights.safetensors")
    untouched = json.dumps({"format": "cnnviz-project", "weights": "/abs/w.safetensors"})
    assert project_files.with_absolute_paths(untouched, tmp_path) == untouched
    assert project_files.with_absolute_paths("{broken", Path("/x")) == "{broken"


def test_a_write_that_fails_leaves_the_old_file_and_no_temporary_file(tmp_path):
    target = tmp_path / "w.weights.safetensors"
    project_files.write_weights({"0.weight": np.ones((2, 2), np.float32)}, target)
    before = target.read_bytes()
    with pytest.raises(Exception):  # noqa: B017 - safetensors refuses object arrays its own way
        project_files.write_weights({"0.weight": np.array([object()])}, target)
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == [target.name]
    project_files.write_atomically(tmp_path / "p.cnnviz", b"{}")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.cnnviz", target.name]
