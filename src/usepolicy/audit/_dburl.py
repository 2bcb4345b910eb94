"""What is known of a database without its driver: whether an argument names one, how
to show its URL, and the error that says what to install (``usepolicy[postgres]``).

The CLI and ``audit`` use these with or without psycopg; the store itself
(``audit.postgres``) is imported only where a database is used.
"""

from __future__ import annotations

import re
from typing import Any, Final

from .._errors import UsePolicyError

__all__ = ["PostgresUnavailableError", "display_url", "is_db_url", "require_psycopg"]

_INSTALL_HINT: Final = (
    "the PostgreSQL audit store needs psycopg 3: pip install 'usepolicy[postgres]'"
)


class PostgresUnavailableError(UsePolicyError, ImportError):
    """psycopg 3 is not installed, so the PostgreSQL audit store cannot be used."""

    code = "postgres-unavailable"


def require_psycopg() -> Any:
    """The ``psycopg`` module, or ``PostgresUnavailableError`` saying what to install."""
    try:
        import psycopg
    except ImportError as exc:
        raise PostgresUnavailableError(_INSTALL_HINT) from exc
    return psycopg


def is_db_url(text: str) -> bool:
    """Whether a command-line argument names a database rather than a log file."""
    return text.startswith(("postgresql://", "postgres://"))


_PASSWORD_IN_URL: Final = re.compile(r"^(postgres(?:ql)?://[^/?#@:]*:)[^/?#@]*@")
_PASSWORD_PARAM: Final = re.compile(r"([?&]password=)[^&]*")


def display_url(url: str) -> str:
    """``url`` with any password masked, for messages."""
    return _PASSWORD_PARAM.sub(r"\1***", _PASSWORD_IN_URL.sub(r"\1***@", url))
