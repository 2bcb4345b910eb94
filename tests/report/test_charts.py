"""The charts: drawn by matplotlib, inlined as plain SVG elements, one per kind of figure
that the log gives something to show, the same bytes for the same figures."""

from __future__ import annotations

import re
from pathlib import Path

from usepolicy.audit import AuditStats, collect_stats
from usepolicy.report._charts import charts

from .sample import records


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
