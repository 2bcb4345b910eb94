"""The report in a real browser (headless Chromium): no console errors, every chart
drawn, the filters work, a tampered log is named at the top in red. Screenshots are
kept in ``$USEPOLICY_ARTIFACTS`` (``.ci/run`` sets it) for a person to look at.

Skipped, with the reason, where Debian's ``chromium`` package is missing, unless
``USEPOLICY_REQUIRE_CHROMIUM=1`` (as in ``.ci/run``) makes that a failure.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from usepolicy.audit import read_records
from usepolicy.audit._stats import kind_of
from usepolicy.audit._tally import KINDS
from usepolicy.report import write_report

from .chromium import Chromium, find_chromium
from .conftest import TAMPERED_LINE
from .sample import write_gateway_sample

CHARTS = ["time", "rules", "orgs", "purposes", "obligations", "errors"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Chromium]:
    executable, why = find_chromium()
    if executable is None:
        if os.environ.get("USEPOLICY_REQUIRE_CHROMIUM") == "1":
            pytest.fail(f"USEPOLICY_REQUIRE_CHROMIUM=1 but {why}")
        pytest.skip(why)
    with Chromium(executable) as chromium:
        yield chromium


def select(browser: Chromium, name: str, value: str) -> str:
    """Choose ``value`` in the ``name`` filter as a person would; the count line after."""
    browser.evaluate(f"""(() => {{
        const s = document.querySelector('select[data-filter="{name}"]');
        s.value = {value!r};
        s.dispatchEvent(new Event('change', {{bubbles: true}}));
    }})()""")
    return str(browser.evaluate("document.getElementById('shown').textContent"))


def visible_rows(browser: Chromium) -> int:
    return int(browser.evaluate(
        "Array.from(document.querySelectorAll('#records tbody tr')).filter(r => !r.hidden).length"
    ))  # fmt: skip


def test_the_report_opens_clean_draws_every_chart_and_filters(
    browser: Chromium, sample_log: Path, tmp_path: Path, artifacts: Path
):
    out = tmp_path / "report.html"
    write_report(sample_log, out)
    browser.open(out)
    assert browser.problems() == []
    drawn = browser.evaluate("""Array.from(document.querySelectorAll('figure.chart')).map(f => {
        const svg = f.querySelector('svg'); const box = svg.getBoundingClientRect();
        return [f.id, Math.round(box.width), Math.round(box.height),
                svg.querySelectorAll('path, use').length, svg.getBBox().width > 0];
    })""")
    assert [d[0] for d in drawn] == [f"chart-{c}" for c in CHARTS]
    for ident, width, height, marks, has_box in drawn:
        assert width > 300 and height > 100 and marks > 20 and has_box, ident
    browser.screenshot(artifacts / "report.png")
    browser.screenshot(artifacts / "report-top.png", full_page=False)

    logged = [record for _, record in read_records(sample_log)]
    kinds = Counter(KINDS[kind_of(r)] for r in logged)
    assert select(browser, "decision", "") == "276 of 276 records shown (276 rows)"
    assert (
        select(browser, "decision", "deny")
        == f"{kinds['deny']} of 276 records shown ({kinds['deny']} rows)"
    )
    assert visible_rows(browser) == kinds["deny"] == 115
    # both filters at once: the denies of one organisation
    select(browser, "org", "Federal Investigations Unit")
    expected = sum(
        kind_of(r) == 1 and r.request["requester"]["organization"] == "Federal Investigations Unit"
        for r in logged
    )
    assert visible_rows(browser) == expected == 23
    browser.evaluate("document.getElementById('reset').click()")
    assert visible_rows(browser) == 276
    select(browser, "purpose", "cyber.operations")
    assert visible_rows(browser) == 23
    browser.evaluate("document.getElementById('reset').click()")
    select(browser, "rule", "missing-field")
    assert visible_rows(browser) == 23
    browser.evaluate("""(() => {
        document.getElementById('reset').click();
        const box = document.getElementById('search');
        box.value = 'LOGISTICS agency';
        box.dispatchEvent(new Event('input'));
    })()""")
    assert visible_rows(browser) == 46  # its allows and its default denies
    assert browser.problems() == []


def test_a_gateway_log_draws_its_outcomes(browser: Chromium, tmp_path: Path, artifacts: Path):
    out = tmp_path / "gateway.html"
    write_report(write_gateway_sample(tmp_path / "gateway.jsonl"), out)
    browser.open(out)
    assert browser.problems() == []
    box = browser.evaluate("""(() => {
        const svg = document.querySelector('#chart-outcomes svg');
        const r = svg.getBoundingClientRect();
        return [Math.round(r.width), Math.round(r.height), svg.querySelectorAll('path').length];
    })()""")
    assert box[0] > 300 and box[1] > 80 and box[2] > 20, box
    browser.screenshot(artifacts / "report-gateway.png")


def test_past_max_rows_the_filters_count_records_in_groups(
    browser: Chromium, sample_log: Path, tmp_path: Path
):
    out = tmp_path / "grouped.html"
    write_report(sample_log, out, max_rows=100)
    browser.open(out)
    assert browser.problems() == []
    rows = visible_rows(browser)
    assert rows < 276
    assert select(browser, "decision", "") == f"276 of 276 records shown ({rows} rows)"
    assert select(browser, "decision", "deny").startswith("115 of 276 records shown (")
    assert select(browser, "org", "Logistics Agency").startswith("23 of 276 records shown (")


def test_a_tampered_log_is_named_at_the_top_in_red(
    browser: Chromium, tampered_log: Path, tmp_path: Path, artifacts: Path
):
    out = tmp_path / "tampered.html"
    assert not write_report(tampered_log, out).ok
    browser.open(out)
    assert browser.problems() == []
    first, top, colour, text = browser.evaluate("""(() => {
        const box = document.querySelector('main').firstElementChild;
        const verdict = box.querySelector('.verdict');
        return [box.id, box.getBoundingClientRect().top, getComputedStyle(verdict).color,
                verdict.textContent];
    })()""")
    assert first == "integrity" and top < 150
    assert colour == "rgb(176, 0, 32)"  # --bad: red
    assert text == f"NOT VERIFIED: line {TAMPERED_LINE}: edited"
    browser.screenshot(artifacts / "report-tampered.png", full_page=False)


def test_the_harness_sees_console_errors_and_blocked_loads(browser: Chromium, tmp_path: Path):
    """The checks above can fail: a page that errs and reaches out is caught."""
    page = tmp_path / "bad.html"
    page.write_text(
        "<!doctype html><meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; "
        "script-src 'unsafe-inline'\"><img src='http://127.0.0.1:9/x.png'>"
        "<script>console.error('broken'); undefinedName();</script>"
    )
    browser.open(page)
    found = "\n".join(browser.problems())
    assert "broken" in found and "undefinedName" in found
    assert "Content Security Policy" in found
