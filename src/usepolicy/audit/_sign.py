"""Ed25519 signatures on decision records (the ``usepolicy[sign]`` extra).

A record is signed over the UTF-8 bytes of its ``record_digest``: the digest already
covers every other field (and, through ``prev_digest``, the records before it), so an
inspector needs only the log and the public key. The key id is the first 16 hex digits
of the SHA-256 of the raw 32-byte public key, so a log can name the key it was signed
with without carrying it.

``cryptography`` is imported only when a key is made or loaded; without it those calls
raise ``SigningUnavailableError`` saying what to install.
"""

from __future__ import annotations

import base64
import binascii
import errno
import hashlib
import os
from pathlib import Path
from typing import TYPE_CHECKING, Final

from .._crypto import SigningUnavailableError
from .._crypto import ed25519 as _ed25519
from .._crypto import serialization as _serialization
from .._files import read_bytes

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (
        Ed25519PrivateKey,
        Ed25519PublicKey,
    )

    from ..record import AnyRecord, DecisionRecord, RecordSignature

__all__ = [
    "Signer",
    "SigningUnavailableError",
    "Verifier",
    "generate_keypair",
    "key_id",
    "public_key_path",
]

#: a PEM Ed25519 key is a few hundred bytes; the bound keeps a wrong file from being swallowed
MAX_KEY_FILE_BYTES: Final = 64 * 1024


def _raw_public(key: Ed25519PublicKey) -> bytes:
    s = _serialization()
    raw: bytes = key.public_bytes(s.Encoding.Raw, s.PublicFormat.Raw)
    return raw


def key_id(public_key: Ed25519PublicKey) -> str:
    """First 16 hex digits of the SHA-256 of the raw public key."""
    return hashlib.sha256(_raw_public(public_key)).hexdigest()[:16]


def public_key_path(private_key_path: str | os.PathLike[str]) -> Path:
    """Where ``generate_keypair`` puts the public key: ``KEYFILE.pub``."""
    path = Path(private_key_path)
    return path.with_name(path.name + ".pub")


class Signer:
    """Signs records with an Ed25519 private key.

    Args:
        private_key: a ``cryptography`` ``Ed25519PrivateKey``.
    """

    alg = "ed25519"

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._key = private_key
        self.key_id = key_id(private_key.public_key())

    @classmethod
    def generate(cls) -> Signer:
        """A signer with a fresh random key."""
        return cls(_ed25519().Ed25519PrivateKey.generate())

    @classmethod
    def from_pem(cls, data: bytes, password: bytes | None = None) -> Signer:
        """Load a PEM (PKCS#8) Ed25519 private key.

        Raises:
            ValueError: the data is not an Ed25519 private key (or the password is wrong).
        """
        key = _serialization().load_pem_private_key(data, password=password)
        if not isinstance(key, _ed25519().Ed25519PrivateKey):
            raise ValueError("not an Ed25519 private key")
        return cls(key)

    @classmethod
    def from_file(cls, path: str | os.PathLike[str], password: bytes | None = None) -> Signer:
        """Load the private key file written by ``usepolicy keygen``.

        Raises:
            InputFileError: the file cannot be read (an ``OSError``).
            ValueError: it is not an Ed25519 private key.
        """
        return cls.from_pem(read_bytes(path, MAX_KEY_FILE_BYTES), password)

    def private_key_pem(self) -> bytes:
        s = _serialization()
        pem: bytes = self._key.private_bytes(
            s.Encoding.PEM, s.PrivateFormat.PKCS8, s.NoEncryption()
        )
        return pem

    def public_key_pem(self) -> bytes:
        s = _serialization()
        pem: bytes = self._key.public_key().public_bytes(
            s.Encoding.PEM, s.PublicFormat.SubjectPublicKeyInfo
        )
        return pem

    def verifier(self) -> Verifier:
        """The matching verifier (public key only)."""
        return Verifier(self._key.public_key())

    def sign_digest(self, record_digest: str) -> dict[str, str]:
        """The ``signature`` field of a record with this ``record_digest`` (what
        ``usepolicy.record.seal`` asks of a signer)."""
        value = base64.b64encode(self._key.sign(record_digest.encode("utf-8")))
        return {"alg": self.alg, "key_id": self.key_id, "value": value.decode("ascii")}

    def signature(self, record_digest: str) -> RecordSignature:
        """The signature of one ``record_digest``."""
        from ..record import RecordSignature

        return RecordSignature.model_validate(self.sign_digest(record_digest))

    def sign(self, record: DecisionRecord) -> DecisionRecord:
        """A copy of ``record`` carrying its signature (the digest is unchanged)."""
        return record.model_copy(update={"signature": self.signature(record.record_digest)})


class Verifier:
    """Checks record signatures with an Ed25519 public key (offline, no secret needed)."""

    def __init__(self, public_key: Ed25519PublicKey) -> None:
        self._key = public_key
        self.key_id = key_id(public_key)

    @classmethod
    def from_pem(cls, data: bytes) -> Verifier:
        """Load a PEM (SubjectPublicKeyInfo) Ed25519 public key.

        Raises:
            ValueError: the data is not an Ed25519 public key.
        """
        if b"PRIVATE KEY" in data:
            raise ValueError("this is a private key: give the public key (KEYFILE.pub)")
        key = _serialization().load_pem_public_key(data)
        if not isinstance(key, _ed25519().Ed25519PublicKey):
            raise ValueError("not an Ed25519 public key")
        return cls(key)

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> Verifier:
        """Load a public key file (``KEYFILE.pub`` from ``usepolicy keygen``).

        Raises:
            InputFileError: the file cannot be read (an ``OSError``).
            ValueError: it is not an Ed25519 public key.
        """
        return cls.from_pem(read_bytes(path, MAX_KEY_FILE_BYTES))

    def problem(self, record: AnyRecord) -> str | None:
        """Why ``record``'s signature does not hold under this key, or None if it does."""
        from cryptography.exceptions import InvalidSignature

        sig = record.signature
        if sig is None:
            return "record is not signed"
        if sig.key_id != self.key_id:
            return f"signed with key `{sig.key_id}`, not `{self.key_id}`"
        try:
            value = base64.b64decode(sig.value, validate=True)
            self._key.verify(value, record.record_digest.encode("utf-8"))
        except (InvalidSignature, binascii.Error, ValueError):
            return f"signature does not match the record digest under key `{self.key_id}`"
        return None


def generate_keypair(
    path: str | os.PathLike[str], *, overwrite: bool = False
) -> tuple[Signer, Path, Path]:
    """Make a new key: the private key PEM at ``path`` (mode 0600), the public at ``.pub``.

    Raises:
        FileExistsError: a key file exists and ``overwrite`` is false.
    """
    signer = Signer.generate()
    private = Path(path)
    public = public_key_path(private)
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if overwrite else os.O_EXCL)
    if not overwrite and public.exists():
        raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), str(public))
    fd = os.open(private, flags, 0o600)
    try:
        os.fchmod(fd, 0o600)  # an overwritten file keeps its old mode otherwise
        os.write(fd, signer.private_key_pem())
        os.fsync(fd)
    finally:
        os.close(fd)
    public.write_bytes(signer.public_key_pem())
    return signer, private, public
