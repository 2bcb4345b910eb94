"""``usepolicy check REQUEST.json [...]``: evaluate requests, print the decisions."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Final

from .._enforcer import Enforcement, Enforcer
from .._errors import AuditError, FieldProblem, PolicyError
from .._files import InputFileError, read_bytes, read_stdin
from ..engine import Decision, Engine, Explanation
from ..request import LIMITS
from ._log_args import add_rotation_args, check_rotation_args
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

if TYPE_CHECKING:  # imported where used: a plain check stays a cold-start fast path
    from ..audit import AuditLog, PostgresSink
    from ..backends.opa import OpaEngine
    from ..policy import Policy
    from ..record import DecisionRecord

__all__ = ["configure"]


def configure(parser: argparse.ArgumentParser) -> None:
    """Describe ``usepolicy check`` and add its options (``cli.COMMANDS`` names it)."""
    parser.description = (
        "Evaluate each request file (- for stdin) against the policy. "
        "Exit 0 all allowed, 2 any denied, 3 invalid request or policy, 1 usage or "
        "internal error."
    )
    parser.add_argument("requests", nargs="+", metavar="REQUEST", help="request JSON file, or -")
    add_policy_args(parser)
    parser.add_argument("--format", choices=("human", "json"), default="human")
    parser.add_argument(
        "--explain", action="store_true", help="trace every rule: matched or the failing condition"
    )
    parser.add_argument(
        "--audit-log",
        metavar="FILE",
        help="append each decision (an invalid request too, as a deny) to this hash-chained "
        "log, fsynced; a decision that cannot be logged is a deny and exit 1",
    )
    parser.add_argument(
        "--audit-db",
        metavar="URL",
        help="store each decision in the PostgreSQL audit store at URL (postgresql://...; "
        "`usepolicy audit init-db URL` first; needs usepolicy[postgres]), committed before "
        "the verdict; a decision that cannot be stored is a deny and exit 1",
    )
    parser.add_argument(
        "--writer-id",
        metavar="ID",
        help="with --audit-db: this writer's chain (default: cli@HOSTNAME)",
    )
    parser.add_argument(
        "--spool",
        metavar="FILE",
        help="with --audit-db: keep the deny records of decisions made while the database "
        "is down in FILE, replayed into the database when it is back",
    )
    add_rotation_args(parser)
    parser.add_argument(
        "--sign-key", metavar="KEYFILE", help="sign logged records (key from `usepolicy keygen`)"
    )
    parser.add_argument(
        "--redact",
        action="append",
        default=[],
        metavar="FIELD",
        help="log this request field only as its digest, e.g. description (repeatable)",
    )
    parser.add_argument(
        "--opa-url",
        metavar="URL",
        help="decide with the Open Policy Agent server at URL (e.g. http://localhost:8181) "
        "serving this policy; OPA failures are denies (needs usepolicy[opa])",
    )
    parser.add_argument(
        "--opa-timeout", type=float, default=2.0, metavar="SECONDS", help="per OPA call (2)"
    )
    parser.add_argument(
        "--opa-upload",
        action="store_true",
        help="upload the policy to OPA if it does not serve it yet (default: use what it serves)",
    )
    parser.set_defaults(run=run)


def _read(name: str) -> bytes:
    limit = LIMITS.max_request_bytes
    return read_stdin(limit) if name == "-" else read_bytes(name, limit)


def run(args: argparse.Namespace) -> int:
    try:
        policy = load_from_args(args)
    except PolicyError as exc:
        policy_error(exc)
        return EXIT_INVALID
    sink: AuditLog | PostgresSink | None = None
    try:
        sink = _sink(args)
        enforcer = Enforcer(_decider(args, policy), audit_log=sink, redact=args.redact)
    except (AuditError, OSError, ValueError, ImportError) as exc:
        if sink is not None:
            sink.close()
        error(str(exc))
        return EXIT_ERROR
    status = EXIT_ALLOWED
    try:
        for name in args.requests:
            source = "<stdin>" if name == "-" else name
            try:
                text = _read(name)
            except InputFileError as exc:
                if exc.code == "too-large":  # an invalid request, as the validator says it
                    too_large = FieldProblem("$", exc.code, f"request {exc.reason}")
                    error(field_error_line(source, too_large))
                else:
                    error(f"{source}: cannot read: {exc.reason}")
                status = _worse(status, EXIT_INVALID)
                continue
            result = enforcer.enforce(text, explain=args.explain)
            status = _worse(status, _render(args, source, text, result, sink))
    finally:
        enforcer.close()
        if sink is not None:
            sink.close()
    return status


#: how bad each exit status is: one for several requests is the worst of them
_RANK: Final = {EXIT_ALLOWED: 0, EXIT_DENIED: 1, EXIT_INVALID: 2, EXIT_ERROR: 3}


def _worse(status: int, other: int) -> int:
    return max(status, other, key=_RANK.__getitem__)


def _render(
    args: argparse.Namespace,
    source: str,
    text: str | bytes,
    result: Enforcement,
    sink: AuditLog | PostgresSink | None,
) -> int:
    """Print what happened to one request; its exit status."""
    status = EXIT_ALLOWED if result.allowed else EXIT_DENIED
    if result.request_error is not None:
        for err in result.request_error.errors:  # placed in the text by the request layer
            error(field_error_line(source, err))
        status = EXIT_INVALID
    elif result.decision is None:  # the decider failed: a logged deny, and exit 1
        for problem in result.record.errors:
            error(f"{source}: {problem.code}: {problem.message}")
        status = EXIT_ERROR
    if result.failure is not None:  # no durable record, no allow: never print the verdict
        error(f"{AuditError.code}: {result.failure}")
        if result.request_error is None:
            if args.format == "json":
                print(result.record.to_json())
            else:
                print(f"{source}: DENY because the decision could not be logged")
        return EXIT_ERROR
    if result.decision is None:
        return status
    if args.format == "json":
        _print_json(result.record, result.explanation)
    else:
        _print_human(source, result.decision, result.explanation)
        if result.stored:
            where = getattr(sink, "display", None) or args.audit_log  # a URL's password masked
            print(f"  logged: {where} (record {result.record.record_digest[:19]}…)")
    return status


def _decider(args: argparse.Namespace, policy: Policy) -> Engine | OpaEngine:
    """The native engine, or with ``--opa-url`` the OPA-backed one."""
    if args.opa_url is None:
        return Engine(policy)
    if args.explain:
        raise ValueError("--explain traces the native engine; it cannot trace --opa-url")
    from ..backends.opa import OpaEngine

    return OpaEngine(args.opa_url, policy, upload=args.opa_upload, timeout=args.opa_timeout)


def _sink(args: argparse.Namespace) -> AuditLog | PostgresSink | None:
    """The sink of ``--audit-log FILE`` or ``--audit-db URL``, opened here, so that one
    that cannot be opened (or a database that cannot be reached, without a spool) stops
    the command before any request is decided."""
    if args.audit_db is None and (args.writer_id or args.spool):
        raise ValueError("--writer-id and --spool need --audit-db URL")
    if args.audit_log is not None and args.audit_db is not None:
        raise ValueError("give --audit-log FILE or --audit-db URL, not both")
    target = args.audit_log if args.audit_log is not None else args.audit_db
    check_rotation_args(args)
    if target is None:
        if args.sign_key or args.redact:
            raise ValueError("--sign-key and --redact need --audit-log FILE or --audit-db URL")
        return None
    from ..audit import Signer, is_db_url, open_sink

    signer = None
    if args.sign_key is not None:
        try:
            signer = Signer.from_file(args.sign_key)
        except (OSError, ValueError, ImportError) as exc:
            why = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
            raise ValueError(f"{args.sign_key}: cannot load the signing key: {why}") from exc
    writer = None
    if is_db_url(target):
        import socket

        writer = args.writer_id or f"cli@{socket.gethostname()}"
    return open_sink(
        target, signer=signer, writer_id=writer, spool=args.spool,
        rotate_bytes=args.rotate_bytes, rotate_every=args.rotate_every,
    )  # fmt: skip


def _print_json(record: DecisionRecord, explanation: Explanation | None) -> None:
    body = record.to_dict()
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
    for trial in decision.dryrun:  # shadow mode: never decided, would have denied
        why = f"error: {trial.error.code}" if trial.error else trial.rule.reason
        print(f"  dry run would deny: {trial.id} ({why})")
    policy = decision.policy
    print(f"  policy: {policy.name} {policy.version} ({policy.digest[:19]}…)")
    if explanation is not None:
        print("  rules:")
        for trace in explanation.rules:
            for line in trace.lines():
                print(f"    {line}")
