"""The obligation handler registry: an obligation without a handler, or whose handler
fails, is unmet (fail closed); async handlers are awaited by ``aunmet``."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import pytest

from usepolicy._obligations import ObligationRegistry

RECORD: dict[str, Any] = {
    "decision_id": "d1",
    "obligations": [
        {"id": "retain-record", "with": {"days": 3650}, "rule": "intelligence"},
        {"id": "notify", "with": {}, "rule": "intelligence"},
    ],
}


def test_an_obligation_without_a_handler_is_unmet() -> None:
    problems = ObligationRegistry(["retain-record"]).unmet(RECORD)
    assert [p["code"] for p in problems] == ["obligation-unmet"]
    assert "`notify` (of rule `intelligence`) has no handler" in problems[0]["message"]


def test_handlers_get_the_obligation_and_the_record_and_may_fail() -> None:
    seen: list[tuple[str, str]] = []

    def notify(obligation: Mapping[str, Any], record: Mapping[str, Any]) -> None:
        seen.append((obligation["id"], record["decision_id"]))
        raise RuntimeError("mail server down")

    registry = ObligationRegistry({"retain-record": lambda o, r: None, "notify": notify})
    problems = registry.unmet(RECORD)
    assert seen == [("notify", "d1")]
    assert problems == [
        {
            "code": "obligation-failed",
            "message": "obligation `notify` was not fulfilled: RuntimeError: mail server down",
        }
    ]
    registry.register("notify")
    assert registry.unmet(RECORD) == []
    registry.unregister("notify")
    assert "notify" not in registry


def test_async_handlers_are_awaited_only_by_aunmet() -> None:
    done: list[str] = []

    async def notify(obligation: Mapping[str, Any], record: Mapping[str, Any]) -> None:
        done.append(obligation["id"])

    registry = ObligationRegistry({"retain-record": lambda o, r: None, "notify": notify})
    assert asyncio.run(registry.aunmet(RECORD)) == []
    assert done == ["notify"]
    (problem,) = registry.unmet(RECORD)  # not awaited: not fulfilled
    assert "afulfil" in problem["message"]
    assert done == ["notify"]


def test_no_obligations_nothing_unmet() -> None:
    assert ObligationRegistry().unmet({"obligations": []}) == []


def test_bad_registrations_are_refused() -> None:
    with pytest.raises(ValueError, match="non-empty"):
        ObligationRegistry().register("")
    with pytest.raises(TypeError, match="not callable"):
        ObligationRegistry().register("x", "not a function")  # type: ignore[arg-type]
