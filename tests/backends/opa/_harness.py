"""Shared by the OPA tests: the exported Rego evaluated by regopy (in a worker process,
see ``_regopy_worker``), the native answer in the same shape, and requests generated to
reach every branch of a policy (each enum value, both sides of each threshold, absent
and present optional fields, attributes of every type)."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from usepolicy import Category, Engine, Policy, RequestError
from usepolicy.backends.opa import data_path, opa_input, to_rego
from usepolicy.policy import Cond, ListRef, Test, condition_parts
from usepolicy.policy._fields import FIELDS
from usepolicy.request._fast import request_to_builtins, validate_request
from usepolicy.request._vocabulary import AttributeSpec

#: patterns the generated policies use, with strings on both sides of each. regopy's
#: regular expressions lack some RE2 syntax that OPA has (flags such as `(?i)`,
#: `\pL`, `\b`), so the differential tests keep to what both support.
REGEXES: dict[str, list[str]] = {
    "^ALPHA": ["ALPHA", "ALPHA-2", "alpha", "BRAVO-ALPHA"],
    "ALPHA|BRAVO": ["BRAVO", "xBRAVOx", "CHARLIE"],
    "^[a-z]+$": ["abc", "abc1", "Abc"],
    "[0-9]{2}": ["x12", "x1", "99"],
    r"\d": ["a1", "ab"],
    r"^general\.": ["general.assistant", "intelligence.foreign"],
    r"\.": ["a.b", "ab"],
    "^$": ["", "x"],
}
#: strings without `"`, `\` or control characters: regopy compares strings by their
#: escaped JSON text, so such characters would test regopy, not the export
STRINGS = ["ALPHA", "BRAVO", "alpha", "x", "a", "a.b", "a.bc", "ab", "Cell 7", "Zürich", ""]
_FRESH = ["Army Intelligence Center", "Joint Analysis Cell", "Cell 7", "Ünïcode Org"]


WORKER = Path(__file__).with_name("_regopy_worker.py")
FAKE_OPA = Path(__file__).with_name("_fake_opa.py")


@contextmanager
def fake_opa(*args: str) -> Iterator[str]:
    """Run the stand-in for ``opa run --server`` (``_fake_opa``); yields its URL."""
    process = subprocess.Popen(
        [sys.executable, str(FAKE_OPA), *args],
        stdout=subprocess.PIPE,
        text=True,
        cwd=FAKE_OPA.parent,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("port "), f"the fake OPA did not start: {line!r}"
        yield f"http://127.0.0.1:{int(line.split()[1])}"
    finally:
        process.terminate()
        process.wait(timeout=10)


def set_fault(url: str, **fault: Any) -> None:
    """Make the fake OPA misbehave (see ``_fake_opa``); no arguments: behave again."""
    request = urllib.request.Request(
        f"{url}/_fault", data=json.dumps(fault).encode(), method="POST"
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.status == 200


class RegoWorker:
    """A regopy process (see ``_regopy_worker``): load modules, query many inputs."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(WORKER)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            encoding="utf-8",
        )

    def call(self, message: dict[str, Any]) -> dict[str, Any]:
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.write(json.dumps(message, ensure_ascii=False) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        assert line, f"the regopy worker died (exit {self.process.poll()})"
        reply: dict[str, Any] = json.loads(line)
        assert reply["ok"], reply["error"]
        return reply

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        self.process.wait(timeout=10)


class Rego:
    """The exported module of ``policy``, compiled once by the worker."""

    def __init__(
        self, worker: RegoWorker, policy: Policy, module: str | None = None, data: Any = None
    ) -> None:
        self.worker = worker
        self.policy = policy
        self.answer_entry = f"{data_path(policy)}/answer"
        self.decision_entry = f"{data_path(policy)}/decision"
        worker.call(
            {
                "op": "load",
                "modules": {"policy.rego": module if module is not None else to_rego(policy)},
                "data": [] if data is None else [json.dumps(data, ensure_ascii=False)],
                "entries": [self.answer_entry, self.decision_entry],
            }
        )

    def query(
        self, payloads: list[dict[str, Any]], entry: str | None = None, *, keyed: bool = True
    ) -> list[Any]:
        """The module's answers. ``keyed``: each payload (a valid request) is sent as
        ``opa_input`` makes it, with the name keys of its list-matched fields, as
        ``OpaEngine`` sends it; else exactly as given."""
        if keyed:
            payloads = [opa_input(self.policy, p) for p in payloads]
        inputs = [json.dumps(p, ensure_ascii=False) for p in payloads]
        reply = self.worker.call(
            {"op": "query", "entry": entry or self.answer_entry, "inputs": inputs}
        )
        results: list[Any] = reply["results"]
        return results

    def answers(self, payloads: list[dict[str, Any]]) -> list[dict[str, Any]]:
        found = []
        for a in self.query(payloads):
            answer = {
                "decision": a["decision"],
                "determining_rule": a["determining_rule"],
                "matched_rules": a["matched_rules"],
                "obligations": a["obligations"],
                "errors": [e["code"] for e in a["errors"]],
            }
            if "dryrun" in a:
                answer["dryrun"] = [
                    _dryrun_entry(d["id"], d.get("error", {}).get("code")) for d in a["dryrun"]
                ]
            found.append(answer)
        return found


def native_answer(engine: Engine, payload: dict[str, Any]) -> dict[str, Any]:
    decision = engine.evaluate(payload)
    answer = {
        "decision": decision.effect.value,
        "determining_rule": decision.determining_rule,
        "matched_rules": [m.id for m in decision.matched_rules],
        "obligations": [o.to_dict() for o in decision.obligations],
        "errors": [e.code for e in decision.errors],
    }
    if any(rule.dryrun for rule in engine.policy.rules):  # shadow mode: an additive key
        answer["dryrun"] = [_dryrun_entry(d.id, d.error) for d in decision.dryrun]
    return answer


def _dryrun_entry(rule_id: str, error: Any) -> dict[str, Any]:
    """A dry-run entry as compared: the rule, and its error's code (messages differ)."""
    code = error if error is None or isinstance(error, str) else error.code
    return {"id": rule_id, "error": code}


def disagreements(
    rego: Rego, policy: Policy, payloads: list[dict[str, Any]]
) -> list[tuple[dict[str, Any], dict[str, Any], dict[str, Any]]]:
    """(request, native, rego) for every request the two answer differently."""
    engine = Engine(policy)
    native = [native_answer(engine, p) for p in payloads]
    exported = rego.answers(payloads)
    return [(p, n, e) for p, n, e in zip(payloads, native, exported, strict=True) if n != e]


# -- requests ------------------------------------------------------------------------
def _conditions(policy: Policy) -> Iterator[Cond]:
    for rule in policy.rules:
        if rule.when is not None:
            yield rule.when
        for obligation in rule.obligations:
            if obligation.when is not None:
                yield obligation.when


def _tests(cond: Cond) -> Iterator[Test]:
    return (part for part in condition_parts(cond) if isinstance(part, Test))


def _constants(policy: Policy, rng: random.Random) -> dict[str, list[Any]]:
    """Values worth trying, per field path, from the policy's own tests."""
    found: dict[str, list[Any]] = {}
    for cond in _conditions(policy):
        for test in _tests(cond):
            values = found.setdefault(test.field, [])
            operand = test.operand
            if test.op in ("lt", "lte", "gt", "gte") and not isinstance(operand, str):
                values += [operand - 1, operand, operand + 1, operand + 0.5, operand - 0.5]
            elif test.op == "under":
                for prefix in operand:
                    values += [prefix, prefix + ".x", prefix + "x", prefix.rpartition(".")[0]]
            elif test.list_name is not None:
                items = sorted(policy.lists[test.list_name])
                picked = rng.sample(items, min(8, len(items)))
                values += picked + [name_variant(item, rng) for item in picked]
            elif isinstance(operand, ListRef):
                values += sorted(operand.items)
            elif test.op == "matches":
                values += REGEXES.get(operand, [])
            elif test.op == "exists":
                pass
            elif isinstance(operand, tuple):
                values += list(operand)
            else:
                values.append(operand)
    return found


#: ways a listed name is written that people read as the same name (issue 12): each
#: takes the name and a position; names match after normalisation, natively and in Rego
VARIANTS: list[Callable[[str, int], str]] = [
    lambda s, i: s.upper(),
    lambda s, i: s.lower(),
    lambda s, i: f" {s}\t",
    lambda s, i: s + "\n",
    lambda s, i: s + "\x00",
    lambda s, i: s.replace(" ", "  ", 1),
    lambda s, i: s.replace(" ", "\u00a0"),
    lambda s, i: s[:i] + "\u200b" + s[i:],
    lambda s, i: s[:i] + "\u200d" + s[i:],
    lambda s, i: s[:i] + "\u00ad" + s[i:],
    lambda s, i: "\u202e" + s,
    lambda s, i: "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in s),
    lambda s, i: s.replace("a", "\u0430").replace("o", "\u043e").replace("e", "\u0435"),
]


def name_variant(name: str, rng: random.Random) -> str:
    """``name`` written differently, as one of ``VARIANTS`` (a random one)."""
    return rng.choice(VARIANTS)(name, rng.randint(0, len(name)))


def _pick(rng: random.Random, options: list[Any], fresh: list[Any]) -> Any:
    pool = [*options, *fresh]
    return rng.choice(pool)


def _attribute(rng: random.Random, known: list[Any]) -> Any:
    strings = [v for v in known if isinstance(v, str)] or STRINGS
    numbers = [v for v in known if isinstance(v, int | float) and not isinstance(v, bool)]
    kind = rng.choice(["bool", "int", "float", "str", "str", "list"])
    if kind == "bool":
        return rng.choice([True, False])
    if kind == "int":
        pool = [int(n) for n in numbers] + [0, 1, 2, -1, 1000]
        return rng.choice(pool)
    if kind == "float":
        return rng.choice([float(n) for n in numbers] + [0.5, 1.0, 2.5, -0.5])
    if kind == "str":
        return _pick(rng, strings, STRINGS)
    size = rng.randint(0, 3)
    return [rng.choice([*strings, *STRINGS]) for _ in range(size)]


def _declared_value(rng: random.Random, spec: AttributeSpec) -> Any:
    """A value that fits a declared attribute."""
    if spec.type == "boolean":
        return rng.random() < 0.5
    if spec.type in ("number", "integer"):
        return rng.randint(-3, 3)
    options = list(spec.values or ("x", "y"))
    if spec.type == "list":
        return rng.sample(options, rng.randint(0, min(3, len(options))))
    return rng.choice(options)


def generated_requests(policy: Policy, count: int, seed: int = 0) -> list[dict[str, Any]]:
    """``count`` valid requests (validated, defaults filled in) that exercise ``policy``."""
    rng = random.Random(seed)
    known = _constants(policy, rng)
    purposes = sorted(policy.vocabulary.names)
    attribute_keys = sorted(
        {f[len("attributes.") :] for f in known if f.startswith("attributes.")} | {"extra"}
    )
    out: list[dict[str, Any]] = []
    while len(out) < count:
        request: dict[str, Any] = {
            "requester": {
                "organization": _pick(rng, known.get("requester.organization", []), _FRESH)
            },
            "purpose": rng.choice(purposes),
        }
        for path in ("requester.country", "requester.entity_id", "model", "request_id"):
            if rng.random() < 0.4:
                continue
            fresh = ["US", "FR", "ZZ"] if path == "requester.country" else ["EX-1", "claude-gov"]
            value = _pick(rng, known.get(path, []), fresh)
            head, _, tail = path.rpartition(".")
            (request.setdefault(head, {}) if head else request)[tail] = value
        data: dict[str, Any] = {}
        for path in ("data.subjects", "data.provenance", "data.legal_authority"):
            spec = FIELDS[path]
            assert spec.enum is not None
            data[path.split(".")[1]] = rng.choice([m.value for m in spec.enum])
        counts = [int(v) for v in known.get("data.subject_count", []) if isinstance(v, int | float)]
        data["subject_count"] = max(0, rng.choice([*counts, 0, 1, 12, 1000, 1001, 2_000_000]))
        data["categories"] = rng.sample([c.value for c in Category], rng.randint(0, 3))
        request["data"] = data
        request["autonomy"] = {
            "level": rng.choice([m.value for m in FIELDS["autonomy.level"].enum or ()]),
            "lethal": rng.random() < 0.3,
        }
        request["environment"] = {
            "network": rng.choice([m.value for m in FIELDS["environment.network"].enum or ()]),
            "classification": rng.choice(
                [m.value for m in FIELDS["environment.classification"].enum or ()]
            ),
        }
        attributes = {}
        for key in attribute_keys:
            if rng.random() < 0.3:
                continue
            value = _attribute(rng, known.get(f"attributes.{key}", []))
            spec = (policy.vocabulary.attributes or {}).get(key)
            if spec is not None and not spec.accepts(value):
                value = _declared_value(rng, spec)  # else nearly every request is invalid
            attributes[key] = value
        request["attributes"] = attributes
        try:
            req = validate_request(request, policy.vocabulary)
        except RequestError:
            continue
        out.append(request_to_builtins(req))
    return out
