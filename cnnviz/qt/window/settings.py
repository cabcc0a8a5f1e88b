"""What the window remembers between runs (QSettings "cnnviz"/"cnnviz").

Tests point QSettings at a temporary folder (`use_settings_folder`) so they
never read or write the person's real settings.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QByteArray, QCoreApplication, QSettings

ORGANIZATION = "cnnviz"
APPLICATION = "cnnviz"
MAX_RECENT = 8
# Bumped when the dock layout changes so an old saved layout is not restored.
LAYOUT_VERSION = 1


def init_application_names() -> None:
    QCoreApplication.setOrganizationName(ORGANIZATION)
    QCoreApplication.setApplicationName(APPLICATION)


def use_settings_folder(folder: str | Path) -> None:
    """Keep all settings as INI files under `folder` (tests, portable runs)."""
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    for scope in (QSettings.Scope.UserScope, QSettings.Scope.SystemScope):
        QSettings.setPath(QSettings.Format.IniFormat, scope, str(folder))


def settings() -> QSettings:
    # The default format (not the (org, app) constructor's native one), so that
    # use_settings_folder also redirects these.
    return QSettings(
        QSettings.defaultFormat(), QSettings.Scope.UserScope, ORGANIZATION, APPLICATION
    )


def recent_files() -> list[str]:
    value = settings().value("recent_files", [])
    if isinstance(value, str):  # QSettings gives a lone string for a one-item list
        value = [value]
    return [str(v) for v in value or []]


def add_recent_file(path: str | Path) -> list[str]:
    path = str(Path(path).resolve())
    files = [path, *(f for f in recent_files() if f != path)][:MAX_RECENT]
    settings().setValue("recent_files", files)
    return files


def remove_recent_file(path: str) -> list[str]:
    files = [f for f in recent_files() if f != path]
    settings().setValue("recent_files", files)
    return files


def clear_recent_files() -> None:
    settings().setValue("recent_files", [])


def last_folder(kind: str) -> str:
    """The folder of the last file of this kind (\"project\", \"image\", \"weights\")."""
    return str(settings().value(f"folders/{kind}", str(Path.home())))


def remember_folder(kind: str, path: str | Path) -> None:
    settings().setValue(f"folders/{kind}", str(Path(path).resolve().parent))


def device() -> str:
    return str(settings().value("compute/device", "auto"))


def set_device(name: str) -> None:
    settings().setValue("compute/device", name)


def window_layout() -> tuple[QByteArray | None, QByteArray | None]:
    """Saved (geometry, dock state), or None for each when there is none (or it is old)."""
    store = settings()
    if store.value("window/layout_version", 0, type=int) != LAYOUT_VERSION:
        return None, None
    geometry = store.value("window/geometry")
    state = store.value("window/state")
    return (
        geometry if isinstance(geometry, QByteArray) else None,
        state if isinstance(state, QByteArray) else None,
    )


def save_window_layout(geometry: QByteArray, state: QByteArray) -> None:
    store = settings()
    store.setValue("window/layout_version", LAYOUT_VERSION)
    store.setValue("window/geometry", geometry)
    store.setValue("window/state", state)
