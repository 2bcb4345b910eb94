"""Cedar peer: the hand translation in ``national-security-safeguards.cedar``, evaluated
with ``cedarpy`` against a pre-parsed policy set, entity store and schema.

What a caller does per decision (and what is timed): map the validated request to a
Cedar request (``to_cedar``), call ``cedarpy.is_authorized`` (which serialises the
context to JSON, evaluates in Rust and parses the JSON answer back).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, Final

import cedarpy

from usepolicy.policy import Effect, Policy

from .common import DENIED_LIST, PEER_DIR

POLICY_FILE: Final = PEER_DIR / "national-security-safeguards.cedar"
SCHEMA_FILE: Final = PEER_DIR / "usepolicy.cedarschema"
_ACTION: Final = {"type": "Action", "id": "use"}


def policies_text(extra_org_rules: int = 0) -> str:
    """The Cedar policies: the hand translation, preceded (like
    ``_pool.thousand_rule_policy_text``) by ``extra_org_rules`` generated
    per-organisation permits. Order does not change Cedar's answer."""
    extra = "".join(
        f'@id("org-{i}-research")\n'
        f"permit (principal == Organization::{json.dumps(f'Organisation {i}')},"
        ' action == Action::"use", resource in Purpose::"general");\n'
        for i in range(extra_org_rules)
    )
    return extra + POLICY_FILE.read_text()


def schema_text() -> str:
    return SCHEMA_FILE.read_text()


def entities(policy: Policy) -> list[dict[str, Any]]:
    """The entity store: every purpose of the vocabulary under its dotted prefixes, and
    every listed name as an Organization in ``EntityList::"denied_entities"``."""
    purposes: dict[str, list[str]] = {}
    for name in sorted(policy.vocabulary.names):
        parts = name.split(".")
        for depth in range(1, len(parts) + 1):
            node = ".".join(parts[:depth])
            parent = [".".join(parts[: depth - 1])] if depth > 1 else []
            purposes.setdefault(node, parent)
    out: list[dict[str, Any]] = [
        {
            "uid": {"type": "Purpose", "id": name},
            "attrs": {},
            "parents": [{"type": "Purpose", "id": p} for p in parents],
        }
        for name, parents in purposes.items()
    ]
    out.append({"uid": {"type": "EntityList", "id": DENIED_LIST}, "attrs": {}, "parents": []})
    out.extend(
        {
            "uid": {"type": "Organization", "id": name},
            "attrs": {},
            "parents": [{"type": "EntityList", "id": DENIED_LIST}],
        }
        for name in sorted(policy.lists[DENIED_LIST])
    )
    return out


def to_cedar(request: dict[str, Any]) -> dict[str, Any]:
    """A validated request (``request_to_builtins``) as a Cedar request."""
    requester = request["requester"]
    organization = requester["organization"]
    who: dict[str, Any] = {"organization": organization}
    if requester["country"] is not None:
        who["country"] = requester["country"]
    if requester["entity_id"] is not None:
        who["entity"] = {"__entity": {"type": "Organization", "id": requester["entity_id"]}}
    context: dict[str, Any] = {
        "requester": who,
        "data": request["data"],
        "autonomy": request["autonomy"],
        "environment": request["environment"],
    }
    for key in ("request_id", "model", "description"):
        if request[key] is not None:
            context[key] = request[key]
    return {
        "principal": {"type": "Organization", "id": organization},
        "action": _ACTION,
        "resource": {"type": "Purpose", "id": request["purpose"]},
        "context": context,
    }


class CedarPeer:
    """The policy set, entities and schema parsed once; evaluation per request."""

    def __init__(self, policy: Policy, extra_org_rules: int = 0) -> None:
        text = policies_text(extra_org_rules)
        check = cedarpy.validate_policies(text, schema_text())
        if not check.validation_passed:
            raise ValueError(f"Cedar policies do not validate: {check.errors}")
        self.policies = cedarpy.PolicySet.from_str(text)
        self.entities = cedarpy.Entities.from_json_str(json.dumps(entities(policy)))
        self.schema = cedarpy.Schema.from_str(schema_text())

    def authorize(self, request: dict[str, Any]) -> cedarpy.AuthzResult:
        """One decision, as a caller makes it: map, then ``is_authorized``."""
        return cedarpy.is_authorized(to_cedar(request), self.policies, self.entities)

    def authorize_validated(self, request: dict[str, Any]) -> cedarpy.AuthzResult:
        """Like ``authorize``, with Cedar also validating the request against the schema."""
        return cedarpy.is_authorized(
            to_cedar(request), self.policies, self.entities, schema=self.schema
        )

    def authorize_batch(self, requests: Iterable[dict[str, Any]]) -> list[cedarpy.AuthzResult]:
        return cedarpy.is_authorized_batch(
            [to_cedar(r) for r in requests], self.policies, self.entities
        )

    @staticmethod
    def outcome(result: cedarpy.AuthzResult) -> tuple[str, frozenset[str]]:
        """(``allow``/``deny``, the @ids of Cedar's determining policies)."""
        if result.diagnostics.errors:
            raise ValueError(f"Cedar evaluation errors: {result.diagnostics.errors}")
        ids = result.diagnostics.id_annotations_by_reason
        reasons = frozenset(ids.get(r, r) for r in result.diagnostics.reasons)
        return ("allow" if result.allowed else "deny"), reasons


def comparable(decision: Any) -> tuple[str, frozenset[str]]:
    """What Cedar reports, computed from a usepolicy ``Decision``: the effect, and the
    rules Cedar calls determining (every matched deny rule when denied by a rule; every
    matched allow rule when allowed; none for the default deny). Cedar does not report
    the permits that also matched a denied request, so those are not compared."""
    effect = decision.effect.value
    want = Effect.DENY if effect == "deny" else Effect.ALLOW
    return effect, frozenset(m.id for m in decision.matched_rules if m.effect is want)
