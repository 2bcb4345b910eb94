"""A rotated log's files as one chain: is each file where it belongs?

Before reading the records, ``verify_log`` compares each file's ends: the first
record of a file must chain to the last record of the file before it. A file given
out of order, or missing from the middle, is named here as such, rather than as a
``deleted`` first line of the file after the gap.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

from .._errors import AuditError
from .._files import InputFileError, open_regular
from ._filelog import locked

__all__ = ["misplaced_file"]

_CHUNK = 1 << 16


def _ends(path: Path) -> tuple[str | None, str | None] | None:
    """(first record's ``prev_digest``, last record's ``record_digest``), or None for a
    file without complete records or whose ends are not records (the line by line
    reading names what is wrong with it)."""
    try:
        fd = open_regular(path)
    except InputFileError as exc:
        raise AuditError(f"{path}: cannot read: {exc.reason}") from exc
    try:
        with locked(fd, exclusive=False):
            size = os.fstat(fd).st_size
        head = b""
        while b"\n" not in head and len(head) < size:
            head += os.pread(fd, min(_CHUNK, size - len(head)), len(head))
        tail = b""
        while tail.count(b"\n") < 2 and len(tail) < size:
            start = max(0, size - len(tail) - _CHUNK)
            tail = os.pread(fd, size - len(tail) - start, start) + tail
    finally:
        os.close(fd)
    if b"\n" not in head:
        return None
    first = head.split(b"\n", 1)[0]
    last = tail[: tail.rfind(b"\n")].rsplit(b"\n", 1)[-1]
    try:
        prev, digest = json.loads(first)["prev_digest"], json.loads(last)["record_digest"]
    except (ValueError, KeyError, TypeError):
        return None
    if not (prev is None or isinstance(prev, str)) or not isinstance(digest, str):
        return None
    return prev, digest


def misplaced_file(files: Sequence[Path]) -> tuple[Path, str, str] | None:
    """The first file that does not follow the one before it in the chain, as (file,
    problem, message), or None when every file follows on."""
    ends = [_ends(path) for path in files]
    last_of = {e[1]: i for i, e in enumerate(ends) if e is not None}
    previous: int | None = None  # the last file with records before this one
    for i, end in enumerate(ends):
        if end is None:
            continue
        prev, _ = end
        if previous is None:
            previous = i
            continue
        expected = ends[previous]
        assert expected is not None
        if prev == expected[1]:
            previous = i
            continue
        name, before = files[i].name, files[previous].name
        target = last_of.get(prev) if prev is not None else None
        if target is not None and target > i:
            message = f"{name} continues {files[target].name}, which comes after it"
            return files[i], "reordered", message
        if target is not None:
            message = f"{name} continues {files[target].name}, not {before} just before it"
            return files[i], "reordered", message
        if prev is None:
            message = f"{name} starts a new chain: it is not part of the log before it"
            return files[i], "inserted", message
        message = (
            f"{name} chains to a record in no file given: a file is missing between "
            f"{before} and {name}, or records were deleted"
        )
        return files[i], "deleted", message
    return None
