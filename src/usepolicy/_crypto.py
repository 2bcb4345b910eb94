"""The ``cryptography`` package (the ``usepolicy[sign]`` extra), imported only when a key
is made or used: signed records (``audit``) and signed notes (``tlog``) share this guard.
"""

from __future__ import annotations

from typing import Any

from ._errors import UsePolicyError

__all__ = ["SigningUnavailableError", "ed25519", "serialization"]

_INSTALL_HINT = "signing needs the `cryptography` package: pip install 'usepolicy[sign]'"


class SigningUnavailableError(UsePolicyError, ImportError):
    """``cryptography`` is not installed, so nothing can be signed or checked."""

    code = "signing-unavailable"


def ed25519() -> Any:
    """``cryptography``'s Ed25519 module, or ``SigningUnavailableError`` saying what to
    install."""
    try:
        from cryptography.hazmat.primitives.asymmetric import ed25519
    except ImportError as exc:
        raise SigningUnavailableError(_INSTALL_HINT) from exc
    return ed25519


def serialization() -> Any:
    """``cryptography``'s key serialization module (same guard)."""
    ed25519()
    from cryptography.hazmat.primitives import serialization

    return serialization
