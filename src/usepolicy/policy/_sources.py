"""Where policies come from: a file, a folder of policy files, or ``pack:NAME``, a
reference pack shipped inside the package, wherever a policy path is taken (``-p``,
command arguments, ``load_policy``, ``include``, a test file's ``policy``)."""

from __future__ import annotations

import difflib
import os
from importlib import resources
from pathlib import Path
from typing import Final

from .._files import InputFileError

__all__ = [
    "DEFAULT_PACK",
    "PolicySource",
    "missing_pack",
    "pack_names",
    "pack_path",
    "policy_files",
    "resolve_source",
]

DEFAULT_PACK: Final = "national-security-safeguards"
_TEST_SUFFIXES: Final = (".test.yaml", ".test.yml")
PolicySource = str | os.PathLike[str]


_PACK_PREFIX: Final = "pack:"


def pack_path(name: str = DEFAULT_PACK) -> Path:
    """The path of a reference pack shipped inside the package."""
    return Path(str(resources.files("usepolicy") / "packs" / f"{name}.yaml"))


def pack_names() -> list[str]:
    """The reference packs shipped inside the package, by name."""
    return sorted(
        p.name.removesuffix(".yaml")
        for p in pack_path().parent.glob("*.yaml")
        if not p.name.endswith(_TEST_SUFFIXES)
    )


def missing_pack(target: str) -> tuple[str, str] | None:
    """(message, hint) when ``target`` is ``pack:NAME`` and no such pack is shipped."""
    if not target.startswith(_PACK_PREFIX):
        return None
    name = target[len(_PACK_PREFIX) :]
    names = pack_names()
    if name in names:
        return None
    close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
    hint = f"did you mean `pack:{close[0]}`?" if close else "packs: " + ", ".join(names)
    return f"no reference pack named `{name}`", hint


def policy_files(source: PolicySource) -> list[Path]:
    """The policy files a path names: the file itself, or a folder's policy files.

    A folder contributes its ``*.yaml``/``*.yml`` files in name order, except policy
    test files (``*.test.yaml``). ``pack:NAME`` names a reference pack shipped in the
    package, as in ``include``.

    Raises:
        InputFileError: a folder that cannot be listed.
    """
    name = os.fspath(source)
    if name.startswith(_PACK_PREFIX):
        return [pack_path(name[len(_PACK_PREFIX) :])]
    path = Path(source)
    if not os.path.isdir(path):  # never raises: reading the path reports what is wrong
        return [path]
    try:
        names = sorted(path.iterdir())
    except OSError as exc:
        raise InputFileError.of(path, exc) from exc
    # a FIFO, device or dangling link named *.yaml is kept, so reading it reports it:
    # silently skipping one file of a set could drop its deny rules
    return [
        p
        for p in names
        if p.suffix in (".yaml", ".yml")
        and not p.name.endswith(_TEST_SUFFIXES)
        and not os.path.isdir(p)
    ]


def resolve_source(base: Path, target: str) -> Path:
    """A policy a file names (an include, a test file's policy): ``pack:NAME`` is a
    reference pack shipped in the package; anything else is a path relative to the
    naming file's folder ``base``."""
    if target.startswith(_PACK_PREFIX):
        return pack_path(target[len(_PACK_PREFIX) :])
    return base / target
