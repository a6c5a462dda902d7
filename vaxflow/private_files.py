"""Files holding personal data are readable by the service only: created 0600, tightened if
they already exist (the database and its WAL and SHM, backups, exports, reports).

SQLite creates a database's -wal and -shm files with the database file's own mode, so making
the database file 0600 before SQLite first opens it covers all three.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import IO, Any

#: Owner read and write, nobody else.
PRIVATE = 0o600


def _opener(path: str, flags: int) -> int:
    return os.open(path, flags, PRIVATE)


def create_private(path: str | os.PathLike[str]) -> None:
    """Make sure `path` exists (empty if new) and is 0600; its content is left alone."""
    fd = os.open(path, os.O_CREAT | os.O_RDONLY, PRIVATE)
    try:
        os.fchmod(fd, PRIVATE)
    finally:
        os.close(fd)


def tighten(path: str | os.PathLike[str]) -> None:
    """Make an existing file 0600 (a file from before this rule); a missing one is fine."""
    with contextlib.suppress(FileNotFoundError):
        os.chmod(path, PRIVATE)


def open_private(path: str | os.PathLike[str], mode: str = "w", **kwargs: Any) -> IO[Any]:
    """`open` for writing a file only the service may read (0600, also when it existed)."""
    handle = open(path, mode, opener=_opener, **kwargs)  # noqa: SIM115 - the caller closes it
    os.fchmod(handle.fileno(), PRIVATE)
    return handle


def write_private_text(path: Path, text: str, encoding: str = "utf-8") -> None:
    with open_private(path, "w", encoding=encoding) as out:
        out.write(text)


def write_private_bytes(path: Path, data: bytes) -> None:
    with open_private(path, "wb") as out:
        out.write(data)
