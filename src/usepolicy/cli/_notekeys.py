"""Reading keys named on the command line: note keys (a key string, or a file holding
one), and record-signature public keys (``load_keys``)."""

from __future__ import annotations

import os

from ..audit import Verifier
from ..tlog import NoteError, NoteSigner, NoteVerifier, read_key_text
from ._output import error

__all__ = ["KeyArgError", "is_note_key", "load_keys", "note_signer", "note_verifier"]


class KeyArgError(ValueError):
    """A key argument that is not a usable key; the message names it."""


def _why(exc: OSError) -> str:
    return str(getattr(exc, "reason", None) or exc.strerror or exc)


def is_note_key(value: str) -> bool:
    """Whether ``value`` is a note verifier key, given inline or in a file."""
    try:
        note_verifier(value)
    except KeyArgError:
        return False
    return True


def note_verifier(value: str) -> NoteVerifier:
    """A verifier key string (``name+hex+base64``) or a file holding one.

    Raises:
        KeyArgError: neither.
    """
    if not os.path.exists(value) and "+" in value:
        try:
            return NoteVerifier.from_vkey(value)
        except NoteError as exc:
            raise KeyArgError(f"`{value}`: bad-key: {exc}") from None
    try:
        return NoteVerifier.from_vkey(read_key_text(value))
    except OSError as exc:  # InputFileError: missing, not a regular file, too large
        raise KeyArgError(f"{value}: cannot read the key: {_why(exc)}") from None
    except NoteError as exc:
        raise KeyArgError(f"{value}: bad-key: {exc}") from None


def note_signer(path: str) -> NoteSigner:
    """The signer key in a file (``usepolicy keygen --note NAME -o FILE``).

    Raises:
        KeyArgError: the file cannot be read or holds no signer key.
        ImportError: ``cryptography`` is missing (``SigningUnavailableError``).
    """
    try:
        return NoteSigner.from_skey(read_key_text(path))
    except OSError as exc:
        raise KeyArgError(f"{path}: cannot read the key: {_why(exc)}") from None
    except NoteError as exc:
        raise KeyArgError(f"{path}: bad-key: {exc}") from None


def load_keys(paths: list[str] | None) -> list[Verifier] | None:
    """The record-signature keys of ``--key`` options (``report``, ``stats``), or None
    after printing why one is bad."""
    keys: list[Verifier] = []
    for path in paths or ():
        try:
            keys.append(Verifier.from_file(path))
        except OSError as exc:
            error(f"{path}: cannot read the key: {exc.strerror or exc}")
            return None
        except (ValueError, ImportError) as exc:
            error(f"{path}: bad-key: {exc}")
            return None
    return keys
