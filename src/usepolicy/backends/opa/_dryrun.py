"""Shadow mode in the Rego export: the dry-run rules (``enforcement: dryrun``).

A dry-run rule adds to ``_dryrun_matched`` (and, when its evaluation meets a type
error, to ``_dryrun_failed``), never to ``_matched`` or ``_failed_rules``: it never
decides and its errors never deny. ``dryrun`` lists, in policy order, the dry-run rules
that would have denied, as the native engine's ``Decision.dryrun`` does: under
deny-overrides each that matched, under first-match those before the rule that decided;
one that failed with its error; none when the decision itself is an error. Policies
without dry-run rules export exactly as before.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from ._render import dump_json, section

__all__ = ["NAMES", "dryrun_section"]

#: names the section defines
NAMES: Final = frozenset(
    {
        "_dryrun", "_dryrun_matched", "_dryrun_failed", "_dryrun_listed", "_dryrun_entry",
        "_dryrun_messages", "_dryrun_reached", "_decider_index",
    }
)  # fmt: skip


def dryrun_section(first_match: bool, failing: Sequence[tuple[str, str]]) -> list[str]:
    """The section that gathers ``dryrun``.

    Args:
        first_match: the policy's combining is first-match.
        failing: (rule id, message) of each dry-run rule whose evaluation can fail.
    """
    out = [
        section("dry-run rules (enforcement: dryrun): they never decide"),
        "# the dry-run rules that would have denied, in policy order; none on an error",
        "_dryrun := [] if count(_errors) > 0\n"
        "else := [entry |\n\tsome i\n\tid := _rule_order[i]\n\t_dryrun_listed(i, id)\n"
        "\tentry := _dryrun_entry(id)\n]",
        "# a failing one would have denied (an error denies), wherever it stands",
        "_dryrun_listed(_, id) if id in _dryrun_failed",
        "_dryrun_listed(i, id) if {\n\tid in _dryrun_matched\n\tnot id in _dryrun_failed\n"
        "\t_dryrun_reached(i)\n}",
    ]
    if first_match:
        out += [
            "# first-match: a dry-run rule would have decided only before the rule that did",
            "_dryrun_reached(_) if count(_matched_rules) == 0",
            "_dryrun_reached(i) if i < _decider_index",
            "_decider_index := [j | some j; _rule_order[j] == _matched_rules[0]][0]",
        ]
    else:
        out += ["# deny-overrides: a matching deny rule would have decided", "_dryrun_reached(_)"]
    if failing:
        messages = dump_json(dict(failing), indent=chr(9))
        out += [
            '_dryrun_entry(id) := {"id": id, "error": {"code": "evaluation-error", '
            '"message": _dryrun_messages[id]}} if id in _dryrun_failed\n'
            'else := {"id": id}',
            f"_dryrun_messages := {messages}",
        ]
    else:
        out += ['_dryrun_entry(id) := {"id": id}', "_dryrun_failed := set()"]
    return out
