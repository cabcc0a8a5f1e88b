"""Project files are read within limits like architecture files: hostile JSON,
pipes and devices each give one ProjectError line, never a traceback or a hang."""

from __future__ import annotations

import json
import os

import pytest

from cnnviz.core import project as project_file
from cnnviz.core import project_files
from cnnviz.core.presets import load_preset
from cnnviz.core.project import Project, ProjectError
from tests.special_files import DEV_ZERO, make_fifo, needs_dev_zero, needs_fifo, within


def saved(tmp_path) -> tuple:
    path = tmp_path / "p.cnnviz"
    project_file.save(Project(load_preset("lenet5")), path)
    return path, json.loads(path.read_text())


def test_deep_nesting_is_refused_in_one_line(tmp_path):
    path = tmp_path / "deep.cnnviz"
    path.write_text('{"format": "cnnviz-project", "x": ' + "[" * 1000 + "]" * 1000 + "}")
    with pytest.raises(ProjectError, match="nested 1,00. levels deep") as caught:
        project_file.load(path)
    assert "\n" not in str(caught.value)


def test_a_huge_integer_is_refused(tmp_path):
    path, data = saved(tmp_path)
    path.write_text(json.dumps(data).replace('"version": 1', '"version": 1' + "0" * 5000))
    with pytest.raises(ProjectError, match="5,001 digits"):
        project_file.load(path)


def test_a_lone_surrogate_in_a_name_is_refused(tmp_path):
    path, data = saved(tmp_path)
    data["architecture"]["name"] = "net\ud800"
    path.write_text(json.dumps(data))  # json escapes it as \\ud800
    with pytest.raises(ProjectError, match="surrogate"):
        project_file.load(path)


@needs_fifo
def test_a_fifo_is_refused_without_blocking(tmp_path):
    fifo = make_fifo(tmp_path)
    with pytest.raises(ProjectError, match="named pipe"):
        within(10, lambda: project_file.load(fifo), fifo)


@needs_dev_zero
def test_a_data_file_that_is_a_device_is_refused(tmp_path):
    with pytest.raises(ProjectError, match="device"):
        within(10, lambda: project_files.read_data(DEV_ZERO))


@needs_fifo
def test_a_data_file_that_is_a_fifo_is_refused(tmp_path):
    fifo = make_fifo(tmp_path)
    with pytest.raises(ProjectError, match="named pipe"):
        within(10, lambda: project_files.read_data(fifo), fifo)


def test_moving_a_snapshot_leaves_hostile_text_alone(tmp_path):
    deep = "[" * 1000 + "]" * 1000
    assert project_files.with_absolute_paths(deep, tmp_path) == deep
    assert os.path.isabs(tmp_path)
