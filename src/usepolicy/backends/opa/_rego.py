"""Export a policy as one Rego v1 module for Open Policy Agent (DESIGN.md §6).

The module answers, for ``input`` = a validated request with every default filled in,
exactly what the native engine answers: ``decision`` is ``{"decision",
"determining_rule", "matched_rules"}``; ``answer`` adds the obligations, the evaluation
error (if any) and the policy's name, version and digest. One Rego rule stands for each
policy rule, in policy order, with the rule's id, reason and reference as comments.
"""

from __future__ import annotations

from typing import Any, Final

from ..._version import __version__
from ...policy import Combine, Cond, Effect, Policy, Rule
from ._dryrun import NAMES as DRYRUN_NAMES
from ._dryrun import dryrun_section
from ._input import NAME_KEY_HELPERS, SCHEME, exported_lists, item_helpers, name_key_failures
from ._logic import (
    FALSE,
    Atom,
    Formula,
    Translator,
    conj,
    is_identifier,
    literal,
    type_needed,
    typed_tests,
)
from ._render import Renderer, block, comment, dump_json, rule, section, slug

__all__ = ["data_path", "package_path", "to_rego"]

#: names the module defines itself; helper rules never take them
_RESERVED: Final = frozenset(
    {
        "decision", "answer", "policy", "_outcome", "_rule_order", "_deny_rules",
        "_matched", "_matched_rules", "_matched_denies", "_allowing", "_obligations",
        "_obligation_table", "_obligations_due", "_failed_rules", "_failed_obligations",
        "_failures", "_errors", "_error_messages", "_lists", "_under",
        "_contains_any", "_contains_all", "_all_in", "_not_number", "_not_string",
        "_not_list", "_has_name_key", "_listed", "_item_listed", "_items_any",
        "_items_all", "_items_none", "_items_cover",
    }
) | DRYRUN_NAMES  # fmt: skip


def package_path(policy: Policy | str) -> tuple[str, str]:
    """The package of a policy (or policy name) as path segments: ``("usepolicy", name
    with - turned into _)``."""
    name = policy if isinstance(policy, str) else policy.name
    return ("usepolicy", name.replace("-", "_"))


def data_path(policy: Policy) -> str:
    """The package as a data path (``usepolicy/NAME``), for URLs and bundle roots."""
    return "/".join(package_path(policy))


def _package_ref(policy: Policy) -> str:
    root, name = package_path(policy)
    # a name may start with a digit or be a keyword: then it needs brackets
    return f"{root}.{name}" if is_identifier(name) else f"{root}[{literal(name)}]"


class _Module:
    def __init__(self, policy: Policy, lists_from_data: bool) -> None:
        self.policy = policy
        self.lists_from_data = lists_from_data
        self.t = Translator("_lists", policy.lists)
        self.taken: set[str] = set(_RESERVED)
        self.slugs: set[str] = set()
        self.first_match = policy.combine is Combine.FIRST_MATCH
        self.obligation_keys: list[tuple[str, str]] = []  # (key, message) in order
        self.failing_rules: list[tuple[str, str]] = []  # (rule id, message)
        self.dryrun = any(r.dryrun for r in policy.rules)
        self.failing_dryrun: list[tuple[str, str]] = []  # (rule id, message)

    # -- sections ---------------------------------------------------------------------
    def text(self) -> str:
        rules = [self.rule(item) for item in self.policy.rules]
        obligations = self.obligations()
        parts = [
            self.header(),
            self.answer(),
            self.combining(),
            section("rules, in policy order"),
            *rules,
            *obligations,
            *self.errors(),
            *(dryrun_section(self.first_match, self.failing_dryrun) if self.dryrun else ()),
            *self.helpers(),
            *self.lists(),
            self.about(),
        ]
        return "\n\n".join(part for part in parts if part) + "\n"

    def header(self) -> str:
        p = self.policy
        lines = [
            f"# Policy `{p.name}` version `{p.version}`, exported by usepolicy {__version__}.",
            f"# Digest {p.digest}.",
            "# Do not edit: regenerate with `usepolicy export rego`.",
        ]
        if p.description:
            lines += ["#", *comment(p.description)]
        lines += [
            "#",
            "# input:    a request validated by usepolicy, every default filled in; absent",
            "#           optional fields are null, absent attributes are missing keys.",
            '# decision: {"decision", "determining_rule", "matched_rules"}, the same answer',
            "#           as the native engine.",
            "# answer:   the decision plus obligations, errors and the policy digest.",
        ]
        if self.t.name_fields:  # the rules are translated before the header is written
            lines += [
                "# input.name_keys: the name keys of the fields tested with `in_list`,",
                "#           computed by usepolicy (OpaEngine, or opa_input in",
                "#           usepolicy.backends.opa): names match after a normalisation",
                "#           Rego cannot compute; without them every decision is a deny.",
            ]
        lines.append(f"package {_package_ref(p)}")
        return "\n".join(lines)

    def answer(self) -> str:
        keys = ("decision", "determining_rule", "matched_rules")
        decision = "".join(f'\t"{k}": _outcome.{k},\n' for k in keys)
        if self.dryrun:  # an additive key, only when there are dry-run rules
            decision += '\t"dryrun": _dryrun,\n'
        extra = "".join(f'\t"{k}": _outcome.{k},\n' for k in ("obligations", "errors"))
        p = self.policy
        # literals, not `policy.name`…: a client checks them on every answer
        about = dump_json({"name": p.name, "version": p.version, "digest": p.digest})
        return (
            f"decision := {{\n{decision}}}\n\n"
            f'answer := {{\n{decision}{extra}\t"policy": {about},\n}}'
        )

    def combining(self) -> str:
        p = self.policy
        default = p.default.value
        error = _outcome("deny", "null", "[]", errors="_errors")
        if self.first_match:
            how = [
                "# first-match: the first matching rule in policy order decides; if none,",
                f"# the default ({default}). Any evaluation error: deny, no rule.",
            ]
            branches = (
                f"_outcome := {error} if count(_errors) > 0\n"
                + "else := "
                + _outcome("deny", "_matched_rules[0]", "_matched_rules")
                + " if {\n\tcount(_matched_rules) > 0\n\t_matched_rules[0] in _deny_rules\n}\n"
                + "else := "
                + _outcome("allow", "_matched_rules[0]", "_matched_rules", "_obligations")
                + " if count(_matched_rules) > 0\n"
            )
            allowing = (
                "_allowing := [_matched_rules[0]] if {\n\tcount(_matched_rules) > 0\n"
                "\tnot _matched_rules[0] in _deny_rules\n} else := []"
            )
        else:
            how = [
                "# deny-overrides: the first matching deny rule decides; else the first",
                f"# matching allow rule; else the default ({default}). Any evaluation error:",
                "# deny, no rule.",
            ]
            branches = (
                f"_outcome := {error} if count(_errors) > 0\n"
                + "else := "
                + _outcome("deny", "_matched_denies[0]", "_matched_rules")
                + " if count(_matched_denies) > 0\n"
                + "else := "
                + _outcome("allow", "_matched_rules[0]", "_matched_rules", "_obligations")
                + " if count(_matched_rules) > 0\n"
            )
            allowing = "_allowing := _matched_rules if count(_matched_denies) == 0 else := []"
        branches += "else := " + _outcome(default, "null", "[]")
        order = block([r.id for r in p.rules], "[]")
        denies = [r.id for r in p.rules if r.effect is Effect.DENY and not r.dryrun]
        return "\n".join(
            [
                section("combining"),
                "",
                *how,
                branches,
                "",
                "# the rule ids in policy order",
                f"_rule_order := {order}",
                "",
                f"_deny_rules := {block(denies, '{}')}" if denies else "_deny_rules := set()",
                "",
                "_matched_rules := [id | some id in _rule_order; id in _matched]",
                "",
                "_matched_denies := [id | some id in _matched_rules; id in _deny_rules]",
                "",
                "# the allow rules whose obligations apply",
                allowing,
            ]
        )

    def rule(self, item: Rule) -> str:
        renderer = Renderer(slug(item.id, self.slugs, _RESERVED), self.taken)
        kind = f"{item.effect.value}, dry run" if item.dryrun else item.effect.value
        lines = [*comment(item.reason, f"{item.id} ({kind}): ")]
        if item.reference:
            lines += comment(item.reference, "reference: ")
        matches, fails = "_matched", "_failed_rules"
        if item.dryrun:  # gathered apart: it never decides, its errors never deny
            matches, fails = "_dryrun_matched", "_dryrun_failed"
        head = f"{matches} contains {literal(item.id)}"
        body = [] if item.when is None else renderer.body(self.t.holds(item.when))
        lines.append(rule(head, body))
        parts = ["\n".join(lines), *renderer.helpers]
        failing = self.rule_fails(item)
        if failing != FALSE:
            found = self.failing_dryrun if item.dryrun else self.failing_rules
            found.append((item.id, _message(item.when, f"rule `{item.id}`")))
            shown = len(renderer.helpers)
            failed = rule(f"{fails} contains {literal(item.id)}", renderer.body(failing))
            parts += [f"# {item.id}: when its evaluation meets a type error\n{failed}"]
            parts += renderer.helpers[shown:]
        return "\n\n".join(parts)

    def rule_fails(self, item: Rule) -> Formula:
        if item.when is None:
            return FALSE
        # the engine indexes a rule only on its first test, so plain left-to-right
        # short-circuiting (purpose tests decided first) says which errors surface
        return self.t.fails(item.when, fold=True)

    def obligations(self) -> list[str]:
        specs = [(r, j, spec) for r in self.policy.rules for j, spec in enumerate(r.obligations)]
        if not specs:
            return [section("obligations"), "_obligations := []"]
        table, due = [], []
        for item, j, spec in specs:
            key = f"{item.id}#{j + 1}"
            entry = {"id": spec.id, "with": dict(spec.params), "rule": item.id}
            table.append(f'\t{{"key": {literal(key)}, "obligation": {dump_json(entry)}}}')
            head = f"_obligations_due contains {literal(key)}"
            label = f"# {spec.id}, of rule {item.id}"
            if spec.when is None:
                due.append(f"{label}\n{head}")
                continue
            prefix = slug(f"{item.id}_obligation{j + 1}", self.slugs, _RESERVED)
            renderer = Renderer(prefix, self.taken)
            due.append(f"{label}\n{rule(head, renderer.body(self.t.holds(spec.when)))}")
            due += renderer.helpers
            failing = self.t.fails(spec.when, fold=False)
            if failing != FALSE:
                errors = Renderer(renderer.prefix + "_error", self.taken)
                condition = conj(Atom(f"{literal(item.id)} in _allowing"), failing)
                due.append(
                    rule(f"_failed_obligations contains {literal(key)}", errors.body(condition))
                )
                due += errors.helpers
                where = f"obligation `{spec.id}` of rule `{item.id}`"
                self.obligation_keys.append((key, _message(spec.when, where)))
        return [
            section("obligations"),
            "# of the allow rules that apply, each obligation whose own condition holds",
            "_obligations := [o.obligation |\n\tsome o in _obligation_table\n"
            "\to.obligation.rule in _allowing\n\to.key in _obligations_due\n]",
            "_obligation_table := [\n" + ",\n".join(table) + "\n]",
            *due,
        ]

    def errors(self) -> list[str]:
        parts: list[str] = []
        messages: dict[str, str] = {}
        if self.t.name_fields:
            parts.append(name_key_failures(sorted(self.t.name_fields)))
        if self.lists_from_data and self.policy.lists:
            names = ", ".join(literal(n) for n in sorted(self.policy.lists))
            where = f"data.{_package_ref(self.policy)}.lists"
            parts.append(
                f'[sprintf("list `%s` is missing from {where}", [name]) |\n'
                f"\tsome name in [{names}]\n\tnot is_array(_lists[name])\n]"
            )
        if self.failing_rules:
            messages.update(self.failing_rules)
            parts.append("[_error_messages[id] | some id in _rule_order; id in _failed_rules]")
        if self.obligation_keys:
            messages.update(self.obligation_keys)
            keys = ", ".join(literal(k) for k, _ in self.obligation_keys)
            parts.append(
                f"[_error_messages[key] | some key in [{keys}]; key in _failed_obligations]"
            )
        out = [
            section("evaluation errors"),
            "# The native engine evaluates `all`/`any` items left to right and stops once the\n"
            "# answer is known, deciding purpose tests first; a type error met on the way (an\n"
            "# ordering test on an attribute that is not a number, `contains` on one that is\n"
            "# not a list, `under`/`matches` on one that is not a string) makes the decision\n"
            "# deny with no rule. The rules `_failed_*` find those errors; the first is reported.",
        ]
        if not parts:
            out.append(
                "# this policy has no test that can fail while it is evaluated\n_errors := []"
            )
            return out
        failures = parts[0]
        for part in parts[1:]:
            failures = f"array.concat(\n{failures},\n{part},\n)"
        out.append(f"_failures := {failures}")
        code = '{"code": "evaluation-error", "message": _failures[0]}'
        out.append(f"_errors := [{code}] if count(_failures) > 0\nelse := []")
        if messages:
            out.append(f"_error_messages := {dump_json(messages, indent=chr(9))}")
        return out

    def helpers(self) -> list[str]:
        used = self.t.used
        out = []
        if self.t.name_fields:
            out.append(NAME_KEY_HELPERS)
        if "under" in used:
            out.append(
                "# `under`: the name itself, or any name below it on a dot boundary\n"
                "_under(name, prefixes) if name in prefixes\n\n"
                "_under(name, prefixes) if {\n\tsome prefix in prefixes\n"
                '\tstartswith(name, concat("", [prefix, "."]))\n}'
            )
        if "contains_any" in used:
            out.append(
                "_contains_any(items, wanted) if {\n\tsome item in items\n\titem in wanted\n}"
            )
        if "contains_all" in used:
            out.append(
                "_contains_all(items, wanted) if {\n\tevery item in wanted {\n"
                "\t\titem in items\n\t}\n}"
            )
        if "all_in" in used:
            out.append(
                "# `all_in`: every item is one of the allowed (an empty list too)\n"
                "_all_in(items, allowed) if {\n\tevery item in items {\n"
                "\t\titem in allowed\n\t}\n}"
            )
        out.extend(item_helpers(used))
        for kind, test in (("number", "is_number"), ("string", "is_string"), ("list", "is_array")):
            if f"not_{kind}" in used:
                out.append(f"_not_{kind}(value) if not {test}(value)")
        return [section("helpers"), *out] if out else []

    def lists(self) -> list[str]:
        if not self.policy.lists:
            return []
        if self.lists_from_data:
            where = f"data.{_package_ref(self.policy)}.lists"
            return [
                section("lists"),
                f"# named lists, from the bundle's data.json\n_lists := {where}",
            ]
        entries = []
        for name, items in exported_lists(self.policy).items():
            values = ",\n".join(f"\t\t{literal(v)}" for v in items)
            body = f"{{\n{values}\n\t}}" if items else "set()"
            entries.append(f"\t{literal(name)}: {body}")
        return [
            section("lists"),
            "# named lists, as the name keys of their items (docs/policy-language.md): for",
            "# comparing, not reading (a skeleton maps look-alikes to one form, `m` to `rn`)",
            "_lists := {\n" + ",\n".join(entries) + "\n}",
        ]

    def about(self) -> str:
        p = self.policy
        about: dict[str, Any] = {
            "name": p.name,
            "version": p.version,
            "digest": p.digest,
            "description": p.description,
            "default": p.default.value,
            "combine": p.combine.value,
            "purposes": dict(sorted(p.purpose_additions.items())),
            "rules": [
                {"id": r.id, "effect": r.effect.value, "reason": r.reason, "reference": r.reference}
                | ({"enforcement": r.enforcement.value} if r.dryrun else {})
                for r in p.rules
            ],
        }
        if self.t.name_fields:
            about["name_keys"] = {"scheme": SCHEME, "fields": sorted(self.t.name_fields)}
        return "\n".join(
            [
                section("about this policy"),
                "# for clients that hold no copy of the policy (usepolicy's OpaEngine)",
                f"policy := {dump_json(about, indent=chr(9))}",
            ]
        )


def _outcome(
    effect: str, determining: str, matched: str, obligations: str = "[]", errors: str = "[]"
) -> str:
    return (
        f'{{"decision": {literal(effect)}, "determining_rule": {determining}, '
        f'"matched_rules": {matched}, "obligations": {obligations}, "errors": {errors}}}'
    )


def _can_fail(item: Rule) -> bool:
    return bool(typed_tests(item.when)) or any(typed_tests(o.when) for o in item.obligations)


def _message(cond: Cond | None, where: str) -> str:
    tests = typed_tests(cond)
    if len(tests) == 1:
        t = tests[0]
        return (
            f"{t.field}: the value is not a {type_needed(t.op)}, so `{t.op}` cannot apply ({where})"
        )
    fields = ", ".join(sorted({f"`{t.field}`" for t in tests}))
    return f"{where}: one of {fields} has a value of the wrong type for its test"


def to_rego(policy: Policy, *, lists_from_data: bool = False) -> str:
    """The Rego v1 module for ``policy`` (``package usepolicy.<name>``).

    Args:
        policy: a loaded policy.
        lists_from_data: read the named lists from ``data.usepolicy.<name>.lists`` (as a
            bundle's ``data.json`` provides them) instead of writing them into the module.
            Missing lists then make every decision deny with an error, never allow.
    """
    return _Module(policy, lists_from_data).text()
