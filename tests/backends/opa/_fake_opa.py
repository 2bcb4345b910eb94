"""A stand-in for ``opa run --server``: the part of OPA's REST API that
opa-python-client uses, evaluating with regopy (the OPA binary is not available here).

- ``PUT /v1/policies/<id>``: load a Rego module (400 with OPA's error shape if it does
  not compile; 400 too for a path a bundle owns, as OPA refuses);
- ``POST /v1/data/<path>`` with ``{"input": ...}``: ``{"result": ...}``, or ``{}`` when
  undefined; ``?provenance=true`` adds OPA's provenance (version, bundle revisions);
  ``--decision-ids`` adds a ``decision_id`` as OPA does when it logs decisions;
- ``--bundle FILE``: serve a bundle, as ``opa run --server --bundle FILE``;
- ``POST /_fault`` (not OPA): make the next answers (``only`` for one HTTP method)
  slow, 500s, garbage or any body.

Run: ``python _fake_opa.py [--bundle FILE] [--decision-ids]``; prints ``port N``.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tarfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from _regopy_worker import Evaluator

VERSION = "0.0.0-fake"


class State:
    def __init__(self, bundle: str | None, decision_ids: bool) -> None:
        self.lock = threading.Lock()  # regopy is not thread-safe
        self.modules: dict[str, str] = {}
        self.data: list[str] = []
        self.roots: list[str] = []
        self.bundles: dict[str, dict[str, str]] = {}
        self.evaluator: Evaluator | None = None
        self.decision_ids = decision_ids
        self.decisions = 0
        self.fault: dict[str, Any] = {}
        if bundle is not None:
            self.load_bundle(bundle)

    def load_bundle(self, path: str) -> None:
        with tarfile.open(path, "r:gz") as tar:
            files = {
                m.name.lstrip("/"): tar.extractfile(m).read().decode()  # type: ignore[union-attr]
                for m in tar.getmembers()
                if m.isfile()
            }
        manifest = json.loads(files.pop(".manifest", "{}"))
        self.data = [files.pop("data.json")] if "data.json" in files else []
        self.modules.update({f"bundle/{name}": text for name, text in files.items()})
        self.roots = manifest.get("roots", [""])
        self.bundles[path] = {"revision": manifest.get("revision", "")}
        self.rebuild()

    def rebuild(self) -> None:
        entries = []
        for text in self.modules.values():
            found = re.search(r"^package (\S+)", text, re.MULTILINE)
            if found:
                path = re.sub(r'\["([^"]+)"\]', r".\1", found.group(1)).replace(".", "/")
                entries += [f"{path}/{rule}" for rule in ("answer", "decision", "policy")]
        self.evaluator = Evaluator(self.modules, self.data, entries) if entries else None


class Handler(BaseHTTPRequestHandler):
    state: State

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def reply(self, status: int, body: Any, raw: bytes | None = None) -> None:
        data = raw if raw is not None else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length", 0)))

    def faulty(self) -> bool:
        fault = self.state.fault
        if fault.get("only", self.command) != self.command:
            return False
        if fault.get("delay"):
            time.sleep(fault["delay"])
        if "status" in fault:
            self.reply(fault["status"], None, fault.get("raw", "").encode())
            return True
        return False

    def do_PUT(self) -> None:
        url = urlsplit(self.path)
        text = self.body().decode()
        if not url.path.startswith("/v1/policies/"):
            self.reply(404, {"code": "resource_not_found", "message": "not found"})
            return
        policy_id = url.path[len("/v1/policies/") :]
        if self.faulty():
            return
        state = self.state
        found = re.search(r"^package (\S+)", text, re.MULTILINE)
        path = found.group(1).replace(".", "/") if found else ""
        if any(path == r or path.startswith(r + "/") for r in state.roots if state.bundles):
            message = f"path {path} is owned by bundle"
            self.reply(400, {"code": "invalid_parameter", "message": message})
            return
        with state.lock:
            previous = dict(state.modules)
            state.modules[policy_id] = text
            try:
                state.rebuild()
            except Exception as exc:
                state.modules = previous
                state.rebuild()
                error = {"code": "rego_parse_error", "message": str(exc)[:500]}
                self.reply(400, {**error, "errors": [error]})
                return
        self.reply(200, {})

    def do_POST(self) -> None:
        url = urlsplit(self.path)
        raw = self.body()
        if url.path == "/_fault":
            self.state.fault = json.loads(raw)
            self.reply(200, {})
            return
        if not url.path.startswith("/v1/data/"):
            self.reply(404, {"code": "resource_not_found", "message": "not found"})
            return
        if self.faulty():
            return
        entry = url.path[len("/v1/data/") :].strip("/")
        payload = json.loads(raw or b"{}").get("input")
        state = self.state
        with state.lock:
            evaluator = state.evaluator
            if evaluator is None or entry not in evaluator.entries:
                result = None
            else:
                result = evaluator.query(entry, json.dumps(payload, ensure_ascii=False))
        body: dict[str, Any] = {} if result is None else {"result": result}
        if state.decision_ids:
            with state.lock:
                state.decisions += 1
                body["decision_id"] = str(uuid.UUID(int=state.decisions))
        if parse_qs(url.query).get("provenance", [""])[0].lower() == "true":
            body["provenance"] = {"version": VERSION, "build_commit": "fake"}
            if state.bundles:
                body["provenance"]["bundles"] = state.bundles
        self.reply(200, body)

    def do_GET(self) -> None:
        self.reply(200, {})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bundle")
    parser.add_argument("--decision-ids", action="store_true")
    args = parser.parse_args()
    Handler.state = State(args.bundle, args.decision_ids)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print(f"port {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
