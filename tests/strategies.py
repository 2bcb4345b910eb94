"""Names written the ways a person reads as the same name (test-local). Requests are
drawn from the public strategy, ``usepolicy.testing.requests``."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st


# -- names as people mean them (issue 12) ---------------------------------------------
def _fullwidth(name: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in name)


def _cyrillic(name: str) -> str:
    # Cyrillic а, е, о, с, р for their Latin look-alikes
    return name.translate(str.maketrans("aeocp", "\u0430\u0435\u043e\u0441\u0440"))


def _middle(name: str, mark: str) -> str:
    i = len(name) // 2
    return name[:i] + mark + name[i:]


#: how a listed name can be written so that a person reads the same name: the variants
#: of issue 12 (16 of these 17 were allowed before names were normalised)
NAME_VARIANTS: dict[str, Any] = {
    "trailing space": lambda s: s + " ",
    "leading space": lambda s: " " + s,
    "tab": lambda s: s + "\t",
    "newline": lambda s: s + "\n",
    "NUL": lambda s: s + "\x00",
    "upper case": str.upper,
    "lower case": str.lower,
    "no-break space": lambda s: s.replace(" ", "\u00a0"),
    "zero-width space": lambda s: _middle(s, "\u200b"),
    "zero-width joiner": lambda s: _middle(s, "\u200d"),
    "soft hyphen": lambda s: _middle(s, "\u00ad"),
    "right-to-left override": lambda s: "\u202e" + s,
    "fullwidth letters": _fullwidth,
    "doubled space": lambda s: s.replace(" ", "  "),
    "Cyrillic a": lambda s: s.replace("a", "\u0430"),
    "Cyrillic look-alikes": _cyrillic,
    "all at once": lambda s: (
        "\u202e " + _cyrillic(_middle(s.upper(), "\u200b\u00ad")).replace(" ", "\u00a0 ") + "\t\x00"
    ),
}

#: single transformations a hypothesis property composes in any order and number
NAME_TRANSFORMS: list[Any] = [
    lambda s, i: s[:i] + "\u200b" + s[i:],
    lambda s, i: s[:i] + "\u200d" + s[i:],
    lambda s, i: s[:i] + "\u2060" + s[i:],
    lambda s, i: s[:i] + "\u00ad" + s[i:],
    lambda s, i: s[:i] + "\x00" + s[i:],
    lambda s, i: "\u202e" + s,
    lambda s, i: s + "\u202c",
    lambda s, i: "\ufeff" + s,
    lambda s, i: f" {s}",
    lambda s, i: f"{s}\t",
    lambda s, i: f"{s}\r\n",
    lambda s, i: s.replace(" ", "  ", 1),
    lambda s, i: s.replace(" ", "\u00a0", 1),
    lambda s, i: s.replace(" ", "\u3000", 1),
    lambda s, i: s.replace(" ", "\t \n", 1),
    lambda s, i: s.upper(),
    lambda s, i: s.lower(),
    lambda s, i: s.swapcase(),
    lambda s, i: s.title(),
    lambda s, i: s[:i] + _fullwidth(s[i:]),
    lambda s, i: _fullwidth(s[:i]) + s[i:],
    lambda s, i: s[:i] + _cyrillic(s[i:]),
    lambda s, i: _cyrillic(s[:i]) + s[i:],
    lambda s, i: s.replace("i", "\u0456"),  # Cyrillic і
    lambda s, i: s.replace("l", "\u217c"),  # small roman numeral fifty
    lambda s, i: s.replace("o", "\u03bf"),  # Greek omicron
]


@st.composite
def name_variants(draw: st.DrawFn, name: str) -> str:
    """``name`` put through a random sequence of ``NAME_TRANSFORMS``."""
    for transform in draw(st.lists(st.sampled_from(NAME_TRANSFORMS), min_size=1, max_size=6)):
        name = transform(name, draw(st.integers(0, len(name))))
    return name
