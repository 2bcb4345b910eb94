"""``usepolicy proxy``: the real entry point in a subprocess, in front of a fake
upstream: configuration errors, SIGHUP reloads, and kill -9 under load."""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from usepolicy.audit import AuditLog, read_records, verify_log
from usepolicy.gateway import key_digest
from usepolicy.record import DecisionRecord

from ..conftest import REPO, RunCli
from ..gateway.upstream import serve, upstream_app

KEY = "sk-cli-test"
POLICY = """\
usepolicy: 1
name: gateway-test
version: "{version}"
default: deny
rules:
  - id: {rule}
    effect: {effect}
    reason: research is {effect}ed
    when:
      purpose: {{under: general}}
"""
USE = json.dumps({"purpose": "general.research"})


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    with serve(upstream_app()) as url:
        yield url


@pytest.fixture
def keys(tmp_path: Path) -> Path:
    path = tmp_path / "keys.yaml"
    path.write_text(f"keys:\n  - sha256: {key_digest(KEY)}\n    organization: Research Cell\n")
    return path


class Running:
    """A proxy process on a port the system chose (``--port 0``: the proxy names it on
    stderr, so no other process can have taken it meanwhile), its stderr read line by
    line into a queue."""

    def __init__(self, args: list[str]) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "usepolicy", "proxy", "--port", "0", *args],
            cwd=REPO, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        said = self.line_with("usepolicy: proxy on ")[-1]
        found = re.search(r"proxy on (http://127\.0\.0\.1:[1-9][0-9]*) -> ", said)
        assert found is not None, said
        self.url = found[1]

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.put(line.rstrip("\n"))

    def line_with(self, text: str) -> list[str]:
        """The stderr lines up to the first holding ``text`` (a guard of 60 s, no timing)."""
        seen = []
        while True:
            line = self.lines.get(timeout=60)
            seen.append(line)
            if text in line:
                return seen

    def call(self, use: str = USE) -> httpx.Response:
        return httpx.post(
            f"{self.url}/v1/chat/completions",
            json={"model": "m", "messages": [{"role": "user", "content": "hi"}]},
            headers={"authorization": f"Bearer {KEY}", "x-usepolicy-use": use},
            timeout=60,
        )

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(30)


def proxy(tmp_path: Path, upstream: str, keys: Path, *extra: str) -> Running:
    log = tmp_path / "audit.jsonl"
    return Running(["--upstream", upstream, "--keys", str(keys), "--audit-log", str(log), *extra])


def test_sighup_reloads_a_good_policy_and_keeps_the_last_good_one(
    tmp_path: Path, upstream: str, keys: Path
) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY.format(version=1, rule="research", effect="allow"))
    running = proxy(tmp_path, upstream, keys, "-p", str(policy))
    try:
        assert running.call().status_code == 200
        policy.write_text(POLICY.format(version=2, rule="no-research", effect="deny"))
        running.process.send_signal(signal.SIGHUP)
        assert "gateway-test 2 sha256:" in running.line_with("usepolicy: reloaded")[-1]
        denied = running.call()
        assert denied.status_code == 403
        assert denied.json()["error"]["code"] == "no-research"
        policy.write_text(
            POLICY.format(version=3, rule="x", effect="allow").replace("under", "undr")
        )
        running.process.send_signal(signal.SIGHUP)
        lines = running.line_with("keeping the last good policy")
        assert any(line.startswith(f"usepolicy: {policy}:10:") for line in lines), lines
        assert running.call().status_code == 403  # version 2 still decides
    finally:
        running.stop()
    digests = [
        record.policy.digest
        for _, record in read_records(tmp_path / "audit.jsonl")
        if isinstance(record, DecisionRecord)
    ]
    assert len(digests) == 3
    assert digests[0] != digests[1] == digests[2]


def test_kill_9_under_load_loses_no_record_of_a_call_answered_200(
    tmp_path: Path, upstream: str, keys: Path
) -> None:
    running = proxy(tmp_path, upstream, keys)
    answered: list[str] = []
    lock = threading.Lock()
    enough = threading.Event()

    def load() -> None:
        with httpx.Client(timeout=60) as client:
            while True:
                try:
                    answer = client.post(
                        f"{running.url}/v1/chat/completions",
                        json={"model": "m", "messages": []},
                        headers={"authorization": f"Bearer {KEY}",
                                 "x-usepolicy-use": json.dumps({"purpose": "general.assistant"})},
                    )  # fmt: skip
                except httpx.HTTPError:
                    return  # the proxy is gone
                if answer.status_code == 200:
                    with lock:
                        answered.append(answer.headers["usepolicy-decision-id"])
                        if len(answered) >= 150:
                            enough.set()

    workers = [threading.Thread(target=load, daemon=True) for _ in range(16)]
    for worker in workers:
        worker.start()
    try:
        assert enough.wait(300), "the proxy never answered 150 calls"
        os.kill(running.process.pid, signal.SIGKILL)  # while the others are in flight
        running.process.wait(30)
    finally:
        running.stop()
    for worker in workers:
        worker.join(60)
    log = tmp_path / "audit.jsonl"
    AuditLog(log).close()  # what a restarted gateway does first: set a torn tail aside
    result = verify_log(log)
    assert result.ok, str(result)
    allowed = {
        record.decision_id
        for _, record in read_records(log)
        if isinstance(record, DecisionRecord) and record.decision == "allow"
    }
    with lock:
        missing = [decision_id for decision_id in answered if decision_id not in allowed]
    assert answered and not missing


def test_bad_configuration_is_one_line_with_its_position(
    tmp_path: Path, run_cli: RunCli, keys: Path
) -> None:
    bad_keys = tmp_path / "bad-keys.yaml"
    bad_keys.write_text("keys:\n  - sha256: abc\n    organization: X\n")
    result = run_cli(
        "proxy", "--upstream", "http://127.0.0.1:9", "--keys", str(bad_keys),
        "--audit-log", str(tmp_path / "a.jsonl"),
    )  # fmt: skip
    assert result.returncode == 3
    assert result.stderr.startswith(f"usepolicy: {bad_keys}:2:13: bad-value: `sha256`")
    assert len(result.stderr.strip().splitlines()) == 1
    env = tmp_path / "env.yaml"
    env.write_text("classification: confidential\n")
    result = run_cli(
        "proxy", "--upstream", "http://127.0.0.1:9", "--keys", str(keys),
        "--audit-log", str(tmp_path / "a.jsonl"), "--environment", str(env),
    )  # fmt: skip
    assert result.returncode == 3
    assert result.stderr.startswith(f"usepolicy: {env}:1:17: bad-value: `classification`")
    result = run_cli("proxy", "--keys", str(keys), "--audit-log", "x")
    assert result.returncode == 1
    assert "--upstream" in result.stderr


def test_the_audit_log_rotates_and_the_chain_goes_on(
    tmp_path: Path, upstream: str, keys: Path, run_cli: RunCli
) -> None:
    from usepolicy.audit import log_files

    running = proxy(tmp_path, upstream, keys, "--rotate-bytes", "1")  # a file per batch
    try:
        assert [running.call().status_code for _ in range(3)] == [200, 200, 200]
    finally:
        running.stop()
    log = tmp_path / "audit.jsonl"
    result = verify_log(log)  # decision and outcome records, one chain across the files
    assert result.ok and result.count == 6 and len(log_files(log)) >= 3, result
    bad = run_cli(
        "proxy", "--upstream", upstream, "--keys", str(keys),
        "--audit-log", str(log), "--rotate-bytes", "0",
    )  # fmt: skip
    assert (bad.returncode, bad.stderr) == (
        1,
        "usepolicy: rotate_bytes must be positive, not `0`\n",
    )


def test_with_audit_db_the_proxy_keeps_outcome_records(
    tmp_path: Path, upstream: str, keys: Path, db: str, run_cli: RunCli
) -> None:
    from usepolicy.audit import verify_db
    from usepolicy.record import OutcomeRecord

    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY.format(version=1, rule="research", effect="allow"))
    running = Running(
        ["--upstream", upstream, "--keys", str(keys), "--audit-db", db, "-p", str(policy)]
    )
    try:
        answers = [
            running.call(),
            running.call(),
            running.call(json.dumps({"purpose": "intelligence.analysis"})),
        ]
    finally:
        running.stop()
    assert [a.status_code for a in answers] == [200, 200, 403]
    result = verify_db(db)
    assert result.ok and result.count == 5, str(result)  # 3 decisions, 2 outcomes
    exported = tmp_path / "proxy.jsonl"
    assert run_cli("audit", "export", db, "-o", str(exported)).returncode == 0
    checked = run_cli("audit", "verify", str(exported))
    assert checked.returncode == 0 and "5 records" in checked.stdout, checked.stdout
    found = [record for _, record in read_records(exported)]
    outcomes = [r for r in found if isinstance(r, OutcomeRecord)]
    assert [(o.outcome, o.status) for o in outcomes] == [("executed", 200)] * 2
    allowed = {
        answers[0].headers["usepolicy-decision-id"],
        answers[1].headers["usepolicy-decision-id"],
    }
    assert {o.decision_id for o in outcomes} == allowed
    shown = run_cli("audit", "show", db)
    assert shown.returncode == 0 and shown.stdout.count("executed") == 2, shown.stderr
    stats = run_cli("audit", "stats", db)
    assert stats.returncode == 0 and "outcomes: 2 executed" in stats.stdout, stats.stderr


def test_the_proxy_names_its_address_and_a_taken_port_is_one_line(
    tmp_path: Path, upstream: str, keys: Path, run_cli: RunCli
) -> None:
    running = proxy(tmp_path, upstream, keys)
    try:
        assert running.url.startswith("http://127.0.0.1:")
        assert running.call().status_code == 200
        port = running.url.rsplit(":", 1)[1]
        log = tmp_path / "second.jsonl"
        taken = run_cli("proxy", "--upstream", upstream, "--keys", str(keys),
                        "--audit-log", str(log), "--port", port)  # fmt: skip
    finally:
        running.stop()
    assert taken.returncode == 1
    assert taken.stderr.startswith(f"usepolicy: cannot listen on 127.0.0.1:{port}: ")
    assert len(taken.stderr.splitlines()) == 1


def test_rotation_options_need_a_log_file(keys: Path, run_cli: RunCli) -> None:
    result = run_cli("proxy", "--upstream", "http://127.0.0.1:9", "--keys", str(keys),
                     "--audit-db", "postgresql://127.0.0.1:9/none", "--rotate-every", "3600")  # fmt: skip
    assert result.returncode == 1
    assert (
        result.stderr == "usepolicy: --rotate-bytes and --rotate-every are for --audit-log FILE\n"
    )
