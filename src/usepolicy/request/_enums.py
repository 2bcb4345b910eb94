"""The request's enumerations, limits and patterns, free of pydantic.

The engine's hot path and the command line import only this module, so a cold
``usepolicy check`` does not pay for importing pydantic; ``_request`` builds the public
models on top of it.
"""

from __future__ import annotations

import enum

__all__ = [
    "ATTRIBUTE_KEY_PATTERN",
    "COUNTRY_PATTERN",
    "LIMITS",
    "AutonomyLevel",
    "Category",
    "Classification",
    "LegalAuthority",
    "Network",
    "Provenance",
    "Subjects",
    "unicode_problem",
]


class Subjects(enum.StrEnum):
    """Whose personal data the use touches."""

    NONE = "none"
    FOREIGN = "foreign"
    DOMESTIC = "domestic"
    MIXED = "mixed"


class Provenance(enum.StrEnum):
    """How the data was obtained."""

    NONE = "none"
    TARGETED = "targeted"
    BULK = "bulk"
    COMMERCIAL = "commercial"
    PUBLIC = "public"
    SYNTHETIC = "synthetic"


class LegalAuthority(enum.StrEnum):
    """The legal basis held for processing the data."""

    NONE = "none"
    WARRANT = "warrant"
    COURT_ORDER = "court_order"
    CONSENT = "consent"
    STATUTE = "statute"


class Category(enum.StrEnum):
    """Kinds of personal data."""

    LOCATION = "location"
    COMMUNICATIONS = "communications"
    WEB_BROWSING = "web_browsing"
    ASSOCIATIONS = "associations"
    BIOMETRIC = "biometric"
    FINANCIAL = "financial"
    HEALTH = "health"
    IDENTITY = "identity"
    IMAGERY = "imagery"


class AutonomyLevel(enum.StrEnum):
    """How much the system acts without a person."""

    NONE = "none"
    HUMAN_IN_THE_LOOP = "human_in_the_loop"
    HUMAN_ON_THE_LOOP = "human_on_the_loop"
    FULLY_AUTONOMOUS = "fully_autonomous"


class Network(enum.StrEnum):
    """Where the model runs."""

    INTERNET = "internet"
    PRIVATE = "private"
    AIR_GAPPED = "air_gapped"


class Classification(enum.StrEnum):
    """Classification of the data handled, lowest first (ordered comparisons apply)."""

    UNCLASSIFIED = "unclassified"
    CUI = "cui"
    SECRET = "secret"  # noqa: S105 - a classification, not a password
    TOP_SECRET = "top_secret"  # noqa: S105


class _Limits:
    """Bounds on request size; each is enforced by both validators."""

    max_request_bytes = 1024 * 1024
    max_attributes = 64
    max_attribute_string = 4096
    max_attribute_list = 64
    max_attribute_key = 64
    max_name = 256
    max_purpose = 128
    max_description = 65536
    max_request_id = 128
    max_categories = 32
    max_subject_count = 10**15
    #: numbers beyond this are not exactly representable in canonical JSON (RFC 8785)
    max_abs_number = 2**53 - 1


LIMITS = _Limits()

# unanchored: pydantic anchors them with ^...$, Python uses re.fullmatch (a Python
# `$` would also match before a trailing newline)
ATTRIBUTE_KEY_PATTERN = r"[A-Za-z_][A-Za-z0-9_-]*"
COUNTRY_PATTERN = r"[A-Z]{2}"


def unicode_problem(value: str) -> str | None:
    """Why ``value`` cannot be written as UTF-8 (RFC 8785 needs that), or None."""
    if value.isascii():
        return None
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        return f"contains an unpaired surrogate at position {exc.start}"
    return None
