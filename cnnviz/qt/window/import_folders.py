"""The temporary folders an import writes (commands/imported.py: an architecture
file beside its weights), removed when the window closes.

The window's document lives in such a folder until the person saves it
elsewhere, so it stays while the window is open; at close the person has
already saved or discarded their work. Only a folder that still holds just
what the import wrote is removed: a project someone saved into it stays.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path

log = logging.getLogger(__name__)

PREFIX = "cnnviz-import-"  # commands/imported.py's mkdtemp prefix


def import_folder(path: str | Path) -> Path | None:
    """The import folder holding ``path``, or None when it is not in one."""
    folder = Path(path).resolve().parent
    temp = Path(tempfile.gettempdir()).resolve()
    return folder if folder.name.startswith(PREFIX) and folder.parent == temp else None


class ImportFolders:
    """The import folders this window opened, each with the names it held then."""

    def __init__(self) -> None:
        self._folders: dict[Path, frozenset[str]] = {}

    def adopt(self, path: str | Path) -> bool:
        """Remember the import folder holding ``path``; False when it is not one."""
        folder = import_folder(path)
        if folder is None:
            return False
        try:
            self._folders.setdefault(folder, frozenset(p.name for p in folder.iterdir()))
        except OSError:
            return False
        return True

    def remove(self) -> list[Path]:
        """Remove every remembered folder that holds only what the import wrote."""
        removed = []
        for folder, names in self._folders.items():
            try:
                if {p.name for p in folder.iterdir()} <= names:
                    shutil.rmtree(folder)
                    removed.append(folder)
                else:
                    log.info("kept %s: it holds files the import did not write", folder)
            except OSError as exc:
                log.info("could not remove %s: %s", folder, exc)
        self._folders.clear()
        return removed
