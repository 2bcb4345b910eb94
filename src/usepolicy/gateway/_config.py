"""What the deployment says, not the client: who holds each API key (KEYS.yaml) and
where the gateway runs (ENV.yaml).

KEYS.yaml holds no key, only each key's sha256 digest, so the file can be read by
whoever runs the gateway without giving anyone a key::

    keys:
      - sha256: 5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8
        organization: Army Intelligence Center
        country: US
        entity_id: aic-7

ENV.yaml names the deployment's network and classification::

    network: air_gapped
    classification: secret

Errors read ``path:line:col: code: message`` (a ``PolicyError`` with diagnostics).
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from .._errors import Diagnostic, PolicyError
from .._files import read_text
from ..policy import MAX_FILE_BYTES, Node, NodeReader, parse_yaml
from ..request import COUNTRY_PATTERN, Classification, Network

__all__ = ["KeyRing", "key_digest", "load_environment", "load_keys"]

_DIGEST: Final = re.compile(r"^[0-9a-f]{64}$")
_REQUESTER_KEYS: Final = ("organization", "country", "entity_id")


def key_digest(key: str) -> str:
    """The hex sha256 of an API key, as KEYS.yaml stores it."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class KeyRing:
    """API key digests and the requester each stands for."""

    requesters: Mapping[str, Mapping[str, str]]

    def requester(self, key: str) -> dict[str, str] | None:
        """The requester of an API key, or None for an unknown key."""
        found = self.requesters.get(key_digest(key))
        if found is None:
            return None
        return dict(found)

    @classmethod
    def of(cls, keys: Mapping[str, Mapping[str, str]]) -> KeyRing:
        """A key ring from plain keys (for tests and embedding): key -> requester."""
        return cls({key_digest(key): dict(who) for key, who in keys.items()})


def _read(path: str | os.PathLike[str]) -> tuple[str, Node]:
    name = os.fspath(path)
    return name, parse_yaml(read_text(path, MAX_FILE_BYTES), name)


def load_keys(path: str | os.PathLike[str]) -> KeyRing:
    """Read KEYS.yaml.

    Raises:
        PolicyError: the file is not a good key file (each problem ``path:line:col``).
        InputFileError: it cannot be read.
    """
    name, root = _read(path)
    problems: list[Diagnostic] = []
    reader = NodeReader(name, problems)
    found: dict[str, dict[str, str]] = {}
    top = reader.mapping(root, "the key file", ("keys",), ("keys",))
    entries = reader.seq(top["keys"], "`keys`") if top and "keys" in top else None
    for entry in entries or ():
        fields = reader.mapping(entry, "a key", ("sha256", *_REQUESTER_KEYS), ("sha256",
                                "organization"))  # fmt: skip
        if fields is None:
            continue
        digest = reader.string(fields["sha256"], "`sha256`") if "sha256" in fields else None
        if digest is not None and not _DIGEST.match(digest):
            reader.err(
                fields["sha256"], "bad-value",
                "`sha256` must be the 64 lowercase hex digits of the key's SHA-256",
                "usepolicy stores no key: write `printf %s KEY | sha256sum`",
            )  # fmt: skip
            digest = None
        if digest is not None and digest in found:
            reader.err(fields["sha256"], "duplicate-key", "this key digest is listed twice")
            digest = None
        requester: dict[str, str] = {}
        for key in _REQUESTER_KEYS:
            if key in fields and (value := reader.string(fields[key], f"`{key}`")) is not None:
                requester[key] = value
        country = requester.get("country")
        if country is not None and not re.fullmatch(COUNTRY_PATTERN, country):
            reader.err(fields["country"], "bad-value", f"`country` `{country}` is not an ISO code")
        if digest is not None:
            found[digest] = requester
    if problems:
        raise PolicyError(problems)
    return KeyRing(found)


def load_environment(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read ENV.yaml: the request's ``environment`` for every call through this gateway.

    Raises:
        PolicyError: the file is not a good environment file (``path:line:col``).
        InputFileError: it cannot be read.
    """
    name, root = _read(path)
    problems: list[Diagnostic] = []
    reader = NodeReader(name, problems)
    environment: dict[str, Any] = {}
    fields = reader.mapping(root, "the environment file", ("network", "classification"))
    for key, enum in (("network", Network), ("classification", Classification)):
        if fields and key in fields:
            value = reader.choice(fields[key], f"`{key}`", tuple(m.value for m in enum))
            if value is not None:
                environment[key] = value
    if problems:
        raise PolicyError(problems)
    return environment
