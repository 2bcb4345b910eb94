"""Rego peer: a Rego v1 module evaluated in-process with ``regopy`` (rego-cpp) through a
prepared bundle (``Interpreter.build`` once, ``query_bundle_entrypoint`` per request).

Two modules are run: ``usepolicy export rego`` output (``usepolicy.backends.opa.to_rego``,
when it is installed) and the hand translation in ``national-security-safeguards.rego``;
``RegoPeer.source`` says which one a peer runs.

What a caller does per decision (and what is timed): hand the validated request to
rego-cpp as input (``regopy.Input``, which copies the Python values through the C API;
about twice as fast here as JSON text through ``set_input_term``), run the bundle's
entrypoint, read the answer back (regopy parses rego-cpp's JSON output).
"""

from __future__ import annotations

import json
from typing import Any, Final

import regopy

from usepolicy.policy import Policy

from .common import PEER_DIR

HAND_FILE: Final = PEER_DIR / "national-security-safeguards.rego"


def package_of(policy: Policy) -> str:
    """``usepolicy.<name>`` with ``-`` turned into ``_`` (DESIGN.md §6)."""
    return "usepolicy." + policy.name.replace("-", "_")


def hand_module(extra_org_rules: int = 0) -> str:
    """The hand translation, plus ``extra_org_rules`` generated per-organisation allow
    rules ranked before the pack's rules (ranks "a0000"…), like
    ``_pool.thousand_rule_policy_text``."""
    extra = "".join(
        f'\nmatched contains ["a{i:04d}", "org-{i}-research", "allow"] if {{\n'
        f"\tinput.requester.organization == {json.dumps(f'Organisation {i}')}\n"
        f'\tunder(input.purpose, "general")\n'
        f"}}\n"
        for i in range(extra_org_rules)
    )
    return HAND_FILE.read_text() + extra


def exporter_module(policy: Policy) -> str | None:
    """``to_rego(policy)`` if the exporter is importable, else None."""
    try:
        from usepolicy.backends.opa import to_rego  # type: ignore[attr-defined]
    except ImportError:
        return None
    text: str = to_rego(policy)
    return text


def data_document(policy: Policy) -> dict[str, Any]:
    """The base document the hand translation reads: each list as a set-like object."""
    return {
        "lists": {name: dict.fromkeys(sorted(items), True) for name, items in policy.lists.items()}
    }


class RegoPeer:
    """One interpreter with the module and data, compiled once into a bundle."""

    def __init__(self, policy: Policy, module: str, source: str) -> None:
        self.source = source
        self.policy = policy
        # the exported module reads the name keys of list-matched fields from the input
        # (docs/opa.md); usepolicy computes them, as OpaEngine does (a few µs, next to
        # the interpreter's milliseconds)
        self.keyed = source == "exporter" and "name_keys" in module
        self.entrypoint = package_of(policy).replace(".", "/") + "/decision"
        self.interpreter = regopy.Interpreter()
        self.interpreter.add_module("policy.rego", module)
        self.interpreter.add_data_json(json.dumps(data_document(policy)))
        self.bundle = self.interpreter.build(None, [self.entrypoint])
        if not self.bundle.ok():
            raise ValueError(f"rego bundle did not build for {self.entrypoint}")

    def decide(self, request: dict[str, Any]) -> dict[str, Any]:
        """One decision, as a caller makes it: the input in, the ``decision`` out."""
        rego = self.interpreter
        if self.keyed:
            from usepolicy.backends.opa import opa_input

            request = opa_input(self.policy, request)
        rego.set_input(regopy.Input(request))
        output = rego.query_bundle_entrypoint(self.bundle, self.entrypoint)
        if not output.results:
            raise ValueError(f"rego: no result: {output}")
        answer: dict[str, Any] = output.results[0].expressions[0]
        return answer
