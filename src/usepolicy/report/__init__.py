"""The audit report: one self-contained HTML page about an audit log (extra ``[report]``).

- ``write_report(source, output)``: verify a log (file or PostgreSQL store), count what
  it holds in one streaming pass, and write the page: the integrity verdict first, then
  charts (matplotlib, inlined as SVG), the denied uses, and a filterable table.
- ``render_report(summary)``: the page for a ``usepolicy.audit.collect_stats`` summary.

The figures alone, as text or JSON, need no extra: ``usepolicy.audit.collect_stats``.
"""

from __future__ import annotations

from .._errors import UsePolicyError

__all__ = ["ReportUnavailableError", "render_report", "write_report"]


class ReportUnavailableError(UsePolicyError, ImportError):
    """matplotlib or Jinja2 is not installed, so the report cannot be drawn."""

    code = "report-unavailable"


try:
    import jinja2  # noqa: F401
    import matplotlib  # noqa: F401
except ImportError as _exc:
    raise ReportUnavailableError(
        f"the audit report needs matplotlib and Jinja2 (`{_exc.name}` is missing): "
        "pip install 'usepolicy[report]'"
    ) from _exc

from ._html import render_report, write_report  # noqa: E402
