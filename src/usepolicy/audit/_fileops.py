"""The POSIX steps a log file rests on: its ``flock``, whole writes, ``fdatasync``, the
fsync of its directory, whether its path still names it, and the reason an ``OSError``
gives."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Final

from .._errors import AuditError

if sys.platform != "win32":
    import fcntl

__all__ = ["MODE", "current_size", "flush", "locked", "sync_dir", "why", "write_all"]

#: the permissions of a log file and of the files set aside beside it
MODE: Final = 0o640


@contextmanager
def locked(fd: int, *, exclusive: bool = True) -> Iterator[None]:
    """Hold an advisory ``flock`` on ``fd`` (shared by all processes on this host)."""
    if sys.platform == "win32":  # pragma: no cover
        raise AuditError("the audit log needs POSIX file locking (fcntl)")
    fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
    try:
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)


def flush(fd: int) -> None:
    # fdatasync flushes the data and the size (what a reader needs), not the mtime
    (getattr(os, "fdatasync", None) or os.fsync)(fd)


def sync_dir(path: Path) -> None:
    """Make a file's creation durable (its directory entry)."""
    try:
        fd = os.open(path.parent, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return  # e.g. a device path such as /dev/full: nothing to sync
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems refuse fsync on directories; the data fsync still holds
    finally:
        os.close(fd)


def write_all(fd: int, data: bytes) -> None:
    written = os.write(fd, data)  # a record line: nearly always in one go
    if written < len(data):
        view = memoryview(data)[written:]
        while view:
            view = view[os.write(fd, view) :]


def current_size(path: Path, fd: int) -> int | None:
    """The size of the file open as ``fd`` while ``path`` still names it; None once the
    path names another file, or none (rotated, renamed, replaced, deleted)."""
    mine = os.fstat(fd)
    try:
        there = os.stat(path)
    except FileNotFoundError:
        return None
    if (mine.st_dev, mine.st_ino) != (there.st_dev, there.st_ino):
        return None
    return mine.st_size


def why(exc: OSError) -> str:
    return exc.strerror or str(exc) or type(exc).__name__
