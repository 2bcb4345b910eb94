"""``RecordFilter``: the one test of which records ``audit show`` lists, for file logs
and (as SQL on the indexed columns, and again on each row) for the database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from usepolicy import DecisionRecord, Engine, loads_policy
from usepolicy.audit import RecordFilter

from .conftest import ALLOWED, DENIED

T0 = datetime(2026, 11, 22, 18, 0, tzinfo=UTC)


def records(engine: Engine) -> list[DecisionRecord]:
    """Allowed and denied records an hour apart; the denials match two rules."""
    made = []
    for i in range(6):
        request: dict[str, Any] = DENIED if i % 2 else ALLOWED
        made.append(engine.evaluate(request).record(now=T0 + timedelta(hours=i)))
    return made


@pytest.mark.parametrize(
    ("chosen", "expected"),
    [
        (RecordFilter(), [0, 1, 2, 3, 4, 5]),
        (RecordFilter(decision="deny"), [1, 3, 5]),
        # decided the allowed ones, and matched (overridden) in the denied ones
        (RecordFilter(rule="intelligence"), [0, 1, 2, 3, 4, 5]),
        (RecordFilter(rule="no-mass-domestic-surveillance"), [1, 3, 5]),
        (RecordFilter(rule="no-such-rule"), []),
        (RecordFilter(since=T0 + timedelta(hours=2)), [2, 3, 4, 5]),
        (RecordFilter(until=T0 + timedelta(hours=2)), [0, 1]),
        # a time without a zone is UTC, as on the command line
        (RecordFilter(since=datetime(2026, 11, 22, 21, 0)), [3, 4, 5]),
        (RecordFilter(purpose="intelligence.analysis"), [1, 3, 5]),
        (RecordFilter(organization="Army Intelligence Center"), [0, 2, 4]),
        (
            RecordFilter(
                decision="allow", since=T0 + timedelta(hours=1), until=T0 + timedelta(hours=4)
            ),
            [2],
        ),
    ],
    ids=repr,
)
def test_matches(engine: Engine, chosen: RecordFilter, expected: list[int]) -> None:
    made = records(engine)
    assert [i for i, record in enumerate(made) if chosen.matches(record)] == expected


def test_kind_outcome_and_decision_id_pick_decisions_and_their_outcomes(engine: Engine) -> None:
    from usepolicy.record import OutcomeRecord, outcome_draft, seal

    decisions = records(engine)[:2]
    outcomes = [
        OutcomeRecord.from_body(seal(outcome_draft(d.decision_id, name, now=T0).body, None).body)
        for d, name in zip(decisions, ("executed", "refused"), strict=True)
    ]
    made = [decisions[0], outcomes[0], decisions[1], outcomes[1]]

    def picked(chosen: RecordFilter) -> list[int]:
        return [i for i, record in enumerate(made) if chosen.matches(record)]

    assert picked(RecordFilter(kind="decision")) == [0, 2]
    assert picked(RecordFilter(kind="outcome")) == [1, 3]
    assert picked(RecordFilter(outcome="refused")) == [3]
    assert picked(RecordFilter(kind="decision", outcome="refused")) == []
    assert picked(RecordFilter(decision_id=decisions[1].decision_id)) == [2, 3]
    assert picked(RecordFilter(decision="allow", decision_id=decisions[0].decision_id)) == [0]
    conditions, params = RecordFilter(kind="outcome", outcome="refused", decision_id="d-1").sql()
    assert conditions == ["outcome IS NOT NULL", "outcome = %s", "decision_id = %s"]
    assert params == ["refused", "d-1"]
    assert RecordFilter(kind="decision").sql() == (["outcome IS NULL"], [])


def test_sql_is_the_same_test_on_the_indexed_columns() -> None:
    since = datetime(2026, 1, 1)
    conditions, params = RecordFilter(
        decision="deny", rule="r", since=since, purpose="p", organization="o"
    ).sql()
    assert conditions[:4] == ["decision = %s", "purpose = %s", "organization = %s", "ts >= %s"]
    assert "determining_rule = %s" in conditions[4] and "matched_rules" in conditions[4]
    assert "dryrun" in conditions[4]  # a dry-run rule that would have denied matches too
    assert params == ["deny", "p", "o", since.replace(tzinfo=UTC), "r", "r", "r"]
    assert RecordFilter().sql() == ([], [])


SHADOW = """\
usepolicy: 1
name: shadow
version: "1"
default: deny
combine: deny-overrides
rules:
  - {id: trial, effect: deny, reason: r, enforcement: dryrun, when: {data.subjects: domestic}}
  - {id: general, effect: allow, reason: r}
"""


def shadow_records() -> list[DecisionRecord]:
    """Two allowed records; the second one a dry-run rule would have denied."""
    engine = Engine(loads_policy(SHADOW))
    base = {"requester": {"organization": "X"}, "purpose": "general.assistant"}
    return [
        engine.evaluate({**base, "data": {"subjects": subjects}}).record(now=T0)
        for subjects in ("none", "domestic")
    ]


def test_a_dryrun_rule_matches_the_records_it_would_have_denied() -> None:
    made = shadow_records()
    assert [RecordFilter(rule="trial").matches(r) for r in made] == [False, True]
    assert [RecordFilter(rule="general").matches(r) for r in made] == [True, True]
