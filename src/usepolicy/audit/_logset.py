"""Verifying a log, one file or a rotated log's files as one chain, and reading them.

``verify_log`` (``verify_files``) reads the files in order as one chain (each file's first record
chains to the previous file's last). When the chain breaks at the first line of a
file, the files' ends say whether that file is out of place: out of order, from
another log, or after a missing file (``misplaced_file``), rather than a ``deleted``
first line.
"""

from __future__ import annotations

import glob
import json
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path

from .._errors import AuditError
from .._files import InputFileError, open_regular
from ..record import AnyRecord
from ._fileops import locked
from ._rotate import log_files
from ._sign import Verifier
from ._verify import (
    PROBLEMS,
    PublicKey,
    VerifyResult,
    _anchor_problem,
    _diagnose,
    _prefix,
    _read_line,
    _signature_problem,
    _Snapshot,
    _verifiers,
    read_records,
)

__all__ = ["misplaced_file", "read_log", "verify_files", "verify_log"]

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


def read_log(
    target: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
) -> Iterator[tuple[Path, int, AnyRecord]]:
    """Each (file, line number, record) of a log, rotated files included (as
    ``log_files`` finds them), without checking the chain.

    Raises:
        AuditError: as ``read_records``.
    """
    for path in log_files(target):
        for number, record in read_records(path):
            yield path, number, record


def verify_log(
    path: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    public_key: PublicKey | Sequence[PublicKey] | None = None,
    *,
    expect_head: str | None = None,
    expect_count: int | None = None,
    visit: Callable[[int, AnyRecord], object] | None = None,
) -> VerifyResult:
    """Check every line of an audit log, the chain, and (given keys) every signature.

    Args:
        path: the log: a file (with the files rotated out of it, ``LOG.<UTC time>``,
            when there are any), a folder holding one rotated log, or several files
            in chain order. A set of files is one chain: each file's first record
            chains to the previous file's last, and a missing or misplaced file is
            named.
        public_key: a ``Verifier`` or public key file (or several, for rotated keys);
            every record must then carry a good signature by one of them.
        expect_head: a ``record_digest`` kept elsewhere earlier: it must be in the log.
        expect_count: the record count kept with it: the log must have at least as many
            records (and ``expect_head`` must be the record at that line).
        visit: called with (line, record) for each record that passed its checks, as
            the log streams past, so a reader can aggregate in the same single pass
            (``collect_stats``). When the chain breaks, the lines just before the break
            may turn out not to belong to the chain (an insertion): they were visited.
            Over several files, ``line`` counts within each file.

    Returns:
        The verdict, naming the first bad line (and, over several files, its file:
        ``path``) and what is wrong there.

    Raises:
        AuditError: the log cannot be read.
        InputFileError: a key file cannot be read (an ``OSError``).
        ValueError: a key file is not an Ed25519 public key.
    """
    seen = None if visit is None else (lambda _file, line, record: visit(line, record))
    return verify_files(path, public_key, expect_head, expect_count, seen)


def verify_files(
    path: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    public_key: PublicKey | Sequence[PublicKey] | None,
    expect_head: str | None,
    expect_count: int | None,
    visit: Callable[[Path, int, AnyRecord], object] | None,
) -> VerifyResult:
    """``verify_log``, whose ``visit`` is also told each record's file."""
    files = log_files(path)
    verifiers = _verifiers(public_key)
    shown = os.fspath(path) if isinstance(path, (str, os.PathLike)) else str(files[0])
    pattern = glob.escape(str(files[-1])) + ".torn-*"
    result = VerifyResult(
        path=shown,
        count=0,
        head=None,
        signatures_checked=bool(verifiers),
        torn_files=tuple(sorted(Path(p).name for p in glob.glob(pattern))),
        files=tuple(str(f) for f in files) if len(files) > 1 else (),
    )
    scan = _Scan(expect_head)
    for index, log in enumerate(files):
        failure = scan.file(log, verifiers, visit)
        if failure is not None:
            line, problem, message = failure
            if index and line == 1 and problem in ("deleted", "inserted", "reordered"):
                found = misplaced_file(files)
                if found is not None and found[0] == log:
                    good = message[message.rindex(" (") :]
                    problem, message = found[1], found[2] + good
            where = str(log) if len(files) > 1 else result.path
            return replace(
                result, path=where, count=scan.count, head=scan.head, signed=scan.signed,
                line=line, problem=problem, message=message,
            )  # fmt: skip
    result = replace(result, count=scan.count, head=scan.head, signed=scan.signed)
    problem, message = _anchor_problem(scan.count, scan.anchor, expect_head, expect_count)
    if problem:
        return replace(result, line=scan.count + 1, problem=problem, message=message)
    return result


class _Scan:
    """The chain read so far, over one file or several in order."""

    def __init__(self, expect_head: str | None) -> None:
        self.expect_head = expect_head
        self.head: str | None = None
        self.count = self.signed = 0
        self.anchor: int | None = None  # the record count at the expected head

    def file(
        self,
        log: Path,
        verifiers: dict[str, Verifier],
        visit: Callable[[Path, int, AnyRecord], object] | None,
    ) -> tuple[int, str, str] | None:
        """Read one file on from the chain so far: its first bad line, or None."""
        snapshot = _Snapshot(log)
        start = (self.count, self.head, self.signed)
        try:
            for number, (raw, terminated) in enumerate(snapshot.lines(), 1):
                record, problem, message = _read_line(raw)
                if not terminated:
                    problem, message = "torn-tail", f"{PROBLEMS['torn-tail']} ({len(raw)} bytes)"
                elif record is not None and record.prev_digest != self.head:
                    number, problem, message = _diagnose(snapshot, number, self.head, record)
                    if number <= self.count - start[0]:  # the break began before this line
                        count, head, signed = _prefix(snapshot, number - 1, start[1])
                        self.count, self.signed = start[0] + count, start[2] + signed
                        self.head = head
                elif record is not None and verifiers:
                    problem, message = _signature_problem(record, verifiers)
                if record is None or problem:
                    good = f"{self.count} good record{'' if self.count == 1 else 's'}"
                    return number, problem, f"{message} ({good} before it)"
                self.head = record.record_digest
                self.count += 1
                self.signed += record.signature is not None
                if visit is not None:
                    visit(log, number, record)
                if self.head == self.expect_head:
                    self.anchor = self.count
        finally:
            snapshot.close()
        return None
