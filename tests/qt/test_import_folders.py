"""The window removes the temporary folders its imports wrote when it closes, but
never a folder someone saved other files into, and nothing outside such folders."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from cnnviz.qt.window.import_folders import PREFIX, ImportFolders, import_folder


@pytest.fixture
def written():
    folder = Path(tempfile.mkdtemp(prefix=PREFIX))
    (folder / "Net.json").write_text("{}")
    (folder / "Net.safetensors").write_bytes(b"x")
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_an_import_folder_is_removed(written):
    folders = ImportFolders()
    assert folders.adopt(written / "Net.json")
    assert folders.remove() == [written.resolve()]
    assert not written.exists()


def test_a_folder_with_a_saved_project_in_it_stays(written):
    folders = ImportFolders()
    assert folders.adopt(written / "Net.json")
    (written / "mine.cnnviz").write_text("{}")  # saved there afterwards
    assert folders.remove() == []
    assert (written / "mine.cnnviz").is_file() and (written / "Net.json").is_file()


def test_other_folders_are_never_adopted(tmp_path):
    lookalike = tmp_path / f"{PREFIX}abc"  # the prefix, but not in the temporary folder
    lookalike.mkdir()
    (lookalike / "Net.json").write_text("{}")
    folders = ImportFolders()
    assert import_folder(lookalike / "Net.json") is None
    assert not folders.adopt(lookalike / "Net.json") and not folders.adopt(tmp_path / "x.json")
    assert folders.remove() == [] and (lookalike / "Net.json").is_file()
