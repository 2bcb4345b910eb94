"""examples/gateway/: the FastAPI app answers as its docstring says, and its files load."""

from __future__ import annotations

import asyncio
import importlib.util
import json
from pathlib import Path
from types import ModuleType

import httpx
import pytest

from usepolicy.audit import read_records, verify_log
from usepolicy.gateway import load_environment, load_keys

from ..conftest import REPO

EXAMPLE = REPO / "examples" / "gateway"


@pytest.fixture
def example_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.setenv("USEPOLICY_AUDIT_LOG", str(tmp_path / "audit.jsonl"))
    spec = importlib.util.spec_from_file_location("gateway_example_app", EXAMPLE / "app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_fastapi_example(example_app: ModuleType, tmp_path: Path) -> None:
    async def calls() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=example_app.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://example") as client:
            answers = []
            for key, use in [
                ("sk-example-army", {"purpose": "military.logistics"}),
                ("sk-example-army", {"purpose": "weapons.engagement",
                                     "autonomy": {"level": "fully_autonomous"}}),
                ("sk-example-cell", {"purpose": "intelligence.analysis",
                                     "data": {"subjects": "mixed", "provenance": "targeted"}}),
            ]:  # fmt: skip
                answers.append(await client.post(
                    "/v1/chat/completions", json={"messages": []},
                    headers={"authorization": f"Bearer {key}", "x-usepolicy-use": json.dumps(use)},
                ))  # fmt: skip
            answers.append(await client.get("/healthz"))
            return answers

    try:
        allowed, denied, obliged, health = asyncio.run(calls())
    finally:
        example_app.enforcer.close()
    assert allowed.status_code == 200
    assert allowed.json()["usepolicy"]["rule"] == "military-support"
    assert denied.status_code == 403
    assert denied.json()["error"]["code"] == "no-fully-autonomous-weapons"
    assert obliged.status_code == 200
    assert obliged.json()["usepolicy"]["obligations"] == ["minimize-incidental-domestic-data"]
    assert health.json() == {"status": "ok"}
    log = tmp_path / "audit.jsonl"
    assert verify_log(log).ok
    kinds = [type(record).__name__ for _, record in read_records(log)]
    assert kinds == ["DecisionRecord", "OutcomeRecord", "DecisionRecord", "DecisionRecord",
                     "OutcomeRecord"]  # fmt: skip


def test_the_example_key_and_environment_files_load() -> None:
    ring = load_keys(EXAMPLE / "keys.yaml")
    assert ring.requester("sk-example-army") == {
        "organization": "Army Intelligence Center", "country": "US", "entity_id": "aic-7",
    }  # fmt: skip
    assert load_environment(EXAMPLE / "env.yaml") == {"network": "private", "classification": "cui"}


def test_the_proxy_example_script(tmp_path: Path, upstream: str) -> None:
    import os
    import re
    import subprocess
    import sys

    env = {**os.environ, "UPSTREAM": upstream, "PORT": "0",  # the proxy names the port
           "AUDIT_LOG": str(tmp_path / "audit.jsonl"),
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}  # fmt: skip
    process = subprocess.Popen(
        ["sh", str(EXAMPLE / "proxy.sh")], env=env, cwd=tmp_path, stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert process.stderr is not None
        said = process.stderr.readline()  # the first line, once it listens
        found = re.match(r"usepolicy: proxy on (http://127\.0\.0\.1:[0-9]+) -> ", said)
        assert found is not None, said
        answer = httpx.post(
            f"{found[1]}/v1/chat/completions",
            json={"model": "m", "messages": [], "metadata": {"purpose": "military.logistics"}},
            headers={"authorization": "Bearer sk-example-army"}, timeout=60,
        )  # fmt: skip
    finally:
        process.terminate()
        process.wait(30)
    assert answer.status_code == 200, answer.text
    assert answer.json()["choices"][0]["message"]["content"] == "fake answer"
    assert verify_log(tmp_path / "audit.jsonl").count == 2  # the decision, its outcome
