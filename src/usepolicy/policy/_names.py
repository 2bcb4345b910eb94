"""Names compared as people mean them: the normalisation behind ``in_list``.

A name in a request is on a list when one of its two *keys* is a key of an item of the
list (docs/policy-language.md, "How names match"). Both start by *folding*:

1. control characters (Cc) and format characters (Cf) removed, except the control
   characters that are whitespace (tab, line feed, vertical tab, form feed, carriage
   return, U+0085), which become a space;
2. NFKC_Casefold: Unicode NFKC, full case folding and removal of default-ignorable
   code points (ICU's ``nfkc_cf`` normaliser), so fullwidth letters, ligatures, other
   case, a no-break space, a zero-width joiner or a soft hyphen make no difference;
3. whitespace collapsed: every run of white space is one space, none at either end.

Then each maps look-alike characters to one prototype with the confusable skeleton of
Unicode TS #39 (ICU's ``SpoofChecker.getSkeleton``), folding again after it:

- the *small* key: the skeleton of the folded name, so a small look-alike from
  another script (Cyrillic ``а`` for ``a``, Greek ``ν`` for ``v``) is the same letter;
- the *capitals* key: the skeleton of the folded name in capitals (ICU, root locale),
  then of that folded, so a capital look-alike (Cyrillic ``В`` for ``B``, ``I`` for
  ``l``) is the same letter too. In capitals ``i`` and ``l`` have one key.

Two keys, because case and look-alikes do not chain: Greek ``ν`` looks like ``v`` but
its capital ``Ν`` looks like ``N``, and Cyrillic ``в`` looks like nothing Latin while
its capital ``В`` looks like ``B``. A name matches when it looks like a list item
written in small letters or written in capitals.

ICU is the reference implementation of these Unicode algorithms; no table of
characters here is written by hand. Pure-ASCII names, nearly all names in practice,
take a fast path made at import from ICU's own answer for each ASCII character;
``tests/policy/test_names.py`` checks that it gives ICU's keys.

A key is for comparing, never for showing: a skeleton mixes scripts (``Acme`` has the
small key ``acrne``, as ``rn`` looks like ``m``). ``fold`` is the readable form that
explanations show.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from typing import Final

import icu

from ..request import LIMITS

__all__ = ["SCHEME", "NameList", "fold", "is_listed", "listed_as", "name_keys", "name_lists"]

#: names the normalisation and the Unicode data it was computed with: keys made under
#: another scheme (another ICU or Unicode version) may differ, so an exported policy
#: pins it (docs/opa.md)
SCHEME: Final = f"usepolicy-names/2 icu-{icu.ICU_VERSION} unicode-{icu.UNICODE_VERSION}"

#: a list as ``in_list`` reads it: both keys of every item, each with the first item
#: (in sorted order) that has it, for explanations
NameList = Mapping[str, str]

_NFKC_CF: Final = icu.Normalizer2.getNFKCCasefoldInstance()
_SPOOF: Final = icu.SpoofChecker()
_ROOT: Final = icu.Locale.getRoot()  # case mapping without a locale's exceptions


def _chars(pattern: str) -> list[str]:
    return list(icu.UnicodeSet(pattern))


#: step 1: whitespace controls become a space, every other Cc or Cf character goes
_CONTROLS: Final[dict[int, str | None]] = {
    **{ord(ch): None for ch in _chars("[[:Cc:][:Cf:]-[:White_Space:]]")},
    **{ord(ch): " " for ch in _chars("[[:Cc:]&[:White_Space:]]")},
}


def fold(text: str) -> str:
    """Steps 1 to 3: controls, NFKC_Casefold, whitespace collapsed."""
    if not text.isprintable():  # every Cc and Cf character is unprintable
        # a dict lookup per character: only for the few names that need it
        text = text.translate(_CONTROLS)
    return " ".join(_NFKC_CF.normalize(text).split())


def _skeleton(text: str) -> str:
    return fold(_SPOOF.getSkeleton(0, text))


def _small(folded: str) -> str:
    return _skeleton(folded)


def _capitals(folded: str) -> str:
    return _skeleton(_skeleton(str(icu.UnicodeString(folded).toUpper(_ROOT))))


def _icu_small(text: str) -> str:
    return _small(fold(text))


def _icu_capitals(text: str) -> str:
    return _capitals(fold(text))


Steps = tuple[tuple[str, str], ...]


def _ascii_steps(key: Callable[[str], str]) -> Steps | None:
    """``(character, replacement)`` pairs that, applied in order with ``str.replace`` to
    ASCII text already lower-cased with whitespace collapsed, give ``key``; None when
    this ICU's data does not allow it.

    For ASCII, folding and upper case act per character and the skeleton maps each
    character to its prototype, so per character is exact when every character's key
    is a non-empty ASCII string without white space (NFD leaves ASCII as it is, and no
    whitespace run can appear or grow), and when no replacement brings a character
    that a later one replaces.
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
        result = key(ch)
        if not result or not result.isascii() or any(c.isspace() for c in result):
            return None
        if result != ch:
            changes[ch] = result
    ordered = sorted(changes.items(), key=lambda item: any(c in changes for c in item[1]))
    for i, (_, replacement) in enumerate(ordered):
        if any(later in replacement for later, _ in ordered[i + 1 :]):
            return None
    return tuple(ordered)


_ASCII_SMALL: Final = _ascii_steps(_icu_small)
_ASCII_CAPITALS: Final = _ascii_steps(_icu_capitals)


def _replace(text: str, steps: Steps) -> str:
    for ch, replacement in steps:
        text = text.replace(ch, replacement)
    return text


def _keys(text: str) -> tuple[str, str]:
    if (
        _ASCII_SMALL is None
        or _ASCII_CAPITALS is None
        or not (text.isascii() and text.isprintable())
    ):
        folded = fold(text)
        return _small(folded), _capitals(folded)
    text = text.lower()
    if "  " in text or text.startswith(" ") or text.endswith(" "):
        text = " ".join(text.split())  # printable ASCII has one white space: " "
    return _replace(text, _ASCII_SMALL), _replace(text, _ASCII_CAPITALS)


# a gateway sees the same few names again and again, and keys cost a microsecond (a
# skeleton several): remember the keys of recent names, but only of names up to the
# longest an organisation or entity id can be (a bounded cache of bounded strings)
_cached_keys: Final = functools.lru_cache(maxsize=4096)(_keys)
_CACHED_LENGTH: Final = LIMITS.max_name


def name_keys(text: str) -> tuple[str, str]:
    """The small and the capitals key of a name (see the module docstring)."""
    if type(text) is not str:
        # a str subclass compares (and is cached) by its characters only
        text = str.__str__(text)
    if len(text) > _CACHED_LENGTH:
        return _keys(text)
    return _cached_keys(text)


def is_listed(text: str, keys: NameList) -> bool:
    """Whether ``text`` matches an item of a list (``Policy.name_lists``)."""
    small, capitals = name_keys(text)
    return small in keys or capitals in keys


def listed_as(text: str, keys: NameList) -> tuple[str, str] | None:
    """``(item, key)``: the list item ``text`` matches and the key they share; None."""
    for key in name_keys(text):
        if key in keys:
            return keys[key], key
    return None


def name_lists(lists: Mapping[str, Iterable[str]]) -> dict[str, NameList]:
    """Each list as ``in_list`` reads it: ``{key: first item with that key}``."""
    out: dict[str, NameList] = {}
    for name, items in lists.items():
        keyed: dict[str, str] = {}
        for item in sorted(items):
            for key in name_keys(item):
                keyed.setdefault(key, item)
        out[name] = keyed
    return out
