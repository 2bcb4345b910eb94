"""Which records an inspector asks for: one filter for file logs and the database.

``RecordFilter.matches`` is the test (``usepolicy audit show`` applies it to the lines
of a log); ``RecordFilter.sql`` is the same test as conditions on the PostgreSQL
store's indexed columns, and ``query_db`` applies ``matches`` to each row it returns
as well, so both stores answer the same question the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..record import AnyRecord, DecisionRecord

__all__ = ["RecordFilter"]


@dataclass(frozen=True, slots=True)
class RecordFilter:
    """Records with this decision (``allow``/``deny``), decided or matched by ``rule``
    (or that ``rule``, a dry-run rule, would have denied),
    with ``since <= timestamp < until`` (aware times; naive ones are UTC), for this
    purpose and requesting organisation; of this ``kind`` (``decision`` or
    ``outcome``), with this ``outcome`` (``executed``, ``upstream-error``,
    ``refused``: outcome records only), and of this ``decision_id`` (a decision and
    the outcome records that follow it). None matches anything.

    An outcome record (what happened after a decision) has no decision, rule, purpose
    or organisation of its own: it matches only a filter that asks for none of them."""

    decision: str | None = None
    rule: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    purpose: str | None = None
    organization: str | None = None
    kind: str | None = None
    outcome: str | None = None
    decision_id: str | None = None

    def matches(self, record: AnyRecord) -> bool:
        from ..record import OutcomeRecord

        if self.decision_id is not None and record.decision_id != self.decision_id:
            return False
        if isinstance(record, OutcomeRecord):
            if (self.decision, self.rule, self.purpose, self.organization) != (None,) * 4:
                return False
            if self.kind not in (None, "outcome"):
                return False
            if self.outcome is not None and record.outcome != self.outcome:
                return False
            return self._in_window(record.timestamp)
        if self.kind not in (None, "decision") or self.outcome is not None:
            return False
        if self.decision is not None and record.decision != self.decision:
            return False
        if self.rule is not None and not self._decided_or_matched(record, self.rule):
            return False
        if not self._in_window(record.timestamp):
            return False
        if self.purpose is not None or self.organization is not None:
            request = record.request or {}
            if self.purpose is not None and request.get("purpose") != self.purpose:
                return False
            requester = request.get("requester")
            organization = requester.get("organization") if isinstance(requester, dict) else None
            if self.organization is not None and organization != self.organization:
                return False
        return True

    def _in_window(self, timestamp: str) -> bool:
        if self.since is None and self.until is None:
            return True
        moment = _moment(timestamp)
        if moment is None:
            return False
        if self.since is not None and moment < _aware(self.since):
            return False
        return self.until is None or moment < _aware(self.until)

    @staticmethod
    def _decided_or_matched(record: DecisionRecord, rule: str) -> bool:
        # a dry-run rule that would have denied counts as matched (it never decides)
        return (
            rule == record.determining_rule
            or any(m.id == rule for m in record.matched_rules)
            or any(d.id == rule for d in record.dryrun or ())
        )

    def sql(self) -> tuple[list[str], list[Any]]:
        """The test as conditions on ``usepolicy_decisions`` (ANDed), and their values."""
        conditions: list[str] = []
        params: list[Any] = []
        for column, value in (
            ("decision", self.decision),
            ("purpose", self.purpose),
            ("organization", self.organization),
        ):
            if value is not None:
                conditions.append(f"{column} = %s")
                params.append(value)
        if self.since is not None:
            conditions.append("ts >= %s")
            params.append(_aware(self.since))
        if self.until is not None:
            conditions.append("ts < %s")
            params.append(_aware(self.until))
        if self.kind is not None:  # the column says which kind a row is
            conditions.append(f"outcome IS {'NOT ' if self.kind == 'outcome' else ''}NULL")
        for column, value in (("outcome", self.outcome), ("decision_id", self.decision_id)):
            if value is not None:
                conditions.append(f"{column} = %s")
                params.append(value)
        if self.rule is not None:
            conditions.append(
                "(determining_rule = %s"
                " OR record::jsonb -> 'matched_rules' @> jsonb_build_array("
                "jsonb_build_object('id', %s::text))"
                " OR record::jsonb -> 'dryrun' @> jsonb_build_array("
                "jsonb_build_object('id', %s::text)))"
            )
            params += [self.rule, self.rule, self.rule]
        return conditions, params


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _moment(timestamp: str) -> datetime | None:
    try:
        return _aware(datetime.fromisoformat(timestamp))
    except ValueError:
        return None
