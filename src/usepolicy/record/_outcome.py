"""Outcome records: what happened to a use after its decision.

A decision record says what the policy allowed; an outcome record, linked to it by
``decision_id`` and stored in the same chain, says what then happened: the upstream
model answered (``executed``), failed (``upstream-error``, with its status), or the
gateway refused the call although it was allowed (``refused``: an obligation it
cannot fulfil, a client that went away). This is an addition to DESIGN.md §3, which
knew only decision records: a record with ``"record_kind": "outcome"`` is this kind;
a record without ``record_kind`` is a decision record, as every record written
before it.

The prompt is never stored here unless the caller passes it (``prompt=``): by default
the record holds only its digest, which proves a prompt kept elsewhere.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Final

from ._build import RECORD_VERSION, Draft, _engine, utc_timestamp, utc_timestamp_now
from ._canonical import digest

__all__ = ["OUTCOMES", "RECORD_KIND_OUTCOME", "outcome_draft"]

RECORD_KIND_OUTCOME: Final = "outcome"

#: what can happen after a decision, with what each means
OUTCOMES: Final = {
    "executed": "the use went ahead: the upstream model answered",
    "upstream-error": "the use went ahead, but the upstream model failed (see status)",
    "refused": "the gateway did not carry the use out (see errors), though it was allowed",
}


def outcome_draft(
    decision_id: str,
    outcome: str,
    *,
    status: int | None = None,
    errors: Sequence[Mapping[str, str]] = (),
    prompt: Any = None,
    store_prompt: bool = False,
    engine: Mapping[str, str] | None = None,
    now: datetime | None = None,
) -> Draft:
    """The record of what happened after the decision ``decision_id``, unsealed.

    Args:
        outcome: a key of ``OUTCOMES``.
        status: the HTTP status the upstream answered with (or the gateway's, for a
            refusal), when there was one.
        errors: why it failed or was refused, each ``code`` and ``message``.
        prompt: the prompt sent upstream (JSON value); the record holds its digest.
        store_prompt: also store the prompt itself (off by default: the prompt may hold
            what the log must not).

    Raises:
        ValueError: ``outcome`` is not one of ``OUTCOMES``, or ``prompt`` has no
            canonical JSON form.
    """
    if outcome not in OUTCOMES:
        known = ", ".join(f"`{name}`" for name in OUTCOMES)
        raise ValueError(f"unknown outcome `{outcome}`: expected one of {known}")
    body: dict[str, Any] = {
        "record_version": RECORD_VERSION,
        "record_kind": RECORD_KIND_OUTCOME,
        "decision_id": decision_id,
        "timestamp": utc_timestamp_now() if now is None else utc_timestamp(now),
        "outcome": outcome,
        "status": status,
        "errors": [dict(error) for error in errors],
        "prompt_digest": None if prompt is None else digest(prompt),
    }
    if store_prompt and prompt is not None:
        body["prompt"] = prompt
    body["engine"] = _engine(engine)
    body["prev_digest"] = None
    return Draft(body)
