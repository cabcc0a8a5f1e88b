"""Reading a file the user named, within limits, whatever the path turns out to be.

Every reader of user files (architectures, projects, matrix files, weights,
images) goes through `check_regular` and, where it reads the bytes itself,
`read_bytes` / `read_text`, so none of them can be made to hang or to eat
memory by what the path points at:

* only regular files are read: a folder, a FIFO, a socket or a device
  (``/dev/zero``, ``/dev/stdin``) is refused by ``stat`` before it is opened,
  because opening a FIFO blocks until a writer appears and a device reports
  size 0 yet never ends;
* the file is opened with ``O_NONBLOCK`` and checked again on the open
  descriptor, so a path swapped for a FIFO between the two checks cannot
  block either;
* at most ``limit + 1`` bytes are read, so the limit holds even for a file
  that grows while it is read (``stat``'s size alone would not bound it).

Errors are `UnreadableFile`, one line that names the file.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import BinaryIO

# Opening must never wait: O_NONBLOCK makes open() of a FIFO return at once
# (POSIX); O_NOCTTY keeps a terminal device from becoming ours. Windows has
# neither (its open does not block on these), but needs O_BINARY.
_OPEN_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NONBLOCK", 0)
    | getattr(os, "O_NOCTTY", 0)
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_BINARY", 0)
)

_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


class UnreadableFile(ValueError):
    """A file that cannot be read within the limits; one line naming the file."""


def size_text(size: int) -> str:
    """1536 → '1,536 bytes'; 3 MiB → '3 MB' (binary megabytes, as the limits are set)."""
    return f"{size / 2**20:,.0f} MB" if size >= 2**20 else f"{size:,} bytes"


def _kind(mode: int) -> str:
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def _refuse_special(path: Path, mode: int) -> None:
    if not stat.S_ISREG(mode):
        # The whole path: "zero: is a character device" would not say which.
        raise UnreadableFile(f"{path}: is {_kind(mode)}, not a regular file")


def check_regular(path: str | os.PathLike[str], limit: int | None = None, what: str = "") -> int:
    """The size of `path` if it is a regular file within `limit`; UnreadableFile otherwise.

    For readers that hand the path to a library (safetensors, torch): they
    must not be given a FIFO or a device, and a stat size is reliable for a
    regular file.
    """
    path = Path(path)
    try:
        info = os.stat(path)
    except OSError as exc:
        raise UnreadableFile(f"{path.name or path}: {exc.strerror or exc}") from None
    _refuse_special(path, info.st_mode)
    if limit is not None and info.st_size > limit:
        raise UnreadableFile(_too_large(path, what, limit))
    return info.st_size


def _too_large(path: Path, what: str, limit: int) -> str:
    kind = f" for {what}" if what else ""
    return f"{path.name}: file too large{kind} (more than {size_text(limit)})"


def open_regular(path: str | os.PathLike[str]) -> BinaryIO:
    """`path` opened for reading in binary if it is a regular file; OSError or
    UnreadableFile otherwise. Never blocks, even if the path is now a FIFO."""
    path = Path(path)
    stream = os.fdopen(os.open(path, _OPEN_FLAGS), "rb")
    try:
        # Again on the open file: the path may have been swapped since a stat.
        _refuse_special(path, os.fstat(stream.fileno()).st_mode)
    except BaseException:
        stream.close()
        raise
    return stream


def read_bytes(path: str | os.PathLike[str], limit: int, what: str = "") -> bytes:
    """At most `limit` bytes of the regular file `path`; UnreadableFile otherwise.

    `what` completes "file too large for ...", e.g. "a cnnviz architecture".
    """
    path = Path(path)
    check_regular(path, limit, what)
    try:
        with open_regular(path) as stream:
            data = stream.read(limit + 1)
    except OSError as exc:
        raise UnreadableFile(f"{path.name}: {exc.strerror or exc}") from None
    if len(data) > limit:  # it grew while being read
        raise UnreadableFile(_too_large(path, what, limit))
    return data


def read_text(path: str | os.PathLike[str], limit: int, what: str = "") -> str:
    """`read_bytes` decoded as UTF-8; UnreadableFile if it is not UTF-8 text."""
    data = read_bytes(path, limit, what)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise UnreadableFile(f"{Path(path).name}: not a text file (not UTF-8)") from None
