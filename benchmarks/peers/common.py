"""The policies and the request pool shared by every engine in the peer benchmark."""

from __future__ import annotations

import copy
import sys
from pathlib import Path
from typing import Any, Final

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _pool import request_pool, thousand_rule_policy_text

import usepolicy
from usepolicy.policy import Policy, pack_path
from usepolicy.request._fast import request_to_builtins, validate_request

PEER_DIR: Final = Path(__file__).resolve().parent
DENIED_LIST: Final = "denied_entities"


class Disagreement(AssertionError):
    """A peer decided a request differently from usepolicy."""


def reference_policy() -> Policy:
    """The reference pack ``national-security-safeguards``, as shipped in the package."""
    return usepolicy.load_policy()


def thousand_rule_policy(n: int = 1000) -> Policy:
    """The reference pack plus ``n`` per-organisation allow rules placed before its rules
    (``_pool.thousand_rule_policy_text``)."""
    return usepolicy.loads_policy(thousand_rule_policy_text(n), base_dir=pack_path().parent)


def peer_pool(size: int = 1000, seed: int = 7) -> list[dict[str, Any]]:
    """``_pool.request_pool(size, seed)`` with a few deterministic variations the plain
    pool lacks, so every branch of every translation is exercised: every 25th request
    carries a denied ``requester.entity_id``, every 25th (offset) an ordinary one, and
    every 40th is sparse (only the required fields: every default applies), and every
    50th is a domestic investigation (with a warrant, or, offset, with no authority),
    which few random draws make: it takes four fields at once."""
    denied = sorted(reference_policy().lists[DENIED_LIST])
    pool = copy.deepcopy(request_pool(size, seed))
    for i, request in enumerate(pool):
        if i % 25 == 3:
            request["requester"]["entity_id"] = denied[i % len(denied)]
        elif i % 25 == 11:
            request["requester"]["entity_id"] = f"ENT-{i:05d}"
        elif i % 50 in (29, 41):
            request["purpose"] = "law_enforcement.investigation"
            request["data"].update(
                subjects="domestic",
                provenance="targeted",
                subject_count=3,
                legal_authority="warrant" if i % 50 == 29 else "none",
            )
        elif i % 40 == 17:
            pool[i] = {
                "requester": {"organization": request["requester"]["organization"]},
                "purpose": request["purpose"],
            }
    return pool


def builtins_pool(pool: list[dict[str, Any]], policy: Policy) -> list[dict[str, Any]]:
    """The pool validated by usepolicy, defaults filled in, as JSON-ready builtins: what
    the peers are given (their timings do not include validation)."""
    return [request_to_builtins(validate_request(r, policy.vocabulary)) for r in pool]
