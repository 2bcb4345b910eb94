"""``usepolicy diff OLD NEW``: the requests whose decision changes between policies."""

from __future__ import annotations

import argparse
import json

from .._errors import PolicyError, plural
from ..policy import load_policy
from ..testing import DEFAULT_BUDGET, Change, DiffReport, diff_policies
from ._output import EXIT_ALLOWED, EXIT_ERROR, EXIT_INVALID, policy_error

__all__ = ["configure"]


def configure(parser: argparse.ArgumentParser) -> None:
    """Describe ``usepolicy diff`` and add its options (``cli.COMMANDS`` names it)."""
    parser.description = (
        "Compare two policies (each a file or folder) over every class of "
        "requests they distinguish and show, for each distinct change of decision, the "
        "simplest request that shows it and the rules that decided on each side. Exit 0 "
        "when they decide every request alike, 1 when they differ, 3 when a policy is "
        "invalid."
    )
    parser.add_argument("old", metavar="OLD", help="policy file or folder")
    parser.add_argument("new", metavar="NEW", help="policy file or folder")
    parser.add_argument(
        "--rules",
        action="store_true",
        help="also show requests with the same decision but another determining rule",
    )
    parser.add_argument("--format", choices=("human", "json"), default="human")
    parser.add_argument(
        "--budget",
        type=int,
        default=DEFAULT_BUDGET,
        metavar="N",
        help=f"classes compared one by one before a random search (default {DEFAULT_BUDGET:,})",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        old = load_policy(args.old)
        new = load_policy(args.new)
        report = diff_policies(old, new, rules=args.rules, budget=args.budget)
    except PolicyError as exc:  # either policy invalid, or the two conflict
        policy_error(exc)
        return EXIT_INVALID
    if args.format == "json":
        print(json.dumps([change.to_dict() for change in report.changes], ensure_ascii=False))
    else:
        _print_human(report)
    return EXIT_ALLOWED if report.equivalent else EXIT_ERROR


def _print_human(report: DiffReport) -> None:
    old, new, stats = report.old, report.new, report.stats
    decisive = [c for c in report.changes if not c.dryrun_only]
    what = plural(len(decisive), "change") + (
        " of decision or rule"
        if any(c.old.decision == c.new.decision for c in decisive)
        else " of decision"
    )
    how = (
        f"all {stats.classes:,} classes of requests compared"
        if stats.exhaustive
        else f"{stats.classes + stats.tried:,} requests compared (not exhaustive)"
    )
    head = f"{old.name} {old.version} -> {new.name} {new.version}"
    shadow = len(report.changes) - len(decisive)
    also = f"; {plural(shadow, 'dry-run difference')}" if shadow else ""
    if report.equivalent:
        print(f"{head}: no differences{also} ({how})")
    else:
        print(f"{head}: {what}{also} ({how})")
    for change in report.changes:
        print()
        if change.dryrun_only:
            _print_dryrun(change)
            continue
        if "invalid" in (change.old.decision, change.new.decision):
            side = "NEW" if change.old.decision == "invalid" else "OLD"
            print(f"{change.old.decision} -> {change.new.decision}: purposes only {side} knows")
        else:
            print(f"{change.old.decision} -> {change.new.describe()}")
            if change.new.reason:
                print(f"  reason: {change.new.reason}")
        for label, decision, rules in (
            ("old", change.old.decision, change.old_rules),
            ("new", change.new.decision, change.new_rules),
        ):
            if len(rules) > 1:
                names = ", ".join(rule or "(default)" for rule in rules)
                print(f"  {label}:    {decision} by rules {names}")
        print(f"  e.g.    {json.dumps(change.request, ensure_ascii=False)}")
        print(f"          old: {change.old.describe()}; new: {change.new.describe()}")
        print(f"  ({plural(change.classes, 'class')} of requests change this way)")
    for note in stats.notes:
        print(f"warning: {note}")


def _print_dryrun(change: Change) -> None:
    """A change only in what dry-run rules would have denied: the decision stands."""
    old, new = change.old.dryrun, change.new.dryrun
    print(f"dry run: {change.new.decision} stands; enforcing would change it")
    for label, rules in (("old", old), ("new", new)):
        print(f"  {label} dry run would deny by: {', '.join(rules) if rules else '(none)'}")
    print(f"  e.g.    {json.dumps(change.request, ensure_ascii=False)}")
    print(f"  ({plural(change.classes, 'class')} of requests)")
