"""Static checks a policy author wants before shipping: rules that can never match or
never decide; lists, named conditions or vocabulary purposes nothing uses; settings of
included files that the set ignores.

The rule checks are proofs over the partition of the policy's rule and obligation
conditions, not heuristics: a rule "never matches" when no representative (so no
request) satisfies it; it "never decides" when every representative it matches is
decided by another rule. Under deny-overrides an allow rule that never decides is still
alive when an allowed request carries its obligations, and is not reported.
"""

from __future__ import annotations

from dataclasses import dataclass

import re2

from .._files import InputFileError, read_text
from ..engine import Engine, members
from ..policy import (
    MAX_FILE_BYTES,
    Combine,
    Cond,
    Effect,
    ListRef,
    Named,
    Node,
    Policy,
    Rule,
    Test,
    YamlFailure,
    condition_parts,
    parse_yaml,
)
from ..request import is_under
from ._partition import Partition, policy_conditions
from ._search import DEFAULT_BUDGET

__all__ = ["LintWarning", "lint_policy"]


@dataclass(frozen=True, slots=True)
class LintWarning:
    """One finding, printed as ``path:line:col: code: message``."""

    path: str
    line: int
    col: int
    code: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.col}: {self.code}: {self.message}"


def _all_parts(policy: Policy) -> list[Test | Named]:
    conds: list[Cond | None] = [rule.when for rule in policy.rules]
    conds += [o.when for rule in policy.rules for o in rule.obligations]
    conds += [inv.when for inv in policy.invariants]
    return [part for cond in conds for part in condition_parts(cond)]


def _names(rule_ids: set[str], policy: Policy) -> str:
    ordered = [rule.id for rule in policy.rules if rule.id in rule_ids]
    return ", ".join(f"`{rule_id}`" for rule_id in ordered)


def _rule_warnings(policy: Policy, budget: int) -> list[LintWarning]:
    rules = policy.rules
    # obligation conditions split the classes too: whether a rule attaches one is exact
    conditions = policy_conditions(policy, obligations=True)
    partition = Partition([policy], [(0, cond) for cond in conditions])
    engine = Engine(policy)
    index = {rule.id: i for i, rule in enumerate(rules)}
    n = len(rules)
    matches = [False] * n
    decides = [False] * n
    deciders: list[set[str]] = [set() for _ in range(n)]
    attaching: set[str] = set()  # rules whose obligations some allowed request carries
    first_match = policy.combine is Combine.FIRST_MATCH
    count = 0
    for assignment in partition.leaves():
        count += 1
        if count > budget:
            first = rules[0] if rules else None
            return [
                LintWarning(
                    first.source if first else "<policy>",
                    first.line if first else 1,
                    first.col if first else 1,
                    "lint-incomplete",
                    f"more than {budget:,} classes of requests: rule checks skipped",
                )
            ]
        decision = engine.decide(partition.req(assignment))
        if decision.errors:
            continue  # an evaluation error denies; no rule matches or decides
        hits = [index[m.id] for m in decision.matched_rules]
        for i in hits:
            matches[i] = True
        for trial in decision.dryrun:  # a dry-run rule counts where it would have denied
            if trial.error is None:
                matches[index[trial.id]] = decides[index[trial.id]] = True
        if decision.allowed:
            attaching.update(obligation.rule for obligation in decision.obligations)
        if decision.determining_rule is None:
            continue
        decider = index[decision.determining_rule]
        decides[decider] = True
        for i in hits:
            if i != decider:
                deciders[i].add(rules[decider].id)
    found = []
    for i, rule in enumerate(rules):
        where = (rule.source, rule.line, rule.col)
        if not matches[i] and rule.dryrun:
            found.append(
                LintWarning(
                    *where,
                    "unreachable-rule",
                    f"dry-run rule `{rule.id}` would never deny: no request satisfies its "
                    "conditions, or (first-match) an earlier rule decides every one that does",
                )
            )
        elif not matches[i]:
            found.append(
                LintWarning(
                    *where,
                    "unreachable-rule",
                    f"rule `{rule.id}` can never match: no request satisfies its "
                    "conditions (they contradict each other, or always fail)",
                )
            )
        elif not decides[i] and first_match:
            found.append(
                LintWarning(
                    *where,
                    "shadowed-rule",
                    f"rule `{rule.id}` never decides: every request it matches is decided "
                    f"by an earlier rule ({_names(deciders[i], policy) or 'or fails'})",
                )
            )
        elif not decides[i] and rule.effect is Effect.ALLOW and rule.id not in attaching:
            found.append(LintWarning(*where, *_overridden(rule, deciders[i], policy)))
    return found


def _overridden(rule: Rule, deciders: set[str], policy: Policy) -> tuple[str, str]:
    """(code, message) for an allow rule that never decides under deny-overrides, and
    whose obligations (if any) no allowed request carries: every request it matches is
    denied by a deny rule, or decided by an earlier allow rule."""
    effects = {r.id: r.effect for r in policy.rules}
    denies = {d for d in deciders if effects[d] is Effect.DENY}
    allows = deciders - denies
    if not allows:
        return "overridden-allow", (
            f"allow rule `{rule.id}` never decides: every request it matches also matches "
            f"a deny rule ({_names(denies, policy) or 'or fails'}), and deny overrides"
        )
    obligations = " and attaches no obligations" if rule.obligations else ""
    earlier = f"decided by an earlier allow rule ({_names(allows, policy)})"
    if not denies:
        return "shadowed-rule", (
            f"rule `{rule.id}` never decides{obligations}: every request it matches is {earlier}"
        )
    return "overridden-allow", (
        f"allow rule `{rule.id}` never decides{obligations}: every request it matches is "
        f"denied by a deny rule ({_names(denies, policy)}), or {earlier}"
    )


def _positions(policy: Policy, section: str, sub: str | None) -> dict[str, tuple[str, int, int]]:
    """Where each key of a top-level section (or one of its sub-mappings) is defined."""
    found: dict[str, tuple[str, int, int]] = {}
    for source in policy.sources:
        try:
            root = parse_yaml(read_text(source, MAX_FILE_BYTES), source)
        except (InputFileError, YamlFailure):  # changed since it was loaded: no positions
            continue
        node: Node | None = root.value.get(section) if isinstance(root.value, dict) else None
        if node is not None and sub is not None:
            node = node.value.get(sub) if isinstance(node.value, dict) else None
        if node is None or not isinstance(node.value, dict):
            continue
        for name, key in node.keys.items():
            found.setdefault(name, (source, key.line, key.col))
    return found


def _fallback(policy: Policy) -> tuple[str, int, int]:
    return (policy.sources[0] if policy.sources else "<policy>", 1, 1)


def _unused(policy: Policy) -> list[LintWarning]:
    parts = _all_parts(policy)
    tests = [part for part in parts if isinstance(part, Test)]
    used_lists = {t.operand for t in tests if t.op == "in_list"}
    used_lists |= {t.operand.name for t in tests if isinstance(t.operand, ListRef)}
    places = _positions(policy, "lists", None)
    found = [
        LintWarning(
            *places.get(name, _fallback(policy)),
            "unused-list",
            f"list `{name}` is never used (no `in_list: {name}`, no `{{list: {name}}}`)",
        )
        for name in sorted(policy.lists)
        if name not in used_lists
    ]
    used_conditions = {part.name for part in parts if isinstance(part, Named)}
    for name, definition in sorted(policy.conditions.items()):
        if name not in used_conditions:
            found.append(
                LintWarning(
                    definition.source or _fallback(policy)[0],
                    definition.line or 1,
                    definition.col or 1,
                    "unused-condition",
                    f"condition `{name}` is never used by a rule, obligation or invariant "
                    f"(no `condition: {name}` reaches one)",
                )
            )
    purpose_tests = [t for t in tests if t.field == "purpose"]
    places = _positions(policy, "vocabulary", "purposes")
    for name in sorted(policy.purpose_additions):
        if not any(_mentions(test, name) for test in purpose_tests):
            found.append(
                LintWarning(
                    *places.get(name, _fallback(policy)),
                    "unused-purpose",
                    f"purpose `{name}` is added to the vocabulary but no condition names it "
                    "(requests with it reach only rules that ignore the purpose)",
                )
            )
    return found


def _mentions(test: Test, purpose: str) -> bool:
    if test.op in ("eq", "ne"):
        return bool(test.operand == purpose)
    if test.op in ("in", "not_in"):
        return purpose in members(test.operand)
    if test.op == "under":
        return any(is_under(purpose, prefix) for prefix in test.operand)
    if test.op == "matches":
        return re2.search(test.operand, purpose) is not None
    return False


def _ignored_settings(policy: Policy) -> list[LintWarning]:
    """An included file's own ``default`` or ``combine`` that differs from the set's: the
    set takes them from the files loaded directly, so the included file's is ignored."""
    found = []
    effective = {"default": policy.default.value, "combine": policy.combine.value}
    roots = set(policy.roots)
    for source in policy.sources:
        if source in roots:
            continue
        for key, value in effective.items():
            node = _top_level(source, key)
            if node is None or node.value == value:
                continue
            setters = [root for root in policy.roots if _top_level(root, key) is not None]
            whence = f"set by {', '.join(setters)}" if setters else "the built-in default"
            found.append(
                LintWarning(
                    source,
                    node.line,
                    node.col,
                    "ignored-setting",
                    f"`{key}: {node.value}` of this included file is ignored: the set "
                    f"uses `{key}: {value}` ({whence}; included files' settings never apply)",
                )
            )
    return found


def _top_level(source: str, key: str) -> Node | None:
    try:
        root = parse_yaml(read_text(source, MAX_FILE_BYTES), source)
    except (InputFileError, YamlFailure):  # changed since it was loaded: no position
        return None
    return root.value.get(key) if isinstance(root.value, dict) else None


def lint_policy(policy: Policy, *, budget: int = DEFAULT_BUDGET) -> list[LintWarning]:
    """Every lint finding for a loaded policy, sorted by position."""
    found = _rule_warnings(policy, budget) + _unused(policy) + _ignored_settings(policy)
    return sorted(found, key=lambda w: (w.path, w.line, w.col, w.code))
