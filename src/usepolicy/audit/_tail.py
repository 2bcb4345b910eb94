"""Where a log's chain ends, and a torn tail set aside.

Read under the log's ``flock``, from the descriptor, whenever the file's size is not
the one its writer last left: another writer appended, or one died mid-line.
"""

from __future__ import annotations

import json
import logging
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from .._errors import AuditError
from ._fileops import MODE, sync_dir, why, write_all

__all__ = ["read_tail"]

_log = logging.getLogger("usepolicy.audit")
_CHUNK: Final = 1 << 16


def read_tail(fd: int, path: Path, size: int) -> tuple[str | None, int, Path | None]:
    """The chain head and the end of the last complete record of the log ``path`` open
    as ``fd`` (``size`` bytes), and the side file its torn tail was moved to, if any.

    A torn tail is an unterminated last line (a writer died mid-line) and at most one
    complete but unreadable line before it. Anything worse is not ours to move.
    """
    end = size
    torn_from: int | None = None
    if size and os.pread(fd, 1, size - 1) != b"\n":
        torn_from = end = _rfind_newline(fd, size) + 1
    head: str | None = None
    for attempt in range(2):
        if end == 0:
            break
        start = _rfind_newline(fd, end - 1) + 1
        head = _record_digest(os.pread(fd, end - 1 - start, start))
        if head is not None:
            break
        if attempt:
            raise AuditError(
                f"{path}: the last lines are not decision records: not an audit "
                "log, or damaged (see `usepolicy audit verify`)"
            )
        torn_from = end = start
    side = None if torn_from is None else _set_aside(fd, path, torn_from, size)
    return head, end, side


def _set_aside(fd: int, path: Path, start: int, size: int) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    side = path.with_name(f"{path.name}.torn-{stamp}")
    try:
        out = os.open(side, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, MODE)
        try:
            for offset in range(start, size, _CHUNK):
                write_all(out, os.pread(fd, min(_CHUNK, size - offset), offset))
            os.fsync(out)
        finally:
            os.close(out)
        sync_dir(side)
        os.ftruncate(fd, start)
        os.fsync(fd)
    except OSError as exc:
        raise AuditError(
            f"{path}: cannot set aside its torn tail ({size - start} bytes) "
            f"in {side.name}: {why(exc)}"
        ) from exc
    _log.warning("%s: moved a torn tail of %d bytes to %s", path, size - start, side.name)
    return side


def _rfind_newline(fd: int, end: int) -> int:
    """Offset of the last ``\\n`` in bytes ``[0, end)`` of ``fd``, or -1."""
    pos = end
    while pos > 0:
        start = max(0, pos - _CHUNK)
        found = os.pread(fd, pos - start, start).rfind(b"\n")
        if found >= 0:
            return start + found
        pos = start
    return -1


def _record_digest(line: bytes) -> str | None:
    """The ``record_digest`` of a line that is a record (of either kind), else None."""
    from pydantic import ValidationError

    from ..record import parse_record

    try:
        return parse_record(json.loads(line)).record_digest
    except (ValidationError, ValueError, RecursionError):
        return None
