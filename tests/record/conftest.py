"""The record tests share the audit tests' engine and sample records."""

from __future__ import annotations

from ..audit.conftest import ALLOWED, DENIED, MakeRecord, engine, make_record

__all__ = ["ALLOWED", "DENIED", "MakeRecord", "engine", "make_record"]
