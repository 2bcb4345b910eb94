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
from typing import Any

from .._errors import AuditError
from .._record import DecisionRecord, digest, record_digest
from .._request import UseRequest

__all__ = ["check_redact_paths", "redact", "redact_body", "unredact"]


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
        if parts[0] not in UseRequest.model_fields:
            known = ", ".join(UseRequest.model_fields)
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


def redact_body(body: dict[str, Any], paths: Iterable[str]) -> None:
    """Redact ``paths`` in a record body (``DecisionRecord.to_dict()``) in place.

    Absent or null fields are left alone and not listed; a path already listed in
    ``redacted`` is not redacted twice. ``record_digest`` is not recomputed here.
    """
    request = body.get("request")
    if request is None:
        return
    done: list[str] = list(body.get("redacted") or ())
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
    if done:
        body["request"] = request
        body["redacted"] = done


def redact(record: DecisionRecord, paths: Iterable[str]) -> DecisionRecord:
    """A copy of ``record`` with ``paths`` redacted and its digest recomputed.

    Redact before a record is chained and signed: the copy's signature is dropped.
    """
    body = record.to_dict()
    body.pop("signature", None)
    redact_body(body, check_redact_paths(paths))
    body["record_digest"] = record_digest(body)
    return DecisionRecord.model_validate(body)


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
