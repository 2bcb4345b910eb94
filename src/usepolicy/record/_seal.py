"""``seal``: chain a record body to the one before it, digest it, sign it, and write
its canonical line. Every sink seals with it (file log, PostgreSQL, memory), and
verifying a stored record is sealing its body again and comparing."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Protocol

import orjson

from ._canonical import canonical_json, encode_fast, mixed_planes

if TYPE_CHECKING:
    from ._template import Template

__all__ = ["UNDIGESTED", "DigestSigner", "Sealed", "record_digest", "seal"]

#: the fields ``record_digest`` does not cover (it cannot cover itself; the signature
#: signs it)
UNDIGESTED: Final = ("record_digest", "signature")
_OPTIONS: Final = orjson.OPT_SORT_KEYS | orjson.OPT_STRICT_INTEGER
_dumps: Final = orjson.dumps
_Fragment: Final = orjson.Fragment


class DigestSigner(Protocol):
    """Signs a record's digest (``usepolicy.audit.Signer`` is one)."""

    def sign_digest(self, record_digest: str) -> dict[str, str]:
        """The ``signature`` field for a record with this ``record_digest``."""
        ...


@dataclass(slots=True)  # not frozen: a frozen dataclass costs a microsecond to make
class Sealed:
    """A record as stored: its body (JSON-ready builtins, DESIGN.md field order) and
    its canonical JSON, what a log line holds (without the newline); ``template``: the
    template it was sealed with, if any (``record_of`` assembles its record from it).
    Not changed once made."""

    body: dict[str, Any]
    line: bytes
    template: Template | None = None

    @property
    def digest(self) -> str:
        """The record's ``record_digest``."""
        digest: str = self.body["record_digest"]
        return digest


def seal(
    body: Mapping[str, Any],
    prev: str | None,
    signer: DigestSigner | None = None,
    *,
    encoded: Mapping[str, bytes] | None = None,
    template: Template | None = None,
) -> Sealed:
    """Chain ``body`` after the record whose digest is ``prev``, digest it and sign it.

    Args:
        body: a record's fields (``DecisionRecord.to_dict()``, or a body the record
            builders made); its ``prev_digest``, ``record_digest`` and ``signature``,
            if any, are replaced.
        prev: the ``record_digest`` of the record before it in its chain (None for the
            first record, and for a record outside any chain).
        signer: sign the new ``record_digest``.
        encoded: the canonical JSON of some members of ``body``, by key, made already
            (``Draft.encoded``): they are written as they are.
        template: the template of ``body``'s outcome (``Draft.template``): the record's
            canonical JSON is then joined from its pieces and the body's own values.

    Raises:
        ValueError: a value has no canonical JSON form (see ``canonical_json``).
    """
    if template is not None and encoded and len(body) == template.size:
        request_json = encoded.get("request")
        if request_json is not None:
            sign = None if signer is None else signer.sign_digest
            joined = template.seal(body, prev, sign, request_json)
            if joined is not None:
                return Sealed(*joined, template)
    content = dict(body)
    for key in UNDIGESTED:
        content.pop(key, None)
    content["prev_digest"] = prev
    # what ``encoded`` holds is written as it is (the engine made it once, for instance)
    written = (
        content | {k: _Fragment(v) for k, v in encoded.items() if k in content}
        if encoded
        else content
    )
    fast = encode_fast(written, fragments=True)
    text = fast[1] if fast is not None else canonical_json(content)
    digest = "sha256:" + hashlib.sha256(text).hexdigest()
    content["record_digest"] = digest
    if signer is None:
        if fast is not None:  # one ASCII string more: orjson writes it as it wrote the rest
            return Sealed(content, _dumps({**fast[0], "record_digest": digest}, option=_OPTIONS))
        return Sealed(content, canonical_json(content))
    content["signature"] = signature = signer.sign_digest(digest)
    added = None if fast is None else encode_fast(signature)
    if fast is not None and added is not None:
        line = _dumps({**fast[0], "record_digest": digest, "signature": added[0]}, option=_OPTIONS)
        if line.isascii() or not mixed_planes(line):
            return Sealed(content, line)
    return Sealed(content, canonical_json(content))


def record_digest(body: Mapping[str, Any]) -> str:
    """The digest ``body``'s content implies: its canonical JSON without the fields of
    ``UNDIGESTED`` (compare with its ``record_digest``)."""
    content = {key: value for key, value in body.items() if key not in UNDIGESTED}
    return "sha256:" + hashlib.sha256(canonical_json(content)).hexdigest()
