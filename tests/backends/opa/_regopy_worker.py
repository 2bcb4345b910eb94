"""Evaluate Rego with regopy in a process of its own (JSON lines on stdin/stdout).

regopy's native library brings its own C++ ``operator new``/``delete`` (snmalloc).
Loaded into the same process as another C++ extension (google-re2, which usepolicy
uses), the heap gets corrupted: the test process then aborts in ``re2::RE2::Init``
(reproduced by importing regopy next to usepolicy and loading many policies). So the
tests, the fake OPA server and the benchmark run regopy here, importing nothing else.

Protocol, one JSON object per line:

- ``{"op": "load", "modules": {name: text}, "data": [json text], "entries": [path]}``
- ``{"op": "query", "entry": path, "inputs": [json text]}`` answers ``results`` (null
  where undefined) and ``nanos``, each query's time (input, evaluation, output)
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import regopy


class Evaluator:
    """Modules and data compiled once (a regopy bundle), queried per input."""

    def __init__(self, modules: dict[str, str], data: list[str], entries: list[str]) -> None:
        self.interp = regopy.Interpreter()
        for name, text in modules.items():
            self.interp.add_module(name, text)
        for text in data:
            self.interp.add_data_json(text)
        self.entries = set(entries)
        self.bundle = self.interp.build(None, entries)
        if not self.bundle.ok():
            raise RuntimeError("regopy could not build the bundle")

    def __del__(self) -> None:
        # a bundle is freed through its interpreter: drop the bundle first
        self.__dict__.pop("bundle", None)
        self.__dict__.pop("interp", None)

    def query(self, entry: str, input_json: str) -> Any:
        """The value of ``entry`` for the input (JSON text, as regopy escapes it); None
        when undefined."""
        # JSON text, not regopy.Input: Input does not escape strings
        self.interp.set_input_term(input_json)
        output = self.interp.query_bundle_entrypoint(self.bundle, entry)
        if not output.results:
            raise RuntimeError(str(output))
        expressions = output.results[0].expressions
        return expressions[0] if expressions else None


def serve(lines: Any, out: Any) -> None:
    evaluator: Evaluator | None = None
    for line in lines:
        message = json.loads(line)
        reply: dict[str, Any]
        try:
            if message["op"] == "load":
                evaluator = None
                evaluator = Evaluator(message["modules"], message["data"], message["entries"])
                reply = {"ok": True}
            else:
                assert evaluator is not None, "nothing loaded"
                results, nanos = [], []
                for text in message["inputs"]:
                    start = time.perf_counter_ns()
                    results.append(evaluator.query(message["entry"], text))
                    nanos.append(time.perf_counter_ns() - start)
                reply = {"ok": True, "results": results, "nanos": nanos}
        except Exception as exc:
            reply = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        out.write(json.dumps(reply, ensure_ascii=False) + "\n")
        out.flush()


if __name__ == "__main__":
    serve(sys.stdin, sys.stdout)
