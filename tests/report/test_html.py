"""The report page: self-contained (nothing outside it is named), integrity first,
everything the log says escaped, and written whole or not at all."""

from __future__ import annotations

import base64
import hashlib
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

from usepolicy import AuditError
from usepolicy.audit import AuditLog, collect_stats
from usepolicy.report import render_report, write_report

from .conftest import TAMPERED_LINE
from .sample import records, write_gateway_sample


class Page(HTMLParser):
    """The tags, attributes, ids and script texts of a page."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[str] = []
        self._in_script = False
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.scripts.append(data)


@pytest.fixture(scope="module")
def page(sample_log: Path) -> str:
    return render_report(collect_stats(sample_log))


def test_the_page_names_no_outside_resource(page: str):
    assert (
        "http://" not in page
        and "https://" not in page
        and "//" not in re.sub(r"<script>.*?</script>", "", page, flags=re.S)
    )
    for tag, attrs in Page(page).tags:
        for name in ("src", "href", "xlink:href", "action", "data", "poster"):
            value = attrs.get(name)
            assert value is None or value.startswith("#"), (tag, name, value)
        assert tag not in ("link", "iframe", "object", "embed", "img", "base")
    for url in re.findall(r"url\(([^)]*)\)", page):
        assert url.startswith("#"), url
    assert "@import" not in page and "@font-face" not in page


def test_a_content_security_policy_allows_only_the_page_s_own_script(page: str):
    parsed = Page(page)
    csp = next(
        a["content"] for t, a in parsed.tags if a.get("http-equiv") == "Content-Security-Policy"
    )
    assert csp.startswith("default-src 'none';")
    [script] = parsed.scripts
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    assert f"script-src 'sha256-{digest}'" in csp
    assert sum(tag == "script" for tag, _ in parsed.tags) == 1


def test_integrity_comes_first_and_ids_are_unique(page: str):
    parsed = Page(page)
    body = [tag for tag, attrs in parsed.tags if attrs.get("id") == "integrity"]
    assert body == ["section"]
    assert page.index('id="integrity"') < page.index("<h2")
    assert "Chain verified: 276 records" in page
    assert "2026-03-02 08:00:00 to 2026-03-11 07:25:00 UTC (8 days, 23:25:00)" in page
    ids = [attrs["id"] for _, attrs in parsed.tags if attrs.get("id")]
    assert len(ids) == len(set(ids))
    charts = [attrs["id"] for _, attrs in parsed.tags if attrs.get("class") == "chart"]
    assert charts == ["chart-time", "chart-rules", "chart-orgs", "chart-purposes",
                      "chart-obligations", "chart-errors"]  # fmt: skip


def test_a_tampered_log_is_named_at_the_top_in_red(tampered_log: Path):
    page = render_report(collect_stats(tampered_log))
    top = page[page.index("<main>") : page.index("<dl")]
    assert 'class="integrity bad"' in top
    assert f"NOT VERIFIED: line {TAMPERED_LINE}: edited" in top
    assert f"Line {TAMPERED_LINE} of the log: edited: the content does not match" in top
    assert f"count the {TAMPERED_LINE - 1} records read before the break" in top


def test_what_the_log_says_is_escaped(tmp_path: Path):
    hostile = '</script><script>alert(1)</script><img src="http://x/">$\\frac{1}{0}$'
    path = tmp_path / "audit.jsonl"
    with AuditLog(path, durability="none") as log:
        for record in records(3):
            if record.request is not None:
                request = {**record.request, "requester": {"organization": hostile}}
                record = record.model_copy(update={"request": request})
            log.append(record)
    page = render_report(collect_stats(path))
    parsed = Page(page)
    assert sum(tag == "script" for tag, _ in parsed.tags) == 1
    assert not any(tag == "img" for tag, _ in parsed.tags)
    assert "&lt;/script&gt;&lt;script&gt;alert(1)" in page
    assert "http://" not in page.replace("&#34;http://x/&#34;", "")


def test_past_max_rows_the_table_holds_groups(sample_log: Path):
    page = render_report(collect_stats(sample_log, max_rows=100))
    assert "276 records are too many for one row each" in page
    counts = [int(n) for n in re.findall(r'data-count="(\d+)"', page)]
    assert sum(counts) == 276


def test_write_report_replaces_the_file_whole(sample_log: Path, tmp_path: Path):
    out = tmp_path / "report.html"
    out.write_text("old")
    summary = write_report(sample_log, out)
    assert summary.ok and out.read_text().startswith("<!doctype html>")
    assert not list(tmp_path.glob(".*partial"))
    with pytest.raises(AuditError, match="cannot write"):
        write_report(sample_log, tmp_path / "missing" / "report.html")


def test_without_matplotlib_the_error_says_what_to_install():
    code = (
        "import sys; sys.modules['matplotlib'] = None\n"
        "try:\n"
        "    import usepolicy.report\n"
        "except ImportError as exc:\n"
        "    print(type(exc).__name__, exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "ReportUnavailableError" in out.stdout
    assert "pip install 'usepolicy[report]'" in out.stdout


def test_a_gateway_log_lists_its_outcomes_among_the_facts(tmp_path: Path):
    page = render_report(collect_stats(write_gateway_sample(tmp_path / "gateway.jsonl")))
    assert "5 records: 3 executed, 1 refused, 1 upstream-error" in page
    assert 'id="chart-outcomes"' in page
