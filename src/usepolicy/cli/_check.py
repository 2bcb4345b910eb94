"""``usepolicy check REQUEST.json [...]``: evaluate requests, print the decisions."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from typing import Any

from .._errors import FieldError, PolicyError, RequestError
from ..engine import Decision, Engine, Explanation
from ._locate import locate
from ._output import (
    EXIT_ALLOWED,
    EXIT_DENIED,
    EXIT_ERROR,
    EXIT_INVALID,
    error,
    field_error_line,
    policy_error,
)
from ._policy_args import add_policy_args, load_from_args

__all__ = ["add_parser"]


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "check",
        help="evaluate requests and print the decisions",
        description="Evaluate each request file (- for stdin) against the policy. "
        "Exit 0 all allowed, 2 any denied, 3 invalid request or policy, 1 usage or "
        "internal error.",
    )
    parser.add_argument("requests", nargs="+", metavar="REQUEST", help="request JSON file, or -")
    add_policy_args(parser)
    parser.add_argument("--format", choices=("human", "json"), default="human")
    parser.add_argument(
        "--explain", action="store_true", help="trace every rule: matched or the failing condition"
    )
    parser.set_defaults(run=run)


def _read(name: str) -> str | bytes:
    if name == "-":
        return sys.stdin.buffer.read()
    with open(name, "rb") as handle:
        return handle.read()


def _locate_errors(text: str | bytes, exc: RequestError) -> list[FieldError]:
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            return exc.errors
    located = []
    for err in exc.errors:
        if err.line is None:
            where = locate(text, err.path)
            if where is not None:
                err = replace(err, line=where[0], col=where[1])
        located.append(err)
    return located


def run(args: argparse.Namespace) -> int:
    try:
        policy = load_from_args(args)
    except PolicyError as exc:
        policy_error(exc)
        return EXIT_INVALID
    engine = Engine(policy)
    status = EXIT_ALLOWED
    for name in args.requests:
        source = "<stdin>" if name == "-" else name
        try:
            text = _read(name)
        except OSError as exc:
            error(f"{source}: cannot read: {exc.strerror or exc}")
            status = max(status, EXIT_INVALID) if status != EXIT_ERROR else status
            continue
        try:
            if args.explain:
                explanation = engine.explain(text)
                decision = explanation.decision
            else:
                explanation = None
                decision = engine.evaluate(text)
        except RequestError as exc:
            for err in _locate_errors(text, exc):
                error(field_error_line(source, err))
            if status != EXIT_ERROR:
                status = EXIT_INVALID
            continue
        if args.format == "json":
            _print_json(decision, explanation)
        else:
            _print_human(source, decision, explanation)
        if not decision.allowed and status == EXIT_ALLOWED:
            status = EXIT_DENIED
    return status


def _print_json(decision: Decision, explanation: Explanation | None) -> None:
    body = decision.record().to_dict()
    if explanation is not None:
        body["explain"] = explanation.to_dict()
    print(json.dumps(body, ensure_ascii=False))


def _print_human(source: str, decision: Decision, explanation: Explanation | None) -> None:
    verdict = "ALLOW" if decision.allowed else "DENY"
    if decision.errors:
        how = "because evaluation failed"
    elif decision.determining_rule is None:
        how = "by default (no rule matched)"
    else:
        how = f"by rule {decision.determining_rule}"
    print(f"{source}: {verdict} {how}")
    by_id = {m.id: m for m in decision.matched_rules}
    deciding = by_id.get(decision.determining_rule or "")
    if deciding is not None:
        print(f"  reason: {deciding.reason}")
        if deciding.reference:
            print(f"  reference: {deciding.reference}")
    others = [f"{m.id} ({m.effect.value})" for m in decision.matched_rules if m is not deciding]
    if others:
        print(f"  also matched: {', '.join(others)}")
    for obligation in decision.obligations:
        params = f" {json.dumps(dict(obligation.params))}" if obligation.params else ""
        print(f"  obligation: {obligation.id}{params}")
    for err in decision.errors:
        print(f"  error: {err.code}: {err.message}")
    policy = decision.policy
    print(f"  policy: {policy.name} {policy.version} ({policy.digest[:19]}…)")
    if explanation is not None:
        print("  rules:")
        for trace in explanation.rules:
            if trace.matched:
                print(f"    + {trace.id} ({trace.effect}) matched")
            elif trace.error:
                print(f"    ! {trace.id} ({trace.effect}) error: {trace.error}")
            else:
                print(f"    - {trace.id} ({trace.effect}): {trace.failure}")
    return None


_ = EXIT_ERROR
