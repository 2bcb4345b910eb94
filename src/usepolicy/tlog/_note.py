"""C2SP ``signed-note`` with Ed25519 keys, and ``tlog-cosignature/v1`` signatures.

A note is UTF-8 text ending in a newline, a blank line, then signature lines
``— <key name> base64(4-byte key id || signature)``. A key is named (``example.com/log``)
and identified by ``SHA-256(name || 0x0A || type || public key)[:4]``; type ``0x01`` is a
plain Ed25519 signature of the text, type ``0x04`` a witness's timestamped cosignature
(``u64 time || Ed25519("cosignature/v1\\ntime <t>\\n" || text)``).

Keys travel as the strings of Go's ``golang.org/x/mod/sumdb/note``:
a verifier key ``<name>+<hex key id>+<base64(type || public key)>`` and a signer key
``PRIVATE+KEY+<name>+<hex key id>+<base64(0x01 || 32-byte seed)>``.

Verifying follows the spec: signature lines of unknown keys (name or id not known) are
ignored; a known key's signature must hold, or the whole note is refused.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from .._crypto import ed25519 as _ed25519
from .._crypto import serialization as _serialization
from .._errors import UsePolicyError
from .._files import read_bytes

__all__ = [
    "COSIGNATURE_V1",
    "ED25519",
    "MAX_NOTE_BYTES",
    "Note",
    "NoteError",
    "NoteSignature",
    "NoteSigner",
    "NoteVerifier",
    "read_key_text",
]

ED25519: Final = 0x01
COSIGNATURE_V1: Final = 0x04
MAX_NOTE_BYTES: Final = 1 << 20
_MAX_SIGNATURES: Final = 100  # the spec asks for at least 16; Go's reader allows 100
_DASH: Final = "\u2014 "
_U64: Final = struct.Struct(">Q")


class NoteError(UsePolicyError, ValueError):
    """A note, key or signature is malformed, or a known key's signature does not hold."""

    code = "bad-note"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str, what: str) -> bytes:
    try:
        data = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise NoteError(f"{what}: not base64") from None
    if _b64(data) != text:
        raise NoteError(f"{what}: not canonical base64")
    return data


def check_name(name: str) -> str:
    """A key name: non-empty, no Unicode space, no ``+``, no control character."""
    if not name or "+" in name or any(ch.isspace() or ord(ch) < 0x20 for ch in name):
        raise NoteError(f"bad key name `{name}`: it must be non-empty, without spaces or `+`")
    return name


def key_id(name: str, key_type: int, public_key: bytes) -> int:
    """``SHA-256(name || 0x0A || type || public key)[:4]``, big-endian."""
    digest = hashlib.sha256(name.encode("utf-8") + b"\n" + bytes([key_type]) + public_key)
    return int.from_bytes(digest.digest()[:4], "big")


def cosigned_message(text: bytes, timestamp: int) -> bytes:
    """What a ``cosignature/v1`` signs: a header line, a time line, then the note text."""
    return b"cosignature/v1\ntime %d\n" % timestamp + text


def read_key_text(path: str | os.PathLike[str]) -> str:
    """A key string from a file (one line; at most 4 KiB).

    Raises:
        NoteError: the file is not a one-line key.
        InputFileError: it cannot be read (missing, not a regular file, over 4 KiB).
    """
    data = read_bytes(path, 4096)
    try:
        text = data.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise NoteError("not a note key (not UTF-8 text)") from None
    if "\n" in text or not text:
        if b"-----BEGIN" in data:
            raise NoteError(
                "a PEM key (for signing records), not a note key: make one with "
                "`usepolicy keygen --note NAME -o FILE`"
            )
        raise NoteError("not a note key (expected one line)")
    return text


@dataclass(frozen=True, slots=True)
class NoteSignature:
    """One signature line: the key's name and id, and the signature bytes after the id."""

    name: str
    key_id: int
    signature: bytes

    def line(self) -> str:
        return f"{_DASH}{self.name} {_b64(self.key_id.to_bytes(4, 'big') + self.signature)}\n"

    @property
    def timestamp(self) -> int | None:
        """For a ``cosignature/v1``: the time it states (POSIX seconds)."""
        if len(self.signature) != 8 + 64:
            return None
        return int(_U64.unpack(self.signature[:8])[0])


class NoteVerifier:
    """Checks signatures by one key: type ``0x01`` (a log's) or ``0x04`` (a witness's)."""

    __slots__ = ("_key", "key_id", "key_type", "name", "public_key")

    def __init__(self, name: str, public_key: bytes, key_type: int = ED25519) -> None:
        if key_type not in (ED25519, COSIGNATURE_V1):
            raise NoteError(f"key type {key_type:#04x} is not supported (0x01 or 0x04)")
        if len(public_key) != 32:
            raise NoteError(f"an Ed25519 public key is 32 bytes, not {len(public_key)}")
        self.name = check_name(name)
        self.public_key = public_key
        self.key_type = key_type
        self.key_id = key_id(name, key_type, public_key)
        self._key: Any = None

    @classmethod
    def from_vkey(cls, vkey: str) -> NoteVerifier:
        """Parse ``<name>+<hex key id>+<base64(type || public key)>``.

        Raises:
            NoteError: malformed, or the key id is not the key's.
        """
        parts = vkey.strip().split("+", 2)  # base64 may hold `+`
        if len(parts) != 3 or len(parts[1]) != 8:
            raise NoteError("a verifier key reads <name>+<8 hex digits>+<base64 key>")
        name, hex_id, data = parts
        try:
            given = int(hex_id, 16)
        except ValueError:
            raise NoteError(f"verifier key `{name}`: `{hex_id}` is not hex") from None
        raw = _unb64(data, f"verifier key `{name}`")
        if not raw:
            raise NoteError(f"verifier key `{name}`: no key")
        verifier = cls(name, raw[1:], raw[0])
        if verifier.key_id != given:
            raise NoteError(f"verifier key `{name}`: key id {hex_id} is not this key's")
        return verifier

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> NoteVerifier:
        """The verifier key in a file (``KEYFILE.pub`` of ``keygen --note``)."""
        try:
            return cls.from_vkey(read_key_text(path))
        except NoteError as exc:
            raise NoteError(f"{path}: {exc}") from None

    @property
    def vkey(self) -> str:
        raw = bytes([self.key_type]) + self.public_key
        return f"{self.name}+{self.key_id:08x}+{_b64(raw)}"

    def as_cosigner(self) -> NoteVerifier:
        """The same key as a witness's ``cosignature/v1`` key (type 0x04)."""
        return NoteVerifier(self.name, self.public_key, COSIGNATURE_V1)

    def __repr__(self) -> str:
        return f"NoteVerifier({self.vkey!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, NoteVerifier) and other.vkey == self.vkey

    def __hash__(self) -> int:
        return hash(self.vkey)

    def matches(self, signature: NoteSignature) -> bool:
        return signature.name == self.name and signature.key_id == self.key_id

    def verify(self, text: bytes, signature: NoteSignature) -> bool:
        """Whether ``signature`` (made by this key: see ``matches``) holds for ``text``.

        Raises:
            SigningUnavailableError: ``cryptography`` is not installed.
        """
        if self._key is None:
            self._key = _ed25519().Ed25519PublicKey.from_public_bytes(self.public_key)
        from cryptography.exceptions import InvalidSignature

        message, value = text, signature.signature
        if self.key_type == COSIGNATURE_V1:
            stamp = signature.timestamp
            if stamp is None or stamp > 2**63 - 1:
                return False
            message, value = cosigned_message(text, stamp), value[8:]
        if len(value) != 64:
            return False
        try:
            self._key.verify(value, message)
        except InvalidSignature:
            return False
        return True


class NoteSigner:
    """Signs notes with an Ed25519 key: as a log (type 0x01) or as a witness (0x04)."""

    __slots__ = ("_key", "_seed", "name", "public_key")

    def __init__(self, name: str, seed: bytes) -> None:
        if len(seed) != 32:
            raise NoteError(f"an Ed25519 private key is 32 bytes, not {len(seed)}")
        self.name = check_name(name)
        self._seed = seed
        self._key = _ed25519().Ed25519PrivateKey.from_private_bytes(seed)
        formats = _serialization()
        self.public_key: bytes = self._key.public_key().public_bytes(
            formats.Encoding.Raw, formats.PublicFormat.Raw
        )

    @classmethod
    def generate(cls, name: str) -> NoteSigner:
        """A signer with a fresh random key named ``name`` (e.g. ``example.com/audit``)."""
        return cls(name, os.urandom(32))

    @classmethod
    def from_skey(cls, skey: str) -> NoteSigner:
        """Parse ``PRIVATE+KEY+<name>+<hex key id>+<base64(0x01 || seed)>``.

        Raises:
            NoteError: malformed, or the key id is not the key's.
        """
        parts = skey.strip().split("+", 4)
        if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"] or len(parts[3]) != 8:
            raise NoteError("a signer key reads PRIVATE+KEY+<name>+<8 hex digits>+<base64 key>")
        name, hex_id, data = parts[2:]
        raw = _unb64(data, f"signer key `{name}`")
        if not raw or raw[0] != ED25519:
            raise NoteError(f"signer key `{name}`: not an Ed25519 key (type 0x01)")
        signer = cls(name, raw[1:])
        if f"{signer.verifier().key_id:08x}" != hex_id.lower():
            raise NoteError(f"signer key `{name}`: key id {hex_id} is not this key's")
        return signer

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> NoteSigner:
        """The signer key in a file (``KEYFILE`` of ``keygen --note``)."""
        try:
            return cls.from_skey(read_key_text(path))
        except NoteError as exc:
            raise NoteError(f"{path}: {exc}") from None

    @property
    def skey(self) -> str:
        """The private key string (keep it secret)."""
        raw = bytes([ED25519]) + self._seed
        return f"PRIVATE+KEY+{self.name}+{self.verifier().key_id:08x}+{_b64(raw)}"

    def verifier(self) -> NoteVerifier:
        """The log verifier key (type 0x01) for this key."""
        return NoteVerifier(self.name, self.public_key, ED25519)

    def cosigner(self) -> NoteVerifier:
        """The witness verifier key (type 0x04) for this key."""
        return NoteVerifier(self.name, self.public_key, COSIGNATURE_V1)

    def sign(self, text: bytes) -> NoteSignature:
        """A plain Ed25519 note signature (type 0x01) of ``text``."""
        return NoteSignature(self.name, self.verifier().key_id, self._key.sign(text))

    def cosign(self, text: bytes, timestamp: int) -> NoteSignature:
        """A ``cosignature/v1`` (type 0x04) of ``text`` at ``timestamp`` (POSIX seconds)."""
        if not 0 <= timestamp <= 2**63 - 1:
            raise NoteError(f"timestamp {timestamp} is out of range")
        value = _U64.pack(timestamp) + self._key.sign(cosigned_message(text, timestamp))
        return NoteSignature(self.name, self.cosigner().key_id, value)


@dataclass(frozen=True, slots=True)
class Note:
    """A signed note: its text (ending in a newline) and its signature lines."""

    text: str
    signatures: tuple[NoteSignature, ...] = ()

    @classmethod
    def parse(cls, data: bytes | str) -> Note:
        """Parse a signed note (signatures are not checked: see ``verify``).

        Raises:
            NoteError: it is not a signed note.
        """
        raw = data.encode("utf-8") if isinstance(data, str) else data
        if len(raw) > MAX_NOTE_BYTES:
            raise NoteError(f"a note of {len(raw)} bytes is over the {MAX_NOTE_BYTES} limit")
        try:
            whole = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise NoteError("a note must be UTF-8") from None
        if any(ord(ch) < 0x20 and ch != "\n" for ch in whole):
            raise NoteError("a note must not contain control characters other than newline")
        split = whole.rfind("\n\n")
        if split < 0:
            raise NoteError("no blank line before the signatures")
        text, lines = whole[: split + 1], whole[split + 2 :]
        if not lines.endswith("\n"):
            raise NoteError("no signature lines, or the last one does not end in a newline")
        signatures: list[NoteSignature] = []
        for number, line in enumerate(lines[:-1].split("\n"), 1):
            if len(signatures) == _MAX_SIGNATURES:
                raise NoteError(f"more than {_MAX_SIGNATURES} signatures")
            if not line.startswith(_DASH) or " " not in line[len(_DASH) :]:
                raise NoteError(f"signature line {number} is not `— <name> <base64>`")
            name, value = line[len(_DASH) :].split(" ", 1)
            check_name(name)
            blob = _unb64(value, f"signature line {number}")
            if len(blob) < 5:
                raise NoteError(f"signature line {number} is too short")
            signatures.append(NoteSignature(name, int.from_bytes(blob[:4], "big"), blob[4:]))
        return cls(text, tuple(signatures))

    @classmethod
    def read(cls, path: str | os.PathLike[str]) -> Note:
        """Parse the note in a file (of at most ``MAX_NOTE_BYTES``).

        Raises:
            NoteError: not a signed note.
            InputFileError: the file cannot be read.
        """
        data = read_bytes(path, MAX_NOTE_BYTES)
        try:
            return cls.parse(data)
        except NoteError as exc:
            raise NoteError(f"{Path(path)}: {exc}") from None

    def format(self) -> str:
        return self.text + "\n" + "".join(sig.line() for sig in self.signatures)

    def signed(self, *signatures: NoteSignature) -> Note:
        """This note with more signature lines (a key's earlier line is replaced)."""
        keys = {(sig.name, sig.key_id) for sig in signatures}
        kept = [sig for sig in self.signatures if (sig.name, sig.key_id) not in keys]
        return Note(self.text, (*kept, *signatures))

    def verify(self, verifiers: Iterable[NoteVerifier]) -> list[NoteVerifier]:
        """The known keys that signed this note.

        Lines of unknown keys are ignored. Raises ``NoteError`` if a known key's
        signature does not hold (the spec's advice: refuse the whole note).
        """
        known: Sequence[NoteVerifier] = list(verifiers)
        text = self.text.encode("utf-8")
        good: list[NoteVerifier] = []
        for signature in self.signatures:
            for verifier in known:
                if not verifier.matches(signature) or verifier in good:
                    continue
                if not verifier.verify(text, signature):
                    raise NoteError(
                        f"the signature of `{verifier.name}` ({verifier.key_id:08x}) does "
                        "not hold: the note was changed, or signed by another key"
                    )
                good.append(verifier)
        return good
