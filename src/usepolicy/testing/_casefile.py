"""Policy test files: the policy under test and cases with their expected outcomes.

```yaml
policy: national-security-safeguards.yaml     # or `policies: [a.yaml, b.yaml]`
cases:
  - name: broker-bought location data is mass surveillance
    request: {requester: {organization: X}, purpose: intelligence.analysis, ...}
    expect:
      decision: deny                          # allow | deny
      rule: no-mass-domestic-surveillance     # optional; null = the default decided
      obligations: []                         # optional; obligation ids, any order
      dryrun: []                              # optional; dry-run rules that would deny
```

Paths are relative to the test file; ``pack:NAME`` names a reference pack shipped in
the package, as in a policy's ``include``. Problems are reported all at once as
``path:line:col: code: message`` (a ``PolicyError`` of ``Diagnostic``s).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from .._errors import Diagnostic, PolicyError
from .._files import InputFileError, read_text
from ..policy import (
    MAX_FILE_BYTES,
    Effect,
    Node,
    NodeReader,
    YamlFailure,
    display_path,
    missing_pack,
    parse_yaml,
    resolve_source,
)

__all__ = ["UNCHECKED", "Case", "CaseFile", "Expect", "is_case_file", "load_case_file"]

CASE_SUFFIXES: Final = (".test.yaml", ".test.yml")
_TOP_KEYS: Final = ("policy", "policies", "cases")
_CASE_KEYS: Final = ("name", "request", "expect")
_EXPECT_KEYS: Final = ("decision", "rule", "obligations", "dryrun")


class _Unchecked:
    __slots__ = ()

    def __repr__(self) -> str:
        return "UNCHECKED"


#: an expectation left out of a case: not checked
UNCHECKED: Final = _Unchecked()


@dataclass(frozen=True, slots=True)
class Expect:
    """What a case expects; ``UNCHECKED`` parts are not compared."""

    decision: Effect
    rule: str | _Unchecked | None = UNCHECKED
    obligations: tuple[str, ...] | _Unchecked = UNCHECKED
    #: the dry-run rules (``enforcement: dryrun``) that would have denied, any order
    dryrun: tuple[str, ...] | _Unchecked = UNCHECKED

    def describe(self) -> str:
        text = self.decision.value
        if not isinstance(self.rule, _Unchecked):
            text += f" by rule {self.rule}" if self.rule else " by default"
        if not isinstance(self.obligations, _Unchecked):
            text += f" with obligations [{', '.join(sorted(self.obligations))}]"
        if not isinstance(self.dryrun, _Unchecked):
            text += f", dry run would deny [{', '.join(sorted(self.dryrun))}]"
        return text


@dataclass(frozen=True, slots=True)
class Case:
    """One case: a request and its expected outcome, with its position in the file."""

    name: str
    request: Any
    expect: Expect
    path: str
    line: int
    col: int


@dataclass(frozen=True, slots=True)
class CaseFile:
    """A loaded test file: the policy files under test (loaded together) and the cases."""

    path: str
    policies: tuple[Path, ...]
    cases: tuple[Case, ...]


def is_case_file(path: str | os.PathLike[str]) -> bool:
    """True for a policy test file name (``*.test.yaml`` / ``*.test.yml``)."""
    return os.fspath(path).endswith(CASE_SUFFIXES)


class _Reader(NodeReader):
    def __init__(self, path: str) -> None:
        super().__init__(path, [])

    def text(self, node: Node, what: str) -> str | None:
        if isinstance(node.value, str) and node.value:
            return node.value
        self.err(node, "wrong-type", f"{what} must be a non-empty string, got {node.describe()}")
        return None

    def expect(self, node: Node) -> Expect | None:
        spec = self.mapping(node, "`expect`", _EXPECT_KEYS, suggest=False)
        if spec is None:
            return None
        if "decision" not in spec:
            self.err(node, "missing-key", "`expect` needs `decision` (allow or deny)")
            return None
        decision = spec["decision"].value
        if decision not in ("allow", "deny"):
            self.err(
                spec["decision"], "bad-value",
                f"`decision` must be `allow` or `deny`, got {spec['decision'].describe()}",
            )  # fmt: skip
            return None
        rule: str | _Unchecked | None = UNCHECKED
        if "rule" in spec:
            value = spec["rule"].value
            if value is not None and not isinstance(value, str):
                self.err(spec["rule"], "wrong-type", "`rule` must be a rule id or null")
                return None
            rule = value
        obligations: tuple[str, ...] | _Unchecked = UNCHECKED
        if "obligations" in spec:
            items = spec["obligations"].value
            if not isinstance(items, list):
                self.err(spec["obligations"], "wrong-type", "`obligations` must be a list of ids")
                return None
            ids = []
            for item in items:
                value = item.value.get("id") if isinstance(item.value, dict) else item
                if not isinstance(value, Node) or not isinstance(value.value, str):
                    self.err(item, "wrong-type", "an obligation is an id (or `{id: ...}`)")
                    return None
                ids.append(value.value)
            obligations = tuple(ids)
        dryrun: tuple[str, ...] | _Unchecked = UNCHECKED
        if "dryrun" in spec:
            listed = spec["dryrun"].value
            if not isinstance(listed, list) or not all(isinstance(i.value, str) for i in listed):
                self.err(spec["dryrun"], "wrong-type", "`dryrun` must be a list of rule ids")
                return None
            dryrun = tuple(item.value for item in listed)
        return Expect(Effect(decision), rule, obligations, dryrun)

    def case(self, node: Node, seen: dict[str, Node]) -> Case | None:
        spec = self.mapping(node, "a case", _CASE_KEYS, _CASE_KEYS, suggest=False)
        if spec is None or any(key not in spec for key in _CASE_KEYS):
            return None
        name = self.text(spec["name"], "a case name")
        expect = self.expect(spec["expect"])
        if name is not None and name in seen:
            self.err(
                spec["name"], "duplicate-case",
                f"case name `{name}` is already used at line {seen[name].line}",
            )  # fmt: skip
            return None
        if name is None or expect is None:
            return None
        seen[name] = spec["name"]
        return Case(name, spec["request"].plain_value(), expect, self.path, node.line, node.col)

    def source(self, node: Node, base: Path, name: str) -> Path:
        missing = missing_pack(name)
        if missing is not None:
            self.err(node, "file-not-found", *missing)
        return resolve_source(base, name)

    def read(self, root: Node, base: Path) -> CaseFile:
        top = self.mapping(root, "a policy test file", _TOP_KEYS, suggest=False) or {}
        policies: list[Path] = []
        if "policy" in top and "policies" in top:
            self.err(top["policies"], "conflicting-keys", "give `policy` or `policies`, not both")
        if "policy" in top:
            name = self.text(top["policy"], "`policy`")
            if name is not None:
                policies.append(self.source(top["policy"], base, name))
        elif "policies" in top:
            items = top["policies"].value
            if not isinstance(items, list) or not items:
                self.err(top["policies"], "wrong-type", "`policies` must be a non-empty list")
            else:
                for item in items:
                    name = self.text(item, "a policy path")
                    if name is not None:
                        policies.append(self.source(item, base, name))
        else:
            self.err(root, "missing-key", "a policy test file needs `policy` (or `policies`)")
        cases: list[Case] = []
        if "cases" not in top:
            self.err(root, "missing-key", "a policy test file needs `cases`")
        elif not isinstance(top["cases"].value, list):
            self.err(top["cases"], "wrong-type", "`cases` must be a list")
        else:
            seen: dict[str, Node] = {}
            for item in top["cases"].value:
                case = self.case(item, seen)
                if case is not None:
                    cases.append(case)
        return CaseFile(self.path, tuple(policies), tuple(cases))


def load_case_file(path: str | os.PathLike[str]) -> CaseFile:
    """Load a policy test file (the policies it names are not loaded here).

    Raises:
        PolicyError: every problem in the file, as ``path:line:col: code: message``.
    """
    source = Path(path)
    display = display_path(source)
    try:
        text = read_text(source, MAX_FILE_BYTES)
    except InputFileError as exc:
        message = f"policy test file {exc.reason}"
        raise PolicyError([Diagnostic(display, 1, 1, exc.code, message)]) from None
    try:
        root = parse_yaml(text, display)
    except YamlFailure as failure:
        raise PolicyError(failure.diagnostics) from None
    reader = _Reader(display)
    result = reader.read(root, source.parent)
    if reader.diagnostics:
        raise PolicyError(reader.diagnostics)
    return result
