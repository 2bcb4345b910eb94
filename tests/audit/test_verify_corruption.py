"""verify_log and read_records on corrupted lines: whatever a line holds, it is reported
at that line with a documented problem code, never raised.

A line may hold JSON no writer can write (an integer beyond what canonical JSON holds,
a lone surrogate, nesting deeper than a record can be serialized, a time that is not
one); such a line was tampered with like any other.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from usepolicy import AuditError, Engine
from usepolicy.audit import PROBLEMS, AuditLog, Signer, Verifier, read_records, verify_log

from .conftest import ALLOWED, WriteLog, lines_of

DEEP = 300  # deeper than a record can be serialized, so no writer could have written it
UNWRITABLE = {
    "integer beyond 2^53": (b'"tier":9007199254740993', "bad-record", "beyond ±(2^53 - 1)"),
    "negative integer beyond 2^53": (b'"tier":-9007199254740993', "bad-record", "beyond"),
    "5,000-digit integer": (b'"tier":' + b"9" * 5000, "bad-record", "(5000 characters)"),
    "float beyond a double": (b'"tier":1e400', "bad-record", "beyond the range of a double"),
    "NaN": (b'"tier":NaN', "bad-json", "`NaN` is not JSON"),
    "Infinity": (b'"tier":-Infinity', "bad-json", "`-Infinity` is not JSON"),
    "lists nested 300 deep": (b'"tier":' + b"[" * DEEP + b"]" * DEEP, "bad-record", "depth"),
    "objects nested 300 deep": (
        b'"tier":' + b'{"a":' * DEEP + b"1" + b"}" * DEEP, "bad-record", "depth",
    ),
    "lists nested 100,000 deep": (
        b'"tier":' + b"[" * 100_000 + b"]" * 100_000, "bad-record", "nested too deeply",
    ),
    "lone surrogate": (b'"tier":"\\ud800"', "bad-record", "no canonical JSON"),
    "lone surrogate in a key": (b'"\\udfff":2', "bad-record", "no canonical JSON"),
    "timestamp not a time": (b'"timestamp":"x', "bad-record", "timestamp: not an ISO 8601"),
}  # fmt: skip


@pytest.mark.parametrize("case", list(UNWRITABLE), ids=list(UNWRITABLE))
def test_a_value_no_writer_can_write_is_found_at_its_line(write_log: WriteLog, case: str):
    replacement, kind, words = UNWRITABLE[case]
    path = write_log(5)
    lines = lines_of(path)
    target = b'"timestamp":"' if b"timestamp" in replacement else b'"tier":2'
    assert target in lines[2]
    lines[2] = lines[2].replace(target, replacement, 1)
    path.write_bytes(b"".join(lines))
    result = verify_log(path)
    assert (result.problem, result.line, result.count) == (kind, 3, 2), result
    assert words in str(result.message)
    records = read_records(path)
    assert [next(records)[0], next(records)[0]] == [1, 2]
    with pytest.raises(AuditError, match=rf":3: {kind}: "):
        next(records)


# -- any corruption of one line --------------------------------------------------------
@pytest.fixture(scope="module")
def varied_log(tmp_path_factory: pytest.TempPathFactory, engine: Engine) -> tuple[bytes, Verifier]:
    """Signed records of every shape: allowed with an obligation, denied, redacted; and
    the key that checks them (a signature is not digested: only a key shows its edits)."""
    path = tmp_path_factory.mktemp("log") / "audit.jsonl"
    signer = Signer.generate()
    requests: list[dict[str, Any]] = [
        ALLOWED,
        {**ALLOWED, "requester": {"organization": "Bundeswehr – Kommando Cyber"},
         "data": {"subjects": "mixed", "provenance": "targeted"}},
        {"requester": {"organization": "B"}, "purpose": "weapons.engagement",
         "autonomy": {"level": "fully_autonomous", "lethal": True}},
        {"requester": {"organization": "C"}, "purpose": "general.assistant",
         "attributes": {"n": 1.5, "tags": ["x", "y"]}},
    ]  # fmt: skip
    with AuditLog(path, durability="none", signer=signer, redact=["description"]) as log:
        for request in requests[:2]:
            log.append(engine.evaluate(request).record())
    with AuditLog(path, durability="none", signer=signer) as log:
        for request in requests[2:]:
            log.append(engine.evaluate(request).record())
    data = path.read_bytes()
    assert b'"redacted"' in data and b'"obligations":[{' in data
    assert data.count(b'"signature"') == len(requests)
    return data, signer.verifier()


def _hostile_json() -> st.SearchStrategy[bytes]:
    """JSON texts, and texts that pass for JSON: numbers beyond what a record holds,
    constants JSON lacks, lone surrogates, nesting deeper than a record can be."""
    plain = st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
        lambda inner: (
            st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
        ),
        max_leaves=6,
    ).map(lambda value: json.dumps(value).encode())
    big = st.integers(min_value=2**53).map(str) | st.integers(17, 6000).map(lambda n: "9" * n)
    signed = st.tuples(st.sampled_from(["", "-"]), big).map(lambda t: (t[0] + t[1]).encode())
    surrogate = st.integers(0xD800, 0xDFFF).map(lambda c: f'"x\\u{c:04x}"'.encode())
    deep = st.tuples(st.integers(200, 5000), st.booleans()).map(
        lambda t: b"[" * t[0] + b"]" * t[0] if t[1] else b'{"a":' * t[0] + b"0" + b"}" * t[0]
    )
    odd = st.sampled_from([b"1e400", b"-1e999", b"1.0", b"-0", b"1E2", b"NaN", b"Infinity"])
    return st.one_of(plain, signed, surrogate, deep, odd)


def _paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """The path of every member and item inside ``value``."""
    items = value.items() if isinstance(value, dict) else enumerate(value)
    found = []
    for key, child in items:
        found.append((*path, key))
        if isinstance(child, (dict, list)) and child:
            found += _paths(child, (*path, key))
    return found


def _remake(body: Any) -> bytes:
    """The line of ``body``: for these records, what the writer wrote (canonical JSON)."""
    text = json.dumps(body, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    return text.encode() + b"\n"


_MARK = "\x00mark\x00"


def _corrupt(line: bytes, data: st.DataObject) -> bytes:
    how = data.draw(st.sampled_from(["value", "key", "splice", "line"]), label="how")
    hostile = data.draw(_hostile_json(), label="json")
    if how == "splice":
        at = data.draw(st.integers(0, len(line) - 1), label="at")
        return line[:at] + hostile + line[at:]
    if how == "line":
        return data.draw(st.binary(max_size=200).filter(lambda b: b"\n" not in b)) + b"\n"
    body = json.loads(line)
    path = data.draw(st.sampled_from(_paths(body)), label="path")
    parent = body
    for key in path[:-1]:
        parent = parent[key]
    if how == "key" and isinstance(parent, dict):
        parent[_MARK] = parent.pop(path[-1])
        hostile = b'"' + hostile.strip(b'"') + b'"'  # a key is a string
    else:
        parent[path[-1]] = _MARK
    return _remake(body).replace(json.dumps(_MARK).encode(), hostile)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_any_corruption_of_one_line_is_found_at_that_line(
    varied_log: tuple[bytes, Verifier], data: st.DataObject
):
    log, key = varied_log
    lines = log.splitlines(keepends=True)
    index = data.draw(st.integers(0, len(lines) - 1), label="line")
    assert _remake(json.loads(lines[index])) == lines[index]  # so only the change differs
    line = _corrupt(lines[index], data)
    assume(line != lines[index])
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "audit.jsonl"
        path.write_bytes(b"".join([*lines[:index], line, *lines[index + 1 :]]))
        result = verify_log(path, key)
        assert result.line == index + 1 and result.problem in PROBLEMS, result
        if result.problem in ("bad-signature", "unsigned"):
            return  # read_records reads records; it does not check signatures
        with pytest.raises(AuditError, match=rf":{index + 1}: {result.problem}: "):
            list(read_records(path))
