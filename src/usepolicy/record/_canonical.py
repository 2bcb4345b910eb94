"""Canonical JSON (RFC 8785, the JSON Canonicalization Scheme) and digests.

orjson writes a value at C speed; the ``rfc8785`` package, the reference, writes it
wherever the two can differ, which is exactly:

- **floats**: orjson writes ``100.0``, ``1e+16``, ``-0.0`` where RFC 8785 (the
  ECMAScript number form) writes ``100``, ``10000000000000000``, ``0``, and writes NaN
  and infinities as ``null`` where RFC 8785 has no form for them. The reference writes
  every float (orjson then places its text), and refuses NaN and infinities.
- **key order**: RFC 8785 sorts keys by their UTF-16 code units, orjson by code points.
  The two orders differ only between a character above U+FFFF (a surrogate pair in
  UTF-16) and one in U+E000..U+FFFF, so output holding both kinds goes to the
  reference.
- **anything other than exact** ``dict``, ``list``, ``tuple``, ``str``, ``int``,
  ``bool`` and ``None`` (subclasses, enums, dates, which orjson writes in its own ways)
  goes to the reference, as does everything orjson refuses: integers beyond
  ±(2**53 - 1) (``OPT_STRICT_INTEGER``), lone surrogates, keys that are not exact
  strings, nesting deeper than 254, cycles. The reference then writes the value or
  refuses it (``rfc8785.CanonicalizationError``, a ``ValueError``) as RFC 8785 says.

String escapes agree: both escape only ``"``, ``\\`` and U+0000..U+001F, with ``\\b``
``\\f`` ``\\n`` ``\\r`` ``\\t`` and ``\\u00xx`` (lowercase) otherwise, and write DEL,
U+2028 and U+2029 as they are. ``tests/record/test_canonical.py`` holds the two
encoders to the same bytes on generated values.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any, Final

import orjson
import rfc8785

__all__ = ["canonical_json", "digest", "encode_fast", "mixed_planes"]

_OPTIONS: Final = orjson.OPT_SORT_KEYS | orjson.OPT_STRICT_INTEGER
_LEAVES: Final[frozenset[type]] = frozenset({str, int, bool, type(None)})
_WITH_FRAGMENTS: Final[frozenset[type]] = _LEAVES | {orjson.Fragment}
# In UTF-8 these bytes only ever lead a character: above U+FFFF, and U+E000..U+FFFF.
_ABOVE_BMP: Final = re.compile(rb"[\xf0-\xf4]")
_E000_TO_FFFF: Final = re.compile(rb"[\xee\xef]")
_dumps: Final = orjson.dumps
_Fragment: Final = orjson.Fragment
_float_json: Final = rfc8785.dumps


class _Reference(Exception):
    """The value holds something only the reference encoder writes as RFC 8785 says."""


def _prepared(value: Any, leaves: frozenset[type]) -> Any:
    """``value`` with each float replaced by its RFC 8785 form (an ``orjson.Fragment``
    written by the reference); ``value`` itself when it holds no float.

    Raises:
        _Reference: something other than exact dicts, lists, tuples, floats and
            ``leaves`` (a subclass, an enum, a date...).
        ValueError: a float that is not finite (RFC 8785 has no form for it).
    """
    kind = type(value)
    if kind in leaves:
        return value
    if kind is float:
        return _Fragment(_float_json(value))
    if kind is dict:
        copy: dict[Any, Any] | None = None
        for key, item in value.items():
            if type(item) in leaves:  # most values: no call
                continue
            new = _prepared(item, leaves)
            if new is not item:
                if copy is None:
                    copy = dict(value)
                copy[key] = new
        return value if copy is None else copy
    if kind is list or kind is tuple:
        items: list[Any] | None = None
        for index, item in enumerate(value):
            if type(item) in leaves:
                continue
            new = _prepared(item, leaves)
            if new is not item:
                if items is None:
                    items = list(value)
                items[index] = new
        return value if items is None else items
    raise _Reference


def encode_fast(value: Any, *, fragments: bool = False) -> tuple[Any, bytes] | None:
    """Canonical JSON of ``value`` written by orjson, with the reference writing only its
    floats: (the value as written, floats replaced by fragments; the bytes). None where
    only the reference encoder can write it (then use ``canonical_json``).

    ``fragments``: ``orjson.Fragment`` values (canonical JSON made earlier) are taken
    as they are.

    Raises:
        ValueError: a float that is not finite.
    """
    try:
        prepared = _prepared(value, _WITH_FRAGMENTS if fragments else _LEAVES)
        out = _dumps(prepared, option=_OPTIONS)
    except (_Reference, TypeError, RecursionError):
        # orjson.JSONEncodeError is a TypeError: integers beyond 2**53, lone
        # surrogates, keys that are not exact strings, nesting deeper than 254
        return None
    if not out.isascii() and mixed_planes(out):
        return None
    return prepared, out


def mixed_planes(out: bytes) -> bool:
    """Whether UTF-8 ``out`` holds characters above U+FFFF and in U+E000..U+FFFF, the
    only ones whose keys sort differently by UTF-16 code units and by code points."""
    return bool(_ABOVE_BMP.search(out) and _E000_TO_FFFF.search(out))


def canonical_json(value: Any) -> bytes:
    """RFC 8785 (JSON Canonicalization Scheme) bytes of a JSON-ready value.

    Raises:
        ValueError: the value has no canonical form (a float that is not finite, an
            integer beyond ±(2**53 - 1), a lone surrogate; ``rfc8785`` says which).
        RecursionError: nested too deeply for the reference encoder.
    """
    fast = encode_fast(value)
    return fast[1] if fast is not None else rfc8785.dumps(value)


def digest(value: Any) -> str:
    """``sha256:<hex>`` of the canonical JSON of ``value``."""
    return "sha256:" + hashlib.sha256(canonical_json(value)).hexdigest()
