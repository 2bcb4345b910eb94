"""collect_stats / AuditStats: the figures agree with a plain recount of the log, the
window and the bounds hold, and a tampered log is reported with what was read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from usepolicy.audit import AuditStats, collect_stats, read_records, verify_log
from usepolicy.audit._stats import kind_of, purpose_tree
from usepolicy.audit._tally import KINDS, MAX_KEY, ORIGIN, Tally, Timeline

from ..report.sample import START, STEP, records, write_sample


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_sample(tmp_path_factory.mktemp("stats") / "audit.jsonl")


def counted(tally: Tally) -> dict[object, list[int]]:
    return {key: entry.counts for key, entry in tally.top()}


def test_the_figures_agree_with_a_recount(sample: Path):
    summary = collect_stats(sample)
    assert summary.ok and summary.integrity.count == 276
    stats = summary.stats
    logged = [record for _, record in read_records(sample)]
    assert stats.read == stats.counted == 276
    assert stats.kinds == [sum(kind_of(r) == k for r in logged) for k in range(3)]
    assert stats.kinds == [115, 115, 46]  # 5, 5 and 2 of every 12 cases

    rules: dict[str, list[int]] = {}
    orgs: dict[str, list[int]] = {}
    for record in logged:
        kind = kind_of(record)
        if kind == 2:
            continue
        rules.setdefault(record.determining_rule or "(default)", [0, 0, 0])[kind] += 1
        orgs.setdefault(record.request["requester"]["organization"], [0, 0, 0])[kind] += 1
    assert counted(stats.rules) == rules
    assert counted(stats.organizations) == orgs
    assert counted(stats.obligations) == {"minimize-incidental-domestic-data": [23, 0, 0]}
    codes = {key: sum(counts) for key, counts in counted(stats.errors).items()}
    assert codes == {"missing-field": 23, "unknown-purpose": 23, "unknown-field": 23}
    assert sum(stats.signed for _ in [0]) == 0
    assert stats.first == START and stats.last == START + 275 * STEP
    assert (stats.first_where, stats.last_where) == ("1", "276")


def test_denies_name_their_rule_reason_and_reference(sample: Path):
    denies = collect_stats(sample).stats.denies
    by_rule = {key[0]: (key, entry) for key, entry in denies.top()}
    key, entry = by_rule["no-mass-domestic-surveillance"]
    assert key[1].startswith("AI analysis of bulk or bought data") and key[2]
    assert (entry.counts, entry.first, entry.last) == ([0, 23, 0], "2", "266")
    assert by_rule["(default)"][1].counts == [0, 23, 0]
    assert by_rule["missing-field"][1].counts == [0, 0, 23]  # an invalid request's first error
    assert by_rule["missing-field"][1].example.startswith("requester: missing-field")
    assert sum(entry.total for _, entry in denies.top()) == 115 + 46


def test_the_purpose_tree_sums_its_branches(sample: Path):
    tree = {name: (depth, entry.counts) for name, depth, entry in
            purpose_tree(collect_stats(sample).stats.purposes)}  # fmt: skip
    assert tree["law_enforcement"] == (0, [23, 23, 0])
    assert tree["law_enforcement.investigation"] == (1, [23, 23, 0])
    assert tree["cyber"][1] == [23, 23, 0]
    assert tree["intelligence"][1] == [
        a + b for a, b in zip(tree["intelligence.foreign"][1], tree["intelligence.analysis"][1])
    ]
    assert list(tree) == sorted(tree)


def test_a_window_counts_only_its_records_but_verifies_all(sample: Path):
    since, until = START + 10 * STEP, START + 22 * STEP
    summary = collect_stats(sample, since=since, until=until)
    assert summary.ok and summary.integrity.count == 276
    assert (summary.stats.read, summary.stats.counted) == (276, 12)
    assert summary.stats.first == since and summary.stats.last == until - STEP
    assert [row[0] for row in summary.stats.rows] == [str(n) for n in range(11, 23)]


def test_a_tampered_log_reports_the_break_and_counts_what_came_before(sample: Path, tmp_path: Path):
    lines = sample.read_bytes().splitlines(keepends=True)
    lines[100] = lines[100].replace(b'"decision":"deny"', b'"decision":"allow"')
    bad = tmp_path / "audit.jsonl"
    bad.write_bytes(b"".join(lines))
    summary = collect_stats(bad)
    assert not summary.ok
    assert (summary.integrity.line, summary.integrity.problem) == (101, "edited")
    assert summary.stats.read == 100 == verify_log(bad).count
    assert summary.to_dict()["integrity"]["problem"] == "edited"


def test_every_record_has_a_row_up_to_max_rows_then_groups_cover_them(sample: Path):
    small = collect_stats(sample, max_rows=276).stats
    assert small.rows is not None and len(small.rows) == 276
    assert small.rows[9] == ("10", "2026-03-02T15:03:00Z", "invalid", "missing-field",
                             "(not recorded)", "(not recorded)")  # fmt: skip
    large = collect_stats(sample, max_rows=275).stats
    assert large.rows is None
    groups = large.groups.top()
    assert sum(entry.total for _, entry in groups) == 276 and not large.groups.other.total
    assert ("allow", "intelligence", "Army Intelligence Center", "intelligence.foreign") in dict(
        groups
    )


def test_counts_keep_at_most_max_keys_and_the_rest_add_up(sample: Path):
    stats = collect_stats(sample, max_keys=2).stats
    assert len(stats.organizations) == 2
    named = sum(entry.total for _, entry in stats.organizations.top())
    assert named + stats.organizations.other.total == 115 + 115
    exact = collect_stats(sample).stats.organizations
    for key, entry in stats.organizations.top():  # what is named is exact
        assert entry.counts == dict(exact.top())[key].counts
    assert stats.to_dict()["organizations"]["other"]["total"] == stats.organizations.other.total


def test_long_values_are_clipped(tmp_path: Path):
    stats = AuditStats()
    record = records(1)[0]
    request = {**record.request, "requester": {"organization": "x" * 100_000}}
    stats.add("1", record.model_copy(update={"request": request}))
    [org] = stats.organizations
    assert len(org) == MAX_KEY and org.endswith("…")


def test_a_bad_timestamp_is_counted_but_not_placed_in_time():
    stats = AuditStats()
    stats.add("1", records(1)[0].model_copy(update={"timestamp": "yesterday"}))
    assert (stats.counted, stats.bad_times, stats.timeline.buckets) == (1, 1, {})
    assert stats.rows[0][1] == "yesterday"


def test_the_json_form_has_every_section(sample: Path):
    body = collect_stats(sample).to_dict()
    stats = body["stats"]
    assert set(stats) >= {"decisions", "over_time", "rules", "organizations", "purposes",
                          "obligations", "errors", "denies", "policies", "writers", "latency"}  # fmt: skip
    assert stats["decisions"] == dict(zip(KINDS, [115, 115, 46]))
    buckets = stats["over_time"]["buckets"]
    assert sum(b["allow"] + b["deny"] + b["invalid"] for b in buckets) == 276
    assert stats["over_time"]["bucket_seconds"] == 3600  # 9 days in at most 240 buckets
    assert stats["latency"] is None


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(-(10**10), 10**10), min_size=1, max_size=400),
    st.integers(2, 50),
    st.integers(1, 60),
)
def test_a_timeline_keeps_every_count_in_at_most_max_buckets(
    offsets: list[int], most: int, shown: int
):
    timeline = Timeline(max_buckets=most)
    for i, offset in enumerate(offsets):
        timeline.add(ORIGIN + timedelta(seconds=offset), i % 3)
    for limit in (None, shown):
        width, rows = timeline.rows(limit)
        assert len(rows) <= max(limit or most, 2)  # two buckets may always be needed
        assert sum(sum(counts) for _, counts in rows) == len(offsets)
        for offset in offsets:  # each moment lies in one bucket, and that one counts
            moment = ORIGIN + timedelta(seconds=offset)
            bucket = [c for start, c in rows if start <= moment < start + timedelta(seconds=width)]
            assert len(bucket) == 1 and sum(bucket[0]) > 0


def test_times_without_a_zone_are_utc():
    stats = AuditStats(since=datetime(2026, 3, 2, 8, 0, tzinfo=UTC))
    stats.add("1", records(1)[0].model_copy(update={"timestamp": "2026-03-02T09:00:00"}))
    assert stats.counted == 1 and stats.first == datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
