"""The report's charts: matplotlib figures rendered to SVG for inlining in the page.

Text is drawn as paths (``svg.fonttype: path``), so the charts need no font at all;
matplotlib's metadata, XML prologue and namespace URLs are dropped (an HTML page does
not need them, and the report must name no outside resource), and element ids get a
per-chart prefix so that several charts can live in one document.
"""

from __future__ import annotations

import io
import re
import warnings
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Final, cast

import matplotlib.dates as mdates
from matplotlib import rc_context
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from ..audit import AuditStats, Entry, Tally, purpose_tree

__all__ = ["COLORS", "Chart", "charts"]

#: allow, deny, invalid (Okabe-Ito: told apart with any colour vision, and in grey)
COLORS: Final = ("#009E73", "#D55E00", "#8C8C8C")
_LABELS: Final = ("allow", "deny", "invalid")
_TOP: Final = 12
_BARS: Final = 72  # at most, in the timeline
_TREE: Final = 40  # rows of the purpose tree, at most
_WIDTH_IN: Final = 7.2
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_STYLE: Final[dict[str, Any]] = {
    "date.epoch": "1970-01-01T00:00:00",
    "svg.fonttype": "path",
    "svg.hashsalt": "usepolicy-report",  # stable ids: the same log, the same bytes
    "text.parse_math": False,  # an organisation called `$x$` is text, not TeX
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": 11,
    "axes.titleweight": "bold",
    "axes.titlelocation": "left",
}


class Chart:
    """One chart: an id, a title, a caption and the inline SVG."""

    def __init__(self, ident: str, title: str, caption: str, svg: str) -> None:
        self.ident, self.title, self.caption, self.svg = ident, title, caption, svg


def _short(label: str, width: int = 42) -> str:
    return label if len(label) <= width else label[: width - 1] + "…"


_PROLOGUE = re.compile(r"^.*?(?=<svg\b)", re.S)
_METADATA = re.compile(r"<metadata>.*?</metadata>\s*", re.S)
_STYLE_EL = re.compile(r"<style[^>]*>.*?</style>\s*", re.S)
_NAMESPACES = re.compile(r'\s+xmlns(?::\w+)?="[^"]*"')
_SIZE = re.compile(r'^(<svg\b[^>]*?)\s+width="[^"]*"\s+height="[^"]*"')
_ID = re.compile(r'\bid="([^"]+)"')
_REF = re.compile(r'(href="#|url\(#)([^")]+)')


def _svg(figure: Figure, prefix: str) -> str:
    """The figure as an SVG element for an HTML page (see the module's docstring)."""
    out = io.StringIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a glyph missing from the font is drawn as a box
        figure.savefig(out, format="svg", metadata={"Creator": None, "Date": None})
    text = _PROLOGUE.sub("", out.getvalue(), count=1)
    text = _METADATA.sub("", text)
    text = _STYLE_EL.sub("", text)  # `*{stroke-linejoin...}`: the page's CSS, scoped
    text = _NAMESPACES.sub("", text).replace("xlink:href=", "href=")
    text = _SIZE.sub(r"\1", text, count=1)  # the page sizes it; the viewBox keeps the shape
    text = _ID.sub(lambda m: f'id="{prefix}-{m[1]}"', text)
    text = _REF.sub(lambda m: f"{m[1]}{prefix}-{m[2]}", text)
    return text.replace("<svg ", f'<svg role="img" aria-labelledby="{prefix}-title" ', 1)


def _figure(rows: int) -> tuple[Figure, Any]:
    figure = Figure(figsize=(_WIDTH_IN, 0.9 + 0.26 * max(rows, 2)), layout="constrained")
    return figure, figure.add_subplot()


def _bars(
    rows: Sequence[tuple[str, Sequence[int]]],
    kinds: Sequence[int],
    bold: Sequence[bool] = (),
    labels: Sequence[str] = _LABELS,
) -> Figure:
    """Horizontal bars, one row per label (top to bottom), stacked by kind (named in the
    legend by ``labels``)."""
    figure, axes = _figure(len(rows))
    y = list(range(len(rows)))
    left = [0] * len(rows)
    for kind in kinds:
        values = [counts[kind] for _, counts in rows]
        if any(values):
            axes.barh(y, values, left=left, color=COLORS[kind], label=labels[kind], height=0.7)
            left = [a + b for a, b in zip(left, values, strict=True)]
    axes.set_yticks(y, [_short(label) for label, _ in rows])
    for tick, strong in zip(axes.get_yticklabels(), bold, strict=False):
        if strong:
            tick.set_fontweight("bold")
    axes.invert_yaxis()
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_xlabel("records")
    if len([k for k in kinds if any(c[k] for _, c in rows)]) > 1:
        axes.legend(loc="lower left", bbox_to_anchor=(0, 1), frameon=False, ncols=3)
    return figure


def _top(tally: Tally, other: str = "(all the others)") -> list[tuple[str, Sequence[int]]]:
    rows: list[tuple[str, Sequence[int]]] = [(str(k), e.counts) for k, e in tally.top(_TOP)]
    rest = Entry()
    for _, entry in tally.top()[_TOP:]:
        rest.counts = [a + b for a, b in zip(rest.counts, entry.counts, strict=True)]
    rest.counts = [a + b for a, b in zip(rest.counts, tally.other.counts, strict=True)]
    if rest.total:
        rows.append((other, rest.counts))
    return rows


def _timeline(width_seconds: int, buckets: list[tuple[datetime, list[int]]]) -> Figure:
    figure = Figure(figsize=(_WIDTH_IN, 2.8), layout="constrained")
    axes = figure.add_subplot()
    day = timedelta(days=1)
    starts = [(start - _EPOCH) / day for start, _ in buckets]  # matplotlib's date numbers
    width = width_seconds / 86400
    bottom = [0] * len(buckets)
    for kind in range(3):
        values = [counts[kind] for _, counts in buckets]
        axes.bar(
            starts, values, width=width, bottom=bottom, align="edge",
            color=COLORS[kind], label=_LABELS[kind], linewidth=0,
        )  # fmt: skip
        bottom = [a + b for a, b in zip(bottom, values, strict=True)]
    locator = mdates.AutoDateLocator()  # type: ignore[no-untyped-call]
    axes.xaxis.set_major_locator(locator)
    axes.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_ylabel(f"records per {_duration(width_seconds)}")
    axes.legend(loc="lower left", bbox_to_anchor=(0, 1), frameon=False, ncols=3)
    return figure


def _duration(seconds: int) -> str:
    for unit, size in (("week", 604800), ("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds % size == 0:
            count = seconds // size
            return unit if count == 1 else f"{count} {unit}s"
    return "second" if seconds == 1 else f"{seconds} seconds"


_OUTCOME_LABELS: Final = ("carried out", "not carried out", "")


def _outcome_caption(stats: AuditStats) -> str:
    """What the outcome records say, with the upstream statuses and errors they carry."""
    caption = (
        "Outcome records, written by a gateway after an allowed decision: the model "
        "answered (executed), failed (upstream-error), or the gateway refused the use."
    )
    for name, tally in (("Upstream statuses", stats.statuses), ("Errors", stats.outcome_errors)):
        if len(tally):
            counted = ", ".join(f"{key} ({entry.total:,})" for key, entry in tally.top(_TOP))
            caption += f" {name}: {counted}."
    return caption


def charts(stats: AuditStats) -> list[Chart]:
    """Every chart the figures call for; a chart with nothing to show is left out."""
    made: list[Chart] = []

    def add(ident: str, title: str, caption: str, figure: Figure) -> None:
        svg = _svg(figure, ident)
        svg = svg.replace(">", f'><title id="{ident}-title">{title}</title>', 1)
        made.append(Chart(ident, title, caption, svg))

    with rc_context(cast(Any, _STYLE)):
        width, buckets = stats.timeline.rows(_BARS)
        if buckets:
            add("time", "Decisions over time",
                f"Records per {_duration(width)} (UTC), by outcome.",
                _timeline(width, buckets))  # fmt: skip
        if len(stats.rules) or stats.rules.other.total:
            add("rules", "Determining rules",
                "The rule that decided each valid request; (default): no rule matched.",
                _bars(_top(stats.rules), (0, 1)))  # fmt: skip
        if len(stats.organizations):
            many = len(stats.organizations) > _TOP or stats.organizations.other.total
            add("orgs", "Decisions by organisation",
                f"The {_TOP} organisations with the most valid requests." if many
                else "Valid requests by organisation.",
                _bars(_top(stats.organizations), (0, 1)))  # fmt: skip
        tree = purpose_tree(stats.purposes)
        caption = "The purpose tree: each group is the sum of the purposes under it."
        if len(tree) > _TREE:
            caption += f" The first {_TREE} of {len(tree)} rows: `audit stats` lists all."
            tree = tree[:_TREE]
        if tree:
            # labels are right-aligned, so a branch shows as `.leaf` under its bold root
            rows = [("." * depth + name.rsplit(".", 1)[-1], e.counts) for name, depth, e in tree]
            add("purposes", "Decisions by purpose", caption,
                _bars(rows, (0, 1), [depth == 0 for _, depth, _ in tree]))  # fmt: skip
        if len(stats.obligations) or stats.obligations.other.total:
            add("obligations", "Obligations attached",
                "Obligations attached to allowed decisions, by id: the gateway had to fulfil each.",
                _bars(_top(stats.obligations), (0,)))  # fmt: skip
        if stats.outcomes:
            add("outcomes", "What happened after allowed decisions",
                _outcome_caption(stats),
                _bars([(name, [n, 0, 0] if name == "executed" else [0, n, 0])
                       for name, n in sorted(stats.outcomes.items())],
                      (0, 1), labels=_OUTCOME_LABELS))  # fmt: skip
        if len(stats.errors) or stats.errors.other.total:
            add("errors", "Invalid requests and errors, by code",
                "For invalid requests, the field error code (one request may have several).",
                _bars(_top(stats.errors), (2, 1)))  # fmt: skip
    return made
