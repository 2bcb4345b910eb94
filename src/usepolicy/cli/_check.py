"""``usepolicy check REQUEST.json [...]``: evaluate requests, print the decisions."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING

from .._enums import LIMITS
from .._errors import AuditError, FieldError, PolicyError, RequestError
from .._files import InputFileError, read_bytes, read_stdin
from .._jsonpos import locate_errors
from ..engine import Decision, Engine, Explanation
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
    from .._enforcer import Enforcer
    from .._record import DecisionRecord
    from ..audit import Signer
    from ..backends.opa import OpaEngine
    from ..policy import Policy

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
    engine = Engine(policy)
    try:
        enforcer = _enforcer(args, engine)
    except (AuditError, OSError, ValueError) as exc:
        error(str(exc))
        return EXIT_ERROR
    decider: Engine | OpaEngine = engine
    if args.opa_url is not None:
        try:
            decider = _opa_engine(args, policy)
        except (ImportError, ValueError) as exc:
            error(str(exc))
            return EXIT_ERROR
    status = EXIT_ALLOWED
    for name in args.requests:
        source = "<stdin>" if name == "-" else name
        try:
            text = _read(name)
        except InputFileError as exc:
            if exc.code == "too-large":  # an invalid request, said as the validator says it
                error(field_error_line(source, FieldError("$", exc.code, f"request {exc.reason}")))
            else:
                error(f"{source}: cannot read: {exc.reason}")
            status = max(status, EXIT_INVALID) if status != EXIT_ERROR else status
            continue
        try:
            if args.explain:
                explanation = engine.explain(text)
                decision = explanation.decision
            else:
                explanation = None
                decision = decider.evaluate(text)
        except RequestError as exc:
            for err in locate_errors(text, exc.errors):
                error(field_error_line(source, err))
            if status != EXIT_ERROR:
                status = EXIT_INVALID
            if enforcer is not None and _unlogged(enforcer.check(text)):
                status = EXIT_ERROR
            continue
        record = None
        if enforcer is not None:
            record = enforcer.log(decision)
            if _unlogged(record):  # no durable record, no allow: never print the verdict
                if args.format == "json":
                    print(record.to_json())
                else:
                    print(f"{source}: DENY because the decision could not be logged")
                status = EXIT_ERROR
                continue
        if args.format == "json":
            _print_json(record or decision.record(), explanation)
        else:
            _print_human(source, decision, explanation)
            if record is not None:
                where = args.audit_log or args.audit_sink.display
                print(f"  logged: {where} (record {record.record_digest[:19]}…)")
        if not decision.allowed and status == EXIT_ALLOWED:
            status = EXIT_DENIED
    if enforcer is not None:
        enforcer.close()
    if args.audit_sink is not None:
        args.audit_sink.close()
    return status


def _opa_engine(args: argparse.Namespace, policy: Policy) -> OpaEngine:
    """The OPA-backed engine of ``--opa-url`` (records still go through ``--audit-log``)."""
    if args.explain:
        raise ValueError("--explain traces the native engine; it cannot trace --opa-url")
    from ..backends.opa import OpaEngine

    return OpaEngine(args.opa_url, policy, upload=args.opa_upload, timeout=args.opa_timeout)


def _enforcer(args: argparse.Namespace, engine: Engine) -> Enforcer | None:
    """The enforcer that logs decisions, when ``--audit-log`` is given.

    The log is opened here, so that a log that cannot be opened stops the command
    before any request is decided.
    """
    args.audit_sink = None
    if args.audit_db is None and (args.writer_id or args.spool):
        raise ValueError("--writer-id and --spool need --audit-db URL")
    if args.audit_log is not None and args.audit_db is not None:
        raise ValueError("give --audit-log FILE or --audit-db URL, not both")
    if args.audit_log is None and args.audit_db is None:
        if args.sign_key or args.redact:
            raise ValueError("--sign-key and --redact need --audit-log FILE or --audit-db URL")
        return None
    from .._enforcer import Enforcer
    from ..audit import AuditLog, Signer

    signer = None
    if args.sign_key is not None:
        try:
            signer = Signer.from_file(args.sign_key)
        except (OSError, ValueError, ImportError) as exc:
            why = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
            raise ValueError(f"{args.sign_key}: cannot load the signing key: {why}") from exc
    if args.audit_db is not None:
        return _db_enforcer(args, engine, signer)
    log = AuditLog(args.audit_log, signer=signer, redact=args.redact)
    return Enforcer(engine, audit_log=log)


def _db_enforcer(args: argparse.Namespace, engine: Engine, signer: Signer | None) -> Enforcer:
    """The enforcer of ``--audit-db``: without a spool, a database that cannot be reached
    stops the command before any request is decided (as a log that cannot be opened)."""
    import socket

    from .._enforcer import Enforcer
    from ..audit import PostgresSink

    writer = args.writer_id or f"cli@{socket.gethostname()}"
    try:
        sink = PostgresSink(args.audit_db, writer, spool=args.spool, signer=signer)
    except ImportError as exc:
        raise ValueError(str(exc)) from exc
    if not sink.online and args.spool is None:
        sink.close()
        raise AuditError(sink.last_error)
    args.audit_sink = sink
    return Enforcer(engine, audit_log=sink, redact=args.redact)


def _unlogged(record: DecisionRecord) -> bool:
    """Whether ``record`` is the deny returned because logging failed (then say why)."""
    failures = [e.message for e in record.errors if e.code == AuditError.code]
    for message in failures:
        error(f"{AuditError.code}: {message}")
    return bool(failures)


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
    policy = decision.policy
    print(f"  policy: {policy.name} {policy.version} ({policy.digest[:19]}…)")
    if explanation is not None:
        print("  rules:")
        for trace in explanation.rules:
            if trace.matched:
                print(f"    + {trace.id} ({trace.effect}) matched")
                for match in trace.list_matches:
                    print(f"        {match}")
            elif trace.error:
                print(f"    ! {trace.id} ({trace.effect}) error: {trace.error}")
            else:
                print(f"    - {trace.id} ({trace.effect}): {trace.failure}")
