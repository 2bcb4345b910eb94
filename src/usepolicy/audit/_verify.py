"""Checking an audit log offline: each line, the chain, signatures and anchors.

The verifier (``verify_log``, in ``_logset``, over one file or a rotated log's files)
reads the log once, line by line, and stops at the first bad line. Only when the chain
breaks does it read the file a second time, to say how it broke (``_diagnose``): a line
was inserted, a record deleted, or records reordered.

What the file alone cannot show: records cut off the *end* (a shorter log is still a
valid chain) and records appended at the end by someone who can write the file (and,
when records are signed, holds the key). An anchor written elsewhere (``expect_head``,
``expect_count``) catches the first.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from pydantic import ValidationError

from .._errors import AuditError
from .._files import InputFileError, open_regular
from ..record import AnyRecord, canonical_json, parse_record, seal
from ._fileops import locked
from ._sign import Verifier

__all__ = ["PROBLEMS", "VerifyResult", "read_records"]

#: the problem codes ``verify_log`` reports, with what each means
PROBLEMS: Final = {
    "torn-tail": "the last line is incomplete: a writer stopped mid-line",
    "bad-json": "the line is not JSON",
    "bad-record": "the line is JSON but not a decision record (or holds what no writer writes)",
    "edited": "the line's content does not match its record_digest, or is not canonical",
    "inserted": "the line is not part of the chain around it",
    "deleted": "the record this line chains to is not in the log",
    "reordered": "the line chains to a record that comes after it",
    "unsigned": "a key was given but the record is not signed",
    "bad-signature": "the signature does not hold under the given key(s)",
    "truncated": "the anchor (expected head or count) is not in the log",
    "anchor-mismatch": "the expected head is in the log, but not at the expected count",
}

_CHUNK: Final = 1 << 18
PublicKey = Verifier | str | os.PathLike[str]


@dataclass(frozen=True, slots=True)
class VerifyResult:
    """The verdict on one log.

    Attributes:
        path: the log.
        count: good records before the first bad line (all records when ``ok``).
        head: ``record_digest`` of the last good record (an anchor to keep elsewhere).
        signed: how many of the good records carry a signature.
        signatures_checked: whether a public key was given (every record then checked).
        line: the first bad line (1-based), None when ``ok``.
        problem: its problem code (a key of ``PROBLEMS``), None when ``ok``.
        message: what is wrong there, in words.
        torn_files: side files holding torn tails set aside by ``AuditLog``.
        files: the files read, in chain order, when the log is several (rotated).
    """

    path: str
    count: int
    head: str | None
    signed: int = 0
    signatures_checked: bool = False
    line: int | None = None
    problem: str | None = None
    message: str | None = None
    torn_files: tuple[str, ...] = ()
    files: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.problem is None

    def __str__(self) -> str:
        if self.ok:
            records = f"{self.count} record{'' if self.count == 1 else 's'}"
            if self.files:
                records += f" in {len(self.files)} files"
            return f"{self.path}: ok: {records}, head {self.head}"
        return f"{self.path}:{self.line}: {self.problem}: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        body = asdict(self)
        body["ok"] = self.ok
        body["torn_files"] = list(self.torn_files)
        body["files"] = list(self.files)
        return body


def _lines(fd: int, size: int) -> Iterator[tuple[bytes, bool]]:
    """The lines of bytes ``[0, size)``: (line without ``\\n``, whether it ended in one)."""
    parts: list[bytes] = []
    pos = 0
    while pos < size:
        chunk = os.pread(fd, min(_CHUNK, size - pos), pos)
        if not chunk:
            break
        pos += len(chunk)
        start = 0
        while (newline := chunk.find(b"\n", start)) >= 0:
            parts.append(chunk[start:newline])
            yield b"".join(parts), True
            parts = []
            start = newline + 1
        if start < len(chunk):
            parts.append(chunk[start:])
    if parts:
        yield b"".join(parts), False


class _Snapshot:
    """The log up to its size at one moment, taken under a shared lock so no append is
    caught half-written (appends only ever add bytes after it)."""

    def __init__(self, path: Path) -> None:
        try:
            self.fd = open_regular(path)  # a FIFO would block, /dev/zero "verify" as empty
        except InputFileError as exc:
            raise AuditError(f"{path}: cannot read: {exc.reason}") from exc
        try:
            with locked(self.fd, exclusive=False):
                self.size = os.fstat(self.fd).st_size
        except BaseException:
            os.close(self.fd)
            raise

    def lines(self) -> Iterator[tuple[bytes, bool]]:
        return _lines(self.fd, self.size)

    def close(self) -> None:
        os.close(self.fd)


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key `{key}`")
        result[key] = value
    return result


class _Unwritable(ValueError):
    """A JSON value no writer puts in a record (so the line was not written by one)."""


#: the integers canonical JSON (RFC 8785) can hold: those a double represents exactly
_SAFE_INT: Final = 2**53 - 1


def _int(text: str) -> int:
    # length first: ``int()`` of a 5,000-digit text is itself an error (and slow)
    if len(text.lstrip("-")) > len(str(_SAFE_INT)) or abs(value := int(text)) > _SAFE_INT:
        shown = text if len(text) <= 24 else f"{text[:20]}… ({len(text)} characters)"
        raise _Unwritable(f"integer `{shown}` is beyond ±(2^53 - 1): canonical JSON cannot hold it")
    return value


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _Unwritable(f"number `{text[:24]}` is beyond the range of a double")
    return value


def _constant(name: str) -> Any:
    raise ValueError(f"`{name}` is not JSON")


def _read_line(raw: bytes) -> tuple[AnyRecord | None, str, str]:
    """(record, "", "") for a good line, else (None, problem code, message).

    A line holds a decision record or an outcome record (``record_kind: outcome``).
    Never raises: a line holding anything a writer cannot write (a number beyond what
    canonical JSON holds, a lone surrogate, nesting too deep to serialize, a time that
    is not one) is a tampered line, reported like any other.
    """
    if not raw:
        return None, "bad-json", "empty line"
    try:
        obj = json.loads(
            raw,
            object_pairs_hook=_no_duplicates,
            parse_int=_int,
            parse_float=_float,
            parse_constant=_constant,
        )
    except _Unwritable as exc:
        return None, "bad-record", f"not a decision record: {exc}"
    except RecursionError:
        return None, "bad-record", "not a decision record: nested too deeply to read"
    except ValueError as exc:
        return None, "bad-json", f"not JSON: {exc}"
    try:
        record = parse_record(obj)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "$"
        return None, "bad-record", f"not a decision record: {where}: {first['msg']}"
    except (ValueError, TypeError, RecursionError) as exc:
        return None, "bad-record", f"not a decision record: {exc}"
    try:
        datetime.fromisoformat(record.timestamp)
    except ValueError:
        return None, "bad-record", "not a decision record: timestamp: not an ISO 8601 time"
    try:
        body = record.to_dict()
        sealed = seal(body, record.prev_digest)  # what this record's line must be
        line = sealed.line if "signature" not in body else canonical_json(body)
    except (ValueError, TypeError, RecursionError) as exc:
        why = str(exc) or type(exc).__name__
        return None, "bad-record", f"not a decision record: it has no canonical JSON: {why}"
    if sealed.digest != record.record_digest:
        return None, "edited", "the content does not match its record_digest"
    if line != raw:
        return None, "edited", "the line is not the canonical JSON of its record"
    return record, "", ""


def read_records(path: str | os.PathLike[str]) -> Iterator[tuple[int, AnyRecord]]:
    """Each (line number, record) of a log, without checking the chain: decision records
    and outcome records (``usepolicy.record.OutcomeRecord``) as they come.

    Raises:
        AuditError: the log cannot be read, or a line is not a good record; the message
            reads ``LOG:LINE: code: message``.
    """
    snapshot = _Snapshot(Path(path))
    try:
        for number, (raw, terminated) in enumerate(snapshot.lines(), 1):
            record, problem, message = _read_line(raw)
            if not terminated:
                problem, message = "torn-tail", PROBLEMS["torn-tail"]
            if record is None or problem:
                raise AuditError(f"{path}:{number}: {problem}: {message}")
            yield number, record
    finally:
        snapshot.close()


def _verifiers(public_key: PublicKey | Sequence[PublicKey] | None) -> dict[str, Verifier]:
    if public_key is None:
        return {}
    keys = [public_key] if isinstance(public_key, (Verifier, str, os.PathLike)) else public_key
    found: dict[str, Verifier] = {}
    for key in keys:
        verifier = key if isinstance(key, Verifier) else Verifier.from_file(key)
        found[verifier.key_id] = verifier
    return found


def _signature_problem(record: AnyRecord, verifiers: dict[str, Verifier]) -> tuple[str, str]:
    sig = record.signature
    if sig is None:
        return "unsigned", "the record is not signed"
    verifier = verifiers.get(sig.key_id)
    if verifier is None:
        known = ", ".join(f"`{k}`" for k in verifiers)
        return "bad-signature", f"signed with key `{sig.key_id}`, not with {known}"
    why = verifier.problem(record)
    return ("bad-signature", why) if why else ("", "")


def _anchor_problem(
    count: int, anchor_line: int | None, expect_head: str | None, expect_count: int | None
) -> tuple[str, str]:
    if expect_count is not None and count < expect_count:
        return "truncated", (
            f"expected at least {expect_count} records, found {count}: records were "
            "removed from the end"
        )
    if expect_head is not None and anchor_line is None:
        return "truncated", (
            f"the expected head {expect_head} is not in the log: records were removed "
            "from the end, or the log was rewritten"
        )
    if expect_head is not None and expect_count is not None and anchor_line != expect_count:
        return "anchor-mismatch", (
            f"the expected head is record {anchor_line}, not record {expect_count}"
        )
    return "", ""


def _prefix(
    snapshot: _Snapshot, lines: int, head: str | None = None
) -> tuple[int, str | None, int]:
    """(count, head, signed) over the first ``lines`` lines (known to be good)."""
    signed = 0
    for number, (raw, _) in enumerate(snapshot.lines(), 1):
        if number > lines:
            break
        record = _read_line(raw)[0]
        assert record is not None
        head = record.record_digest
        signed += record.signature is not None
    return lines, head, signed


def _span(first: int, last: int) -> str:
    return f"line {first}" if first == last else f"lines {first}-{last}"


def _diagnose(
    snapshot: _Snapshot, number: int, expected: str | None, record: AnyRecord
) -> tuple[int, str, str]:
    """Say how the chain broke at line ``number``: (first bad line, problem, message)."""
    where: dict[str, list[int]] = {}  # record_digest -> the lines holding it
    prevs: dict[int, str | None] = {}
    for line, (raw, _) in enumerate(snapshot.lines(), 1):
        other = _read_line(raw)[0]
        if other is not None:
            where.setdefault(other.record_digest, []).append(line)
            prevs[line] = other.prev_digest
    before = "the start of the log" if number == 1 else f"line {number - 1}"
    copies = [line for line in where.get(record.record_digest, ()) if line != number]
    if copies:
        return number, "inserted", f"line {number} is a copy of line {copies[0]}"
    # the line the record chains to: 0 for "the start of the log", None if not in the log
    target = 0 if record.prev_digest is None else where.get(record.prev_digest, [None])[0]
    if target is not None and target > number:
        return number, "reordered", f"this record chains to line {target}, which comes after it"
    resumes = next((k for k, p in prevs.items() if k > number and p == expected), None)
    if resumes is not None:
        span = _span(number, resumes - 1)
        return number, "inserted", f"{span} not in the chain: line {resumes} follows {before}"
    if target is not None and target < number - 1:
        span = _span(target + 1, number - 1)
        follows = f"line {target}" if target else "the start of the log"
        message = f"{span} not in the chain: line {number} follows {follows}"
        return target + 1, "inserted", message
    if number == 1:
        message = "the first record chains to a record not in the log: records were deleted"
        return 1, "deleted", message + " from the start"
    message = (
        f"the record before it is missing: a record after {before} was deleted "
        f"(or {before} was edited and its digest recomputed)"
    )
    return number, "deleted", message
