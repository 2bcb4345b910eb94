"""The floor: the reference pack as a hand-written Python ``if`` chain on the raw request
dict (deny-overrides, default deny), with no validation at all. Nothing that validates
the request can be faster; it shows what the rules alone cost in plain Python."""

from __future__ import annotations

from typing import Any

_NONE: dict[str, Any] = {}


def make_floor(denied: frozenset[str], org_rules: int = 0) -> Any:
    """``decide(request) -> (effect, determining_rule)``; ``org_rules`` adds the
    per-organisation allow rules of the 1000-rule policy (a dict lookup, as one would
    write them by hand), which come before the pack's rules in policy order."""
    org_rule = {f"Organisation {i}": f"org-{i}-research" for i in range(org_rules)}

    def decide(r: dict[str, Any]) -> tuple[str, str | None]:
        requester = r["requester"]
        purpose = r["purpose"]
        top = purpose.partition(".")[0]
        data = r.get("data", _NONE)
        autonomy = r.get("autonomy", _NONE)
        environment = r.get("environment", _NONE)
        subjects = data.get("subjects", "none")
        provenance = data.get("provenance", "none")
        authority = data.get("legal_authority", "none")
        level = autonomy.get("level", "none")
        lethal = autonomy.get("lethal", False)
        domestic = subjects == "domestic" or subjects == "mixed"
        surveillance = top == "surveillance" or top == "law_enforcement"
        # deny rules, in policy order: the first that matches decides
        if requester["organization"] in denied or requester.get("entity_id") in denied:
            return "deny", "denied-entity"
        if domestic and (
            provenance == "bulk"
            or provenance == "commercial"
            or data.get("subject_count", 0) > 1000
        ):
            return "deny", "no-mass-domestic-surveillance"
        if surveillance and domestic and authority == "none":
            return "deny", "domestic-requires-legal-authority"
        if level == "fully_autonomous" and (top == "weapons" or lethal):
            return "deny", "no-fully-autonomous-weapons"
        if (purpose == "weapons.engagement" or lethal) and (
            level == "human_on_the_loop" or level == "fully_autonomous"
        ):
            return "deny", "lethal-force-requires-human-in-the-loop"
        if environment.get("classification", "unclassified") in ("secret", "top_secret") and (
            environment.get("network", "internet") == "internet"
        ):
            return "deny", "classified-requires-accredited-network"
        # allow rules, in policy order
        if org_rule and top == "general":
            rule = org_rule.get(requester["organization"])
            if rule is not None:
                return "allow", rule
        if top == "intelligence":
            return "allow", "intelligence"
        if top == "military":
            return "allow", "military-support"
        if top == "weapons":
            return "allow", "weapons-with-human-control"
        if top == "cyber":
            return "allow", "cyber"
        if surveillance and provenance == "targeted" and authority in ("warrant", "court_order"):
            return "allow", "domestic-with-authority"
        if top == "general":
            return "allow", "general-use"
        return "deny", None

    return decide
