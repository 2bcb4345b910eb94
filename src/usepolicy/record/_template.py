"""``Template``: what the records of one decision outcome share, made once.

A gateway's decisions fall into few outcomes: the same rules matched, with the same
obligations, under the same policy and engine. Their records differ only in five
members (``decision_id``, ``timestamp``, ``request``, ``request_digest``,
``prev_digest``) and in what sealing adds (``record_digest``, ``signature``). A
template holds, for one outcome:

- the record's canonical JSON cut around those members. ``canonical_json`` writes it
  once, for a body whose varying members hold stand-in strings, and it is cut where
  they stand. A member's value is written the same whatever its neighbours, and the
  keys (so their order) are the same for every record of the outcome, so joining the
  pieces with a record's own values gives that record's canonical JSON byte for byte
  (``tests/record/test_template.py`` holds the two to the same bytes);
- the typed parts of its ``DecisionRecord`` (rules, obligations, policy, engine),
  validated once (by ``record_of``), so that each record's model is assembled without
  validating them again.

Sealing with a template is then joining bytes and hashing them; ``seal`` uses it
wherever a draft has one (``Draft.template``) and falls back to encoding the whole body
when a value needs the reference encoder.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Mapping
from typing import Any, Final

import orjson

from ._canonical import canonical_json, encode_fast

__all__ = ["Template", "template_for"]

# The members that differ between the records of one outcome, in canonical key order
# (the keys are ASCII: sorting by code points is sorting by UTF-16 code units).
_VARYING: Final = ("decision_id", "prev_digest", "request", "request_digest", "timestamp")
_LINE: Final = tuple(sorted((*_VARYING, "record_digest")))
_SIGNED: Final = tuple(sorted((*_LINE, "signature")))
_dumps: Final = orjson.dumps
_sha256: Final = hashlib.sha256

#: outcomes remembered; past this many the cache starts again (policies reloaded
#: many times would otherwise keep their templates for ever)
TEMPLATES_MAX: Final = 1024
_templates: dict[tuple[Any, ...], Template | None] = {}


def _cut(body: Mapping[str, Any], members: tuple[str, ...]) -> tuple[bytes, ...]:
    """The canonical JSON of ``body`` in pieces, cut around the values of ``members``
    (in key order): ``len(members) + 1`` pieces.

    Raises:
        ValueError: the body has no canonical form, or (never seen) the random
            stand-in also occurs elsewhere in it.
    """
    token = secrets.token_hex(16)
    stand_ins = {key: f"{token}.{n}" for n, key in enumerate(members)}
    text = canonical_json({**body, **stand_ins})
    if text.count(token.encode()) != len(members):
        raise ValueError("the stand-in occurs in the body")
    pieces: list[bytes] = []
    start = 0
    for key in members:
        mark = _dumps(stand_ins[key])
        at = text.index(mark, start)  # ValueError when out of order
        pieces.append(text[start:at])
        start = at + len(mark)
    pieces.append(text[start:])
    return tuple(pieces)


class Template:
    """The shared part of the records of one outcome (see the module's docstring).

    Args:
        body: an unsealed decision record body of the outcome (``decision_draft``).

    Raises:
        ValueError: the body has no canonical form (or cannot be cut).
    """

    __slots__ = ("_content", "_line", "_signed", "parts", "size")

    def __init__(self, body: Mapping[str, Any]) -> None:
        #: how many members the unsealed body of each record has
        self.size = len(body)
        self._content = _cut(body, _VARYING)
        self._line = _cut(body, _LINE)
        self._signed = _cut(body, _SIGNED)
        #: the typed parts every record of the outcome shares: made by
        #: ``usepolicy.record._model.record_of`` for the first record asked for
        self.parts: Any = None

    def seal(
        self,
        body: Mapping[str, Any],
        prev: str | None,
        sign: Callable[[str], dict[str, str]] | None,
        request_json: bytes,
    ) -> tuple[dict[str, Any], bytes] | None:
        """What ``seal(body, prev, signer)`` makes (the sealed body, its line) for a body
        of this outcome whose request's canonical JSON is ``request_json``, ``sign``
        being the signer's ``sign_digest``; None where a value needs the reference
        encoder (the caller then encodes the whole body)."""
        content, line, signed = self._content, self._line, self._signed
        given_id, moment = body["decision_id"], body["timestamp"]
        if type(given_id) is not str or type(moment) is not str:
            return None
        try:  # strings: orjson escapes them as RFC 8785 does
            decision_id, timestamp = _dumps(given_id), _dumps(moment)
            request_digest, previous = _dumps(body["request_digest"]), _dumps(prev)
        except TypeError:  # a lone surrogate in a given id, say: the reference decides
            return None
        text = b"".join(
            (
                content[0], decision_id, content[1], previous, content[2], request_json,
                content[3], request_digest, content[4], timestamp, content[5],
            )
        )  # fmt: skip
        digest = "sha256:" + _sha256(text).hexdigest()
        sealed = dict(body)
        sealed["prev_digest"] = prev
        sealed["record_digest"] = digest
        quoted = b'"' + digest.encode() + b'"'
        if sign is None:
            out = b"".join(
                (
                    line[0], decision_id, line[1], previous, line[2], quoted, line[3],
                    request_json, line[4], request_digest, line[5], timestamp, line[6],
                )
            )  # fmt: skip
            return sealed, out
        sealed["signature"] = signature = sign(digest)
        fast = encode_fast(signature)
        if fast is None or not fast[1].isascii():
            return sealed, canonical_json(sealed)
        out = b"".join(
            (
                signed[0], decision_id, signed[1], previous, signed[2], quoted, signed[3],
                request_json, signed[4], request_digest, signed[5], fast[1], signed[6],
                timestamp, signed[7],
            )
        )  # fmt: skip
        return sealed, out


def template_for(key: tuple[Any, ...], body: Mapping[str, Any]) -> Template | None:
    """The template of the outcome ``key`` names (its members that every record of it
    shares, as canonical JSON), made from ``body`` the first time; None when it cannot
    be made."""
    try:
        return _templates[key]
    except KeyError:
        pass
    try:
        template: Template | None = Template(body)
    except (ValueError, RecursionError):  # no canonical form: sealing will say why
        template = None
    if len(_templates) >= TEMPLATES_MAX:
        _templates.clear()
    _templates[key] = template
    return template
