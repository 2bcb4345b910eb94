"""Decision records (DESIGN.md §3): how they are built, sealed and read.

- ``DecisionRecord`` and its parts (``RecordRule``, ``RecordObligation``,
  ``RecordProblem``, ``RecordPolicy``, ``RecordEngine``, ``RecordSignature``): a record
  as a typed pydantic model, imported on first use.
- ``canonical_json`` / ``digest``: RFC 8785 canonical JSON and ``sha256:`` digests.
- ``seal(body, prev, signer)``: chain, digest and sign a record body, and write its
  canonical line; every audit sink stores records with it, and verifying a record is
  sealing it again. A decision's draft carries its outcome's template
  (``Draft.template``): its line is then joined from pieces written once, and
  ``record_of`` assembles its ``DecisionRecord`` from parts validated once.
- ``decision_draft``, ``rejected_draft``, ``denied_body``: the one place record bodies
  are made (the engine's ``Decision.record`` and the ``Enforcer`` call them).
- ``outcome_draft`` / ``OutcomeRecord``: what happened after a decision (executed,
  upstream error, refused), linked by ``decision_id``; ``parse_record`` reads a log
  line of either kind (``AnyRecord``).
- ``redact`` / ``unredact``: store request fields only as their digest, and prove them.
- ``UseDenied``: raised by ``Enforcer.require``, carrying the record.

This package stands below the engine and the audit sinks: it imports neither.
"""

import typing

from ._build import (
    ENGINE_NAME,
    Draft,
    PolicyRef,
    decision_draft,
    denied_body,
    new_decision_id,
    raw_digest,
    rejected_draft,
    utc_timestamp,
    utc_timestamp_now,
)
from ._canonical import canonical_json, digest
from ._denied import UseDenied
from ._outcome import OUTCOMES, RECORD_KIND_OUTCOME, outcome_draft
from ._redact import check_redact_paths, redact, redact_body, redact_draft, unredact
from ._seal import UNDIGESTED, DigestSigner, Sealed, record_digest, seal

if typing.TYPE_CHECKING:
    from ._model import (
        AnyRecord,
        DecisionRecord,
        OutcomeRecord,
        RecordDryRun,
        RecordEngine,
        RecordObligation,
        RecordPolicy,
        RecordProblem,
        RecordRule,
        RecordSignature,
        parse_record,
        record_of,
    )

_MODELS = frozenset(
    {
        "AnyRecord",
        "DecisionRecord",
        "OutcomeRecord",
        "parse_record",
        "record_of",
        "RecordDryRun",
        "RecordEngine",
        "RecordProblem",
        "RecordObligation",
        "RecordPolicy",
        "RecordRule",
        "RecordSignature",
    }
)


def __getattr__(name: str) -> typing.Any:
    # the pydantic models load on first use (PEP 562): building, sealing and storing
    # records never needs them
    if name == "RecordError":  # renamed: it is data, not an exception
        import warnings

        warnings.warn(
            "usepolicy.record.RecordError is renamed RecordProblem (it is data, not an exception)",
            DeprecationWarning,
            stacklevel=2,
        )
        name = "RecordProblem"
    if name not in _MODELS:
        raise AttributeError(f"module 'usepolicy.record' has no attribute {name!r}")
    from . import _model

    value = getattr(_model, name)
    globals()[name] = value
    return value


__all__ = [
    "ENGINE_NAME",
    "OUTCOMES",
    "RECORD_KIND_OUTCOME",
    "UNDIGESTED",
    "AnyRecord",
    "DecisionRecord",
    "DigestSigner",
    "Draft",
    "OutcomeRecord",
    "PolicyRef",
    "RecordDryRun",
    "RecordEngine",
    "RecordObligation",
    "RecordPolicy",
    "RecordProblem",
    "RecordRule",
    "RecordSignature",
    "Sealed",
    "UseDenied",
    "canonical_json",
    "check_redact_paths",
    "decision_draft",
    "denied_body",
    "digest",
    "new_decision_id",
    "outcome_draft",
    "parse_record",
    "raw_digest",
    "record_digest",
    "record_of",
    "redact",
    "redact_body",
    "redact_draft",
    "rejected_draft",
    "seal",
    "unredact",
    "utc_timestamp",
    "utc_timestamp_now",
]
