"""What an audit log holds, in figures: ``usepolicy audit stats`` and the audit report.

``collect_stats`` reads a log (file or PostgreSQL store) once: the verifier streams the
records past and ``AuditStats`` counts each as it goes, so the integrity verdict and the
figures come from the same single pass, in memory bounded by the caps below whatever the
size of the log (see ``_tally``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from ..record import AnyRecord, DecisionRecord, OutcomeRecord
from ._dburl import is_db_url
from ._logset import verify_files
from ._logtree import CheckpointVerdict
from ._rotate import log_files
from ._tally import KINDS, Entry, Tally, Timeline, clip
from ._verify import PublicKey, VerifyResult

if TYPE_CHECKING:
    from .postgres import DbVerifyResult

__all__ = ["AuditStats", "AuditSummary", "collect_stats", "purpose_tree"]

ALLOW, DENY, INVALID = range(3)
#: a field error as an invalid-request record states it: ``[line:col: ]path: code: message``
_FIELD_ERROR: Final = re.compile(r"^(?:\d+:\d+: )?.*?: (?P<code>[a-z][a-z0-9]*(?:-[a-z0-9]+)*): ")
DEFAULT_RULE: Final = "(default)"
NOT_RECORDED: Final = "(not recorded)"


def kind_of(record: DecisionRecord) -> int:
    """ALLOW, DENY, or INVALID (a request that never validated: a deny without a request)."""
    if record.request is None or any(e.code == "invalid-request" for e in record.errors):
        return INVALID
    return ALLOW if record.decision == "allow" else DENY


def _moment(timestamp: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(timestamp)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _request_field(record: DecisionRecord, *path: str) -> str:
    value: Any = record.request
    for name in path:
        if not isinstance(value, dict) or name not in value:
            return NOT_RECORDED
        value = value[name]
    return clip(value)


def _error_code(code: str, message: str) -> str:
    if code != "invalid-request":
        return clip(code)
    match = _FIELD_ERROR.match(message)
    return clip(match["code"]) if match else code


class AuditStats:
    """Counts over decision records, fed one record at a time (``add``).

    Args:
        since, until: count only records with ``since <= timestamp < until``.
        max_rows: keep every record's row for the report's table while the log has at
            most this many records (in the window); past that, only the groups.
        max_keys: the most distinct keys any one count keeps (organisations, rules,
            purposes, ...); the rest are counted together as ``other``.
    """

    def __init__(
        self,
        since: datetime | None = None,
        until: datetime | None = None,
        *,
        max_rows: int = 5000,
        max_keys: int = 1000,
    ) -> None:
        self.since, self.until = since, until
        self.max_rows = max_rows
        self.read = 0  # records seen, in the window or not
        self.counted = 0
        self.kinds = [0, 0, 0]
        self.signed = 0
        self.bad_times = 0
        self.first: datetime | None = None
        self.last: datetime | None = None
        self.first_where = self.last_where = ""
        self.timeline = Timeline()
        self.rules = Tally(max_keys)
        self.organizations = Tally(max_keys)
        self.purposes = Tally(max_keys)
        self.obligations = Tally(max_keys)
        self.errors = Tally(max_keys)
        self.denies = Tally(max_keys)
        self.policies = Tally(max_keys)
        self.writers = Tally(max_keys)
        self.groups = Tally(max_rows)
        self.rows: list[tuple[str, ...]] | None = []  # None once past max_rows
        #: outcome records (what happened after a decision), by outcome
        self.outcomes: dict[str, int] = {}
        #: outcome records with an upstream status, by status
        self.statuses = Tally(max_keys)
        #: the errors outcome records carry (``client-gone``, ``upstream-status``...), by code
        self.outcome_errors = Tally(max_keys)

    def add(self, where: str, record: AnyRecord, writer: str | None = None) -> None:
        """Count one record; ``where`` says where it is (a line, or ``writer:seq``).

        An outcome record is counted among ``outcomes`` only: the decisions, rules and
        requests are the decision records'.
        """
        self.read += 1
        moment = _moment(record.timestamp)
        if self.since is not None or self.until is not None:
            if moment is None:
                return
            if (self.since is not None and moment < self.since) or (
                self.until is not None and moment >= self.until
            ):
                return
        if isinstance(record, OutcomeRecord):
            self.outcomes[record.outcome] = self.outcomes.get(record.outcome, 0) + 1
            kind = DENY if record.outcome != "executed" else ALLOW
            if record.status is not None:
                self.statuses.add(str(record.status), kind, where)
            for error in record.errors:
                self.outcome_errors.add(error.code, kind, where)
            return
        self.counted += 1
        kind = kind_of(record)
        self.kinds[kind] += 1
        self.signed += record.signature is not None
        if moment is None:
            self.bad_times += 1
        else:
            self.timeline.add(moment, kind)
            if self.first is None or moment < self.first:
                self.first, self.first_where = moment, where
            if self.last is None or moment >= self.last:
                self.last, self.last_where = moment, where
        rule = clip(record.determining_rule) if record.determining_rule else DEFAULT_RULE
        if kind != INVALID and not (record.errors and record.determining_rule is None):
            self.rules.add(rule, kind, where)
        organization = _request_field(record, "requester", "organization")
        purpose = _request_field(record, "purpose")
        if kind != INVALID:
            self.organizations.add(organization, kind, where)
            self.purposes.add(purpose, kind, where)
        for obligation in record.obligations:
            self.obligations.add(clip(obligation.id), kind, where)
        for error in record.errors:
            self.errors.add(
                _error_code(error.code, error.message), kind, where, clip(error.message)
            )
        if kind != ALLOW:
            self._add_deny(record, kind, where)
        policy = record.policy
        self.policies.add((clip(policy.name), clip(policy.version), policy.digest), kind, where)
        if writer is not None:
            self.writers.add(clip(writer), kind, where)
        shown_rule = (
            rule
            if not record.errors
            else _error_code(record.errors[0].code, record.errors[0].message)
        )
        self.groups.add((KINDS[kind], shown_rule, organization, purpose), kind, where)
        if self.rows is not None:
            if len(self.rows) < self.max_rows:
                time = record.timestamp if moment is None else f"{moment:%Y-%m-%dT%H:%M:%SZ}"
                self.rows.append((where, time, KINDS[kind], shown_rule, organization, purpose))
            else:
                self.rows = None

    def _add_deny(self, record: DecisionRecord, kind: int, where: str) -> None:
        if record.errors:
            first = record.errors[0]
            why = "invalid request" if kind == INVALID else "an error during evaluation"
            key = (_error_code(first.code, first.message), f"{why}: denied", "")
            self.denies.add(key, kind, where, clip(first.message))
            return
        if record.determining_rule is None:
            self.denies.add(
                (DEFAULT_RULE, "no rule matched: the policy's default", ""), kind, where
            )
            return
        rule = next((m for m in record.matched_rules if m.id == record.determining_rule), None)
        reason = clip(rule.reason) if rule else ""
        reference = clip(rule.reference) if rule and rule.reference else ""
        self.denies.add((clip(record.determining_rule), reason, reference), kind, where)

    def to_dict(self) -> dict[str, Any]:
        """The figures as JSON-ready builtins (what ``audit stats --format json`` prints)."""

        def listed(tally: Tally, *names: str) -> dict[str, Any]:
            entries = []
            for key, entry in tally.top():
                values = key if isinstance(key, tuple) else (key,)
                entries.append({**dict(zip(names, values, strict=True)), **entry.to_dict()})
            body: dict[str, Any] = {"entries": entries}
            if tally.other.total:
                body["other"] = tally.other.to_dict()
            return body

        width, buckets = self.timeline.rows()
        return {
            "read": self.read,
            "counted": self.counted,
            "window": {"since": _iso(self.since), "until": _iso(self.until)},
            "first": _iso(self.first),
            "last": _iso(self.last),
            "decisions": dict(zip(KINDS, self.kinds, strict=True)),
            "signed": self.signed,
            "bad_timestamps": self.bad_times,
            "over_time": {
                "bucket_seconds": width,
                "buckets": [
                    {"start": _iso(start), **dict(zip(KINDS, counts, strict=True))}
                    for start, counts in buckets
                ],
            },
            "rules": listed(self.rules, "rule"),
            "organizations": listed(self.organizations, "organization"),
            "purposes": listed(self.purposes, "purpose"),
            "obligations": listed(self.obligations, "obligation"),
            "errors": listed(self.errors, "code"),
            "denies": listed(self.denies, "rule", "reason", "reference"),
            "policies": listed(self.policies, "name", "version", "digest"),
            "writers": listed(self.writers, "writer"),
            "outcomes": dict(sorted(self.outcomes.items())),
            "outcome_statuses": listed(self.statuses, "status"),
            "outcome_errors": listed(self.outcome_errors, "code"),
            # records carry no latency (DESIGN.md §3): nothing to count
            "latency": None,
        }


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def purpose_tree(tally: Tally) -> list[tuple[str, int, Entry]]:
    """(name, depth, counts) for every purpose and every prefix above it, in tree order:
    ``intelligence`` (the sum of its children), then ``intelligence.analysis``, ..."""
    nodes: dict[str, Entry] = {}
    for purpose, entry in tally.entries.items():
        parts = purpose.split(".")
        for depth in range(1, len(parts) + 1):
            node = nodes.setdefault(".".join(parts[:depth]), Entry())
            for kind, count in enumerate(entry.counts):
                node.counts[kind] += count
    return [(name, name.count("."), nodes[name]) for name in sorted(nodes)]


@dataclass(frozen=True)
class AuditSummary:
    """A log's integrity verdict and its figures, from one pass over it.

    ``checkpoint`` is the verdict on the log against a signed checkpoint kept elsewhere
    (``verify_checkpoint``), when one was given: the only thing that shows records cut
    off the end of a log whose chain still holds.
    """

    source: str
    integrity: VerifyResult | DbVerifyResult
    stats: AuditStats
    checkpoint: CheckpointVerdict | None = None

    @property
    def ok(self) -> bool:
        return self.integrity.ok and (self.checkpoint is None or self.checkpoint.ok)

    def to_dict(self) -> dict[str, Any]:
        body = {
            "source": self.source,
            "ok": self.ok,
            "integrity": self.integrity.to_dict(),
            "stats": self.stats.to_dict(),
        }
        if self.checkpoint is not None:
            body["checkpoint"] = self.checkpoint.to_dict()
        return body


def collect_stats(
    source: str | os.PathLike[str],
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    public_key: PublicKey | Sequence[PublicKey] | None = None,
    max_rows: int = 5000,
    max_keys: int = 1000,
    checkpoint: CheckpointVerdict | None = None,
) -> AuditSummary:
    """Verify a log and count what it holds, in one streaming pass.

    Args:
        source: a log file (with its rotated files, ``LOG.<UTC time>``), a folder
            holding one rotated log, or a PostgreSQL audit store URL
            (``postgresql://...``).
        since, until: count only the records with ``since <= timestamp < until``; the
            whole log is verified all the same (the chain runs through every record).
        public_key: check every record's signature (as ``verify_log``).
        max_rows, max_keys: the bounds of ``AuditStats``.
        checkpoint: the verdict of ``verify_checkpoint`` (or ``verify_checkpoint_db``)
            on the same log, carried in the summary (its ``ok`` then needs both).

    Returns:
        The verdict and the figures. When the chain breaks, the figures count the
        records read before the break was found.

    Raises:
        AuditError: the log cannot be read.
        ValueError: a key file is not an Ed25519 public key.
    """
    stats = AuditStats(since, until, max_rows=max_rows, max_keys=max_keys)
    integrity: VerifyResult | DbVerifyResult
    if isinstance(source, str) and is_db_url(source):
        url = os.fspath(source)

        def visit_row(writer: str, seq: int, record: AnyRecord) -> None:
            stats.add(f"{writer}:{seq}", record, writer)

        from .postgres import verify_db

        integrity = verify_db(url, public_key=public_key, visit=visit_row)
        shown = integrity.url
    else:
        several = len(log_files(source)) > 1

        def visit_line(file: Path, line: int, record: AnyRecord) -> None:
            stats.add(f"{file.name}:{line}" if several else str(line), record)

        integrity = verify_files(source, public_key, None, None, visit_line)
        shown = os.fspath(source)
    return AuditSummary(shown, integrity, stats, checkpoint)
