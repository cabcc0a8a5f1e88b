"""Every Qt test runs with its own empty settings: no test reads or writes the
settings of the person running the suite, nor sees what another test left."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QStandardPaths

from cnnviz.qt.window import settings


@pytest.fixture(autouse=True)
def isolated_settings(tmp_path):
    QStandardPaths.setTestModeEnabled(True)
    settings.use_settings_folder(tmp_path / "settings")
    settings.init_application_names()
