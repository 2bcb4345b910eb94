"""Redaction: store chosen request fields only as their digest.

A redacted field's value in ``record.request`` becomes ``"sha256:<hex>"``, the digest of
the canonical JSON of the original value, and its dotted path is listed in
``record.redacted``. ``request_digest`` stays the digest of the full request, so whoever
holds the original request (or just the redacted values) can prove it is the one that
was decided: see ``unredact``.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from .._errors import AuditError
from ..request import FIELD_ORDER
from ._build import Draft
from ._canonical import digest
from ._seal import seal

if TYPE_CHECKING:
    from ._model import DecisionRecord

__all__ = ["check_redact_paths", "redact", "redact_body", "redact_draft", "unredact"]


def check_redact_paths(paths: Iterable[str]) -> tuple[str, ...]:
    """Validate dotted request paths (``description``, ``attributes.case_notes``).

    Raises:
        ValueError: a path is empty or does not start with a request field.
    """
    checked: list[str] = []
    for path in paths:
        parts = path.split(".") if isinstance(path, str) else []
        if not parts or not all(parts):
            raise ValueError(f"bad redaction path `{path}`: expected a dotted field path")
        if parts[0] not in FIELD_ORDER:
            known = ", ".join(FIELD_ORDER)
            raise ValueError(f"bad redaction path `{path}`: request fields are {known}")
        if path not in checked:
            checked.append(path)
    return tuple(checked)


def _parent(request: dict[str, Any], path: str) -> tuple[dict[str, Any], str] | None:
    *parents, leaf = path.split(".")
    node: Any = request
    for part in parents:
        node = node.get(part) if isinstance(node, dict) else None
    if not isinstance(node, dict) or leaf not in node:
        return None
    return node, leaf


def redact_body(body: dict[str, Any], paths: Iterable[str]) -> bool:
    """Redact ``paths`` (checked) in a record body in place; whether anything changed.

    Absent or null fields are left alone and not listed; a path already listed in
    ``redacted`` is not redacted twice. The body is not sealed again here.
    """
    request = body.get("request")
    if request is None:
        return False
    done: list[str] = list(body.get("redacted") or ())
    listed = len(done)
    request = copy.deepcopy(request)
    for path in paths:
        if path in done:
            continue
        found = _parent(request, path)
        if found is None or found[0][found[1]] is None:
            continue
        node, leaf = found
        node[leaf] = digest(node[leaf])
        done.append(path)
    if len(done) == listed:
        return False
    body["request"] = request
    body["redacted"] = done
    return True


def redact_draft(draft: Draft, paths: Iterable[str]) -> Draft:
    """``draft`` with ``paths`` (checked) redacted; the same draft if nothing was."""
    body = dict(draft.body)
    if not redact_body(body, paths):
        return draft
    # the request changed: its canonical JSON is made again when sealed
    return Draft(body, {k: v for k, v in draft.encoded.items() if k != "request"})


def redact(record: DecisionRecord, paths: Iterable[str]) -> DecisionRecord:
    """A copy of ``record`` with ``paths`` redacted and its digest recomputed.

    Redact before a record is chained and signed: the copy's signature is dropped.
    """
    from ._model import DecisionRecord

    body = record.to_dict()
    redact_body(body, check_redact_paths(paths))
    return DecisionRecord.from_body(seal(body, record.prev_digest).body)


def unredact(record: DecisionRecord, values: Mapping[str, Any]) -> dict[str, Any]:
    """Put the original values of redacted fields back and prove they are the originals.

    Args:
        record: a record with redacted fields.
        values: the original value of every redacted path (dotted path -> value).

    Returns:
        The full request, whose digest is the record's ``request_digest``.

    Raises:
        AuditError: a value is missing or does not match its digest, or the restored
            request does not match ``request_digest``.
    """
    if record.request is None:
        raise AuditError("the record holds no request")
    request = copy.deepcopy(record.request)
    for path in record.redacted or ():
        if path not in values:
            raise AuditError(f"no value given for the redacted field `{path}`")
        found = _parent(request, path)
        if found is None:
            raise AuditError(f"the record has no field `{path}`")
        node, leaf = found
        if digest(values[path]) != node[leaf]:
            raise AuditError(f"the value given for `{path}` does not match its digest")
        node[leaf] = values[path]
    if digest(request) != record.request_digest:
        raise AuditError("the restored request does not match the record's request_digest")
    return request
