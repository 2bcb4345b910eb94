"""The charts: drawn by matplotlib, inlined as plain SVG elements, one per kind of figure
that the log gives something to show, the same bytes for the same figures."""

from __future__ import annotations

import re
from pathlib import Path

from usepolicy.audit import AuditStats, collect_stats
from usepolicy.report._charts import charts

from .sample import records, write_gateway_sample


def test_each_chart_is_a_plain_svg_element(sample_log: Path):
    made = charts(collect_stats(sample_log).stats)
    assert [c.ident for c in made] == ["time", "rules", "orgs", "purposes", "obligations", "errors"]
    for chart in made:
        svg = chart.svg
        assert svg.startswith("<svg ") and svg.rstrip().endswith("</svg>")
        assert "<?xml" not in svg and "<!DOCTYPE" not in svg and "<metadata" not in svg
        assert "xmlns" not in svg and "xlink:" not in svg and "<style" not in svg
        assert "<text" not in svg  # text is drawn as paths: no font needed
        assert 'viewBox="' in svg and not re.match(r"<svg[^>]*\swidth=", svg)
        ids = re.findall(r'\bid="([^"]+)"', svg)
        assert ids and all(i.startswith(f"{chart.ident}-") for i in ids)
        for ref in re.findall(r'(?:href="#|url\(#)([^")]+)', svg):
            assert ref in ids, (chart.ident, ref)


def test_the_same_figures_draw_the_same_bytes(sample_log: Path):
    stats = collect_stats(sample_log).stats
    assert [c.svg for c in charts(stats)] == [c.svg for c in charts(stats)]


def test_a_chart_with_nothing_to_show_is_left_out():
    stats = AuditStats()
    assert charts(stats) == []
    for record in records(3):  # an allow with an obligation, a deny, an allow: no error
        stats.add("1", record)
    assert [c.ident for c in charts(stats)] == ["time", "rules", "orgs", "purposes", "obligations"]


def test_a_gateway_log_gets_a_chart_of_its_outcomes(tmp_path: Path):
    stats = collect_stats(write_gateway_sample(tmp_path / "gateway.jsonl")).stats
    made = {c.ident: c for c in charts(stats)}
    assert "outcomes" in made and stats.outcomes == {
        "executed": 3, "upstream-error": 1, "refused": 1
    }  # fmt: skip
    caption = made["outcomes"].caption
    assert "Upstream statuses: 200 (3), 502 (1)." in caption
    assert "Errors: client-gone (1), obligation-unmet (1), upstream-status (1)." in caption
    # `audit stats --format json` lists them too (allow: after an executed use)
    listed = stats.to_dict()["outcome_errors"]["entries"]
    assert [(e["code"], e["allow"], e["deny"]) for e in listed] == [
        ("client-gone", 1, 0), ("obligation-unmet", 0, 1), ("upstream-status", 0, 1),
    ]  # fmt: skip
    sample = AuditStats()
    for record in records(3):  # decisions only: no outcome chart
        sample.add("1", record)
    assert "outcomes" not in [c.ident for c in charts(sample)]
