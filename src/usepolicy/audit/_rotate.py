"""Rotation of a file log: when a file is full (by size or by time), the next batch
starts a new file at the log's path, and the old file keeps its records under an
archive name, ``LOG.<UTC time>`` (``audit.jsonl.20261128T094500.123456Z``).

The chain does not restart: the first record of the new file chains to the last
record of the old one, so the archives and the current file together are one chain
(``log_files`` lists them in order, ``verify_log`` checks them as one).

A rotation is made by whichever writer holds the log's lock when a batch is due to
rotate, never splitting the batch: the batch is written and synced into a new file
under a temporary name first, then the old file is hard-linked to its archive name
and the new file renamed over the log's path. At every moment the path names a
complete log (never a missing or empty one), so a process opening the log meanwhile
finds either file, and one that holds the old file open finds it, under its lock,
at an archive name: it was rotated, not moved by hand, and the writer follows it to
the file now at the path instead of denying (``AuditLog._check_file``).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import stat
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final

from .._errors import AuditError

__all__ = ["Rotation", "archive_path", "archives", "log_files"]

_STAMP: Final = "%Y%m%dT%H%M%S.%fZ"
_ARCHIVE: Final = re.compile(r"\d{8}T\d{6}\.\d{6}Z")
#: files beside a log that are not logs: its tree, torn tails, stale trees
_SIDE: Final = re.compile(r"\.tree$|\.tree\.stale-|\.torn-|\.rotating-")


def _stamp_of(name: str, base: str) -> str | None:
    if not name.startswith(base + "."):
        return None
    stamp = name[len(base) + 1 :]
    return stamp if _ARCHIVE.fullmatch(stamp) else None


def archives(log: str | os.PathLike[str]) -> list[Path]:
    """The rotated files of ``log``, oldest first (their names sort in time order)."""
    path = Path(log)
    try:
        names = os.listdir(path.parent)
    except OSError:
        return []
    found = sorted(name for name in names if _stamp_of(name, path.name) is not None)
    return [path.with_name(name) for name in found]


def archive_path(log: Path, now: datetime) -> Path:
    """A new archive name for ``log``: the UTC time ``now``, later than every archive
    already there (a clock set back must not sort a newer file before an older one)."""
    moment = now.astimezone(UTC)
    existing = archives(log)
    if existing:
        last = datetime.strptime(existing[-1].name[len(log.name) + 1 :], _STAMP)
        last = last.replace(tzinfo=UTC)
        if moment <= last:
            moment = last + timedelta(microseconds=1)
    return log.with_name(f"{log.name}.{moment.strftime(_STAMP)}")


def log_files(
    target: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
) -> list[Path]:
    """The files of a log, in chain order.

    Args:
        target: a log file (its archives, then itself), a folder holding one rotated
            log (its archives and current file), or several files in the order given.

    Raises:
        AuditError: a folder that holds no log, or several.
    """
    if not isinstance(target, (str, os.PathLike)):
        return [Path(p) for p in target]
    path = Path(target)
    if not _is_dir(path):
        return _current_last(archives(path), path, missing_ok=False)
    names = sorted(os.listdir(path))
    bases = {m.group(1) for n in names if (m := re.fullmatch(r"(.+)\.(\d{8}T.+Z)", n))}
    bases = {b for b in bases if any(_stamp_of(n, b) for n in names)}
    if not bases:
        bases = {n for n in names if not _SIDE.search(n) and (path / n).is_file()}
    if len(bases) != 1:
        if not bases:
            raise AuditError(f"{path}: cannot read: is a folder holding no audit log")
        several = ", ".join(sorted(bases))
        raise AuditError(
            f"{path}: cannot read: is a folder holding several logs ({several}): name the files"
        )
    (base,) = bases
    current = path / base
    return _current_last(archives(current), current, missing_ok=True)


def _is_dir(path: Path) -> bool:
    # not Path.is_dir: it raises for a name too long; the reader says what is wrong
    try:
        return stat.S_ISDIR(os.stat(path).st_mode)
    except (OSError, ValueError):
        return False


def _current_last(archived: list[Path], current: Path, *, missing_ok: bool) -> list[Path]:
    """The archives, then the current file (when it exists). An archive that is the
    current file itself (a writer died between linking it and renaming the new file
    over the path) is left out: that file is still the log, read once."""
    try:
        there = os.stat(current)
    except OSError:  # a missing log named by hand is an error for the reader to say
        return archived if missing_ok else [*archived, current]
    return [a for a in archived if not _same(a, there)] + [current]


def _same(path: Path, there: os.stat_result) -> bool:
    try:
        mine = os.stat(path)
    except OSError:
        return False
    return (mine.st_dev, mine.st_ino) == (there.st_dev, there.st_ino)


class Rotation:
    """When a log's current file is full.

    Args:
        max_bytes: rotate before a batch would take the file past this size (a batch
            larger than that gets a file of its own: a batch is never split).
        every: rotate when the batch's first record falls in another period than the
            file's first record; periods are aligned on the UTC epoch, so
            ``timedelta(hours=1)`` gives a file per clock hour, ``timedelta(days=1)`` a
            file per UTC day. Record times (not the writer's clock) decide, so every
            process agrees.

    Raises:
        ValueError: a size that is not positive, a period under a second.
    """

    def __init__(self, max_bytes: int | None = None, every: timedelta | float | None = None):
        if isinstance(every, (int, float)):
            every = timedelta(seconds=every)
        if max_bytes is not None and max_bytes <= 0:
            raise ValueError(f"rotate_bytes must be positive, not `{max_bytes}`")
        if every is not None and every.total_seconds() < 1:
            raise ValueError(f"rotate_every must be at least a second, not `{every}`")
        self.max_bytes = max_bytes
        self.every = every
        self.active = max_bytes is not None or every is not None
        self._first: tuple[int, str | None] | None = None  # (inode, its first timestamp)

    def full(self, fd: int, size: int, batch: int, next_time: object) -> bool:
        """Whether the file open as ``fd``, ``size`` bytes of complete records, is full
        for a batch of ``batch`` bytes whose first record has timestamp ``next_time``."""
        if not self.active or size <= 0:
            return False  # an empty file is never archived: it would hold no record
        if self.max_bytes is not None and size + batch > self.max_bytes:
            return True
        if self.every is None or not isinstance(next_time, str):
            return False
        inode = os.fstat(fd).st_ino
        if self._first is None or self._first[0] != inode:  # read once per file
            self._first = (inode, first_timestamp(fd, size))
        first = self._first[1]
        if first is None:
            return False
        started, upcoming = _period(first, self.every), _period(next_time, self.every)
        return started is not None and upcoming is not None and upcoming > started


def _period(timestamp: str, every: timedelta) -> int | None:
    try:
        moment = datetime.fromisoformat(timestamp)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() // every.total_seconds())


def first_timestamp(fd: int, size: int) -> str | None:
    """The ``timestamp`` of the file's first record (None when it has none)."""
    data = b""
    while b"\n" not in data and len(data) < size:
        chunk = os.pread(fd, min(1 << 16, size - len(data)), len(data))
        if not chunk:
            break
        data += chunk
    try:
        value = json.loads(data.split(b"\n", 1)[0]).get("timestamp")
    except (ValueError, AttributeError):
        return None
    return value if isinstance(value, str) else None


def was_rotated(log: Path, fd: int) -> bool:
    """Whether the file open as ``fd`` is now one of ``log``'s archives."""
    mine = os.fstat(fd)
    for archive in reversed(archives(log)):
        with contextlib.suppress(OSError):
            there = os.stat(archive)
            if (there.st_dev, there.st_ino) == (mine.st_dev, mine.st_ino):
                return True
    return False


def start_next(log: Path, old_fd: int, data: bytes, durable: bool) -> tuple[int, Path]:
    """Rotate: write ``data`` (a whole batch) to a new file, put it at the log's path
    and the old file at an archive name. Called with the old file's lock held.

    Returns:
        The new file's descriptor (locked: the caller writes its tree and unlocks it)
        and the archive name of the old file.

    Raises:
        OSError: the rotation did not happen; the old file is still the log, and
            nothing was left behind.
    """
    import fcntl  # POSIX only, as the log's lock

    temporary = log.with_name(f"{log.name}.rotating-{os.getpid()}")
    fd = os.open(temporary, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o640)
    try:
        # locked before anyone can know its name: a writer that opens the log after
        # the rename waits until this batch (and its tree) is in place
        fcntl.flock(fd, fcntl.LOCK_EX)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        if durable:
            os.fsync(fd)
        archive = _install(log, old_fd, temporary)
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    return fd, archive


def _install(log: Path, old_fd: int, temporary: Path) -> Path:
    """``link`` the old file to its archive name, then ``rename`` the new one over the
    path: the path always names a complete log. Undone when the rename fails."""
    mine = os.fstat(old_fd)
    there = os.stat(log)
    if (there.st_dev, there.st_ino) != (mine.st_dev, mine.st_ino):
        raise OSError(0, "the log's path no longer names the file being rotated")
    # a writer that died between link and rename left the file linked already: finish
    linked = [a for a in archives(log) if mine.st_nlink > 1 and _same(a, mine)]
    if linked:
        os.rename(temporary, log)
        return linked[-1]
    archive = archive_path(log, datetime.now(UTC))
    os.link(log, archive)  # fails when it exists: an archive is never overwritten
    try:
        os.rename(temporary, log)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(archive)
        raise
    return archive
