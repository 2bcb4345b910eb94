"""Rules, their obligations, and invariants, read from one policy file."""

from __future__ import annotations

import re
from typing import Any, Final

from .._errors import Diagnostic
from ._conditions import ConditionReader
from ._model import Effect, Enforcement, Invariant, ObligationSpec, Rule
from ._nodes import NodeReader
from ._yaml import Node

__all__ = ["RuleReader"]

_RULE_KEYS: Final = (
    "id", "effect", "reason", "reference", "when", "obligations", "enforcement",
)  # fmt: skip
_OBLIGATION_KEYS: Final = ("id", "with", "when")
_INVARIANT_KEYS: Final = ("id", "never", "when", "description")
_ID_RE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")


class RuleReader(NodeReader):
    """Reads rules and invariants; their conditions go through ``conditions``."""

    def __init__(
        self, path: str, diagnostics: list[Diagnostic], conditions: ConditionReader
    ) -> None:
        super().__init__(path, diagnostics)
        self.conditions = conditions

    def ident(self, node: Node, what: str) -> str | None:
        value = self.string(node, what)
        if value is not None and not _ID_RE.fullmatch(value):
            self.err(
                node,
                "bad-id",
                f"{what} `{value}` must be letters, digits, `-`, `_`, `.` (at most 128)",
            )
            return None
        return value

    def rule(self, node: Node) -> Rule | None:
        spec = self.mapping(node, "a rule", _RULE_KEYS, ("id", "effect", "reason"))
        if spec is None:
            return None
        rule_id = self.ident(spec["id"], "rule id") if "id" in spec else None
        effect = (
            self.choice(spec["effect"], "`effect`", ("allow", "deny")) if "effect" in spec else None
        )
        reason = self.string(spec["reason"], "`reason`") if "reason" in spec else None
        reference = self.string(spec["reference"], "`reference`") if "reference" in spec else None
        when = self.conditions.condition(spec["when"]) if "when" in spec else None
        obligations: list[ObligationSpec] = []
        if "obligations" in spec:
            if effect == "deny":
                self.err(
                    spec["obligations"],
                    "obligation-on-deny",
                    "obligations ride on allow rules only",
                    "a denied use has nothing to fulfil; move them to an allow rule",
                )
            for item in self.seq(spec["obligations"], "`obligations`") or []:
                obligation = self.obligation(item)
                if obligation is not None:
                    obligations.append(obligation)
        enforcement = self.enforcement(spec, effect)
        if rule_id is None or effect is None or reason is None or enforcement is None:
            return None
        if "when" in spec and when is None:
            return None
        return Rule(
            rule_id, Effect(effect), reason, reference, when, tuple(obligations),
            self.path, node.line, node.col, enforcement,
        )  # fmt: skip

    def enforcement(self, spec: dict[str, Node], effect: str | None) -> Enforcement | None:
        if "enforcement" not in spec:
            return Enforcement.ENFORCE
        node = spec["enforcement"]
        value = self.choice(node, "`enforcement`", ("enforce", "dryrun"))
        if value == "dryrun" and effect == "allow":
            self.err(
                node,
                "dryrun-allow",
                "`enforcement: dryrun` applies to deny rules: a dry-run rule shows what "
                "it would have denied",
                "roll a new allow rule out as an enforced rule, or write the stricter "
                "clause as a dry-run deny rule",
            )
            return None
        return None if value is None else Enforcement(value)

    def obligation(self, node: Node) -> ObligationSpec | None:
        if isinstance(node.value, str):
            oid = self.ident(node, "obligation id")
            return ObligationSpec(oid, {}) if oid else None
        spec = self.mapping(node, "an obligation", _OBLIGATION_KEYS, ("id",))
        if spec is None or "id" not in spec:
            return None
        oid = self.ident(spec["id"], "obligation id")
        params: dict[str, Any] = {}
        if "with" in spec:
            if isinstance(spec["with"].value, dict):
                params = spec["with"].plain_value()
            else:
                self.err(spec["with"], "wrong-type", "`with` must be a mapping of parameters")
        when = self.conditions.condition(spec["when"]) if "when" in spec else None
        if oid is None or ("when" in spec and when is None):
            return None
        return ObligationSpec(oid, params, when)

    def invariant(self, node: Node) -> Invariant | None:
        spec = self.mapping(node, "an invariant", _INVARIANT_KEYS, ("id", "never"))
        if spec is None:
            return None
        inv_id = self.ident(spec["id"], "invariant id") if "id" in spec else None
        never = (
            self.choice(spec["never"], "`never`", ("allow", "deny")) if "never" in spec else None
        )
        description = (
            self.string(spec["description"], "`description`") if "description" in spec else None
        )
        when = self.conditions.condition(spec["when"]) if "when" in spec else None
        if inv_id is None or never is None or ("when" in spec and when is None):
            return None
        return Invariant(inv_id, Effect(never), when, description, self.path, node.line, node.col)
