"""Names compared as people mean them: the normalisation behind ``in_list``.

A name in a request is on a list when its *key* equals the key of an item of the
list. ``name_key`` computes, in order (docs/policy-language.md, "How names match"):

1. control characters (Cc) and format characters (Cf) removed, except the control
   characters that are whitespace (tab, line feed, vertical tab, form feed, carriage
   return, U+0085), which become a space;
2. NFKC_Casefold: Unicode NFKC, full case folding and removal of default-ignorable
   code points (ICU's ``nfkc_cf`` normaliser), so fullwidth letters, ligatures, other
   case, a no-break space, a zero-width joiner or a soft hyphen make no difference;
3. whitespace collapsed: every run of white space is one space, none at either end;
4. the confusable skeleton of Unicode TS #39 (ICU's ``SpoofChecker.getSkeleton``), so
   a look-alike from another script (Cyrillic ``а`` for Latin ``a``) is the same letter;
5. steps 1 to 3 again, because a skeleton's prototype may be a capital (``0`` maps to
   ``O``) or a compatibility character.

ICU is the reference implementation of both Unicode algorithms; no table of
characters here is written by hand. Pure-ASCII names, nearly all names in practice,
take a fast path made at import from ICU's own answer for each ASCII character;
``tests/policy/test_names.py`` checks that it gives ICU's keys.

A key is for comparing, never for showing: a skeleton mixes scripts (``Acme`` has
the key ``acrne``, as ``rn`` looks like ``m``). ``fold`` (steps 1 to 3) is the
readable form that explanations show.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from typing import Final

import icu

from .._enums import LIMITS

__all__ = ["SCHEME", "NameList", "fold", "name_key", "name_lists"]

#: names the normalisation and the Unicode data it was computed with: keys made under
#: another scheme (another ICU or Unicode version) may differ, so an exported policy
#: pins it (docs/opa.md)
SCHEME: Final = f"usepolicy-names/1 icu-{icu.ICU_VERSION} unicode-{icu.UNICODE_VERSION}"

#: a list as ``in_list`` reads it: each key, with the first list item (in sorted
#: order) that has it, for explanations
NameList = Mapping[str, str]

_NFKC_CF: Final = icu.Normalizer2.getNFKCCasefoldInstance()
_SPOOF: Final = icu.SpoofChecker()


def _chars(pattern: str) -> list[str]:
    return list(icu.UnicodeSet(pattern))


#: step 1: whitespace controls become a space, every other Cc or Cf character goes
_CONTROLS: Final[dict[int, str | None]] = {
    **{ord(ch): None for ch in _chars("[[:Cc:][:Cf:]-[:White_Space:]]")},
    **{ord(ch): " " for ch in _chars("[[:Cc:]&[:White_Space:]]")},
}


def fold(text: str) -> str:
    """Steps 1 to 3 of the name key: controls, NFKC_Casefold, whitespace collapsed."""
    if not text.isprintable():  # every Cc and Cf character is unprintable
        # a dict lookup per character: only for the few names that need it
        text = text.translate(_CONTROLS)
    return " ".join(_NFKC_CF.normalize(text).split())


def _icu_key(text: str) -> str:
    return fold(_SPOOF.getSkeleton(0, fold(text)))


def _ascii_steps() -> tuple[tuple[str, str], ...] | None:
    """``(character, replacement)`` pairs that, applied in order with ``str.replace`` to
    ASCII text already lower-cased with whitespace collapsed, give ``_icu_key``; None
    when this ICU's data does not allow it.

    For ASCII, steps 1 to 3 act per character (lower case) and the skeleton maps each
    character to its prototype, so per character is exact when every prototype is a
    non-empty ASCII string without white space (NFD leaves ASCII as it is, and no
    whitespace run can appear or grow), and when no replacement brings a character
    that a later one replaces (``%`` becomes ``o/0``, so it comes after ``0``).
    """
    changes: dict[str, str] = {}
    for code in range(128):
        ch = chr(code)
        if code in _CONTROLS or ch == " ":
            continue
        if fold(ch) != ch.lower():
            return None
        if ch != ch.lower():
            continue
        key = _icu_key(ch)
        if not key or not key.isascii() or any(c.isspace() for c in key):
            return None
        if key != ch:
            changes[ch] = key
    ordered = sorted(changes.items(), key=lambda item: any(c in changes for c in item[1]))
    for i, (_, replacement) in enumerate(ordered):
        if any(later in replacement for later, _ in ordered[i + 1 :]):
            return None
    return tuple(ordered)


_ASCII_STEPS: Final = _ascii_steps()


def _key(text: str) -> str:
    if _ASCII_STEPS is None or not (text.isascii() and text.isprintable()):
        return _icu_key(text)
    text = text.lower()
    if "  " in text or text.startswith(" ") or text.endswith(" "):
        text = " ".join(text.split())  # printable ASCII has one white space: " "
    for ch, replacement in _ASCII_STEPS:
        text = text.replace(ch, replacement)
    return text


# a gateway sees the same few names again and again, and a key costs a microsecond (a
# skeleton several): remember the keys of recent names, but only of names up to the
# longest an organisation or entity id can be (a bounded cache of bounded strings)
_cached_key: Final = functools.lru_cache(maxsize=4096)(_key)
_CACHED_LENGTH: Final = LIMITS.max_name


def name_key(text: str) -> str:
    """The key a name is compared by (see the module docstring)."""
    if type(text) is not str:
        # a str subclass compares (and is cached) by its characters only
        text = str.__str__(text)
    if len(text) > _CACHED_LENGTH:
        return _key(text)
    return _cached_key(text)


def name_lists(lists: Mapping[str, Iterable[str]]) -> dict[str, NameList]:
    """Each list as ``in_list`` reads it: ``{key: first item with that key}``."""
    out: dict[str, NameList] = {}
    for name, items in lists.items():
        keyed: dict[str, str] = {}
        for item in sorted(items):
            keyed.setdefault(name_key(item), item)
        out[name] = keyed
    return out
