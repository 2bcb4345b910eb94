"""Rules as loaded: ``enforcement`` (shadow mode) and its checks."""

from __future__ import annotations

import pytest

from usepolicy import PolicyError, loads_policy
from usepolicy.policy import Enforcement

HEAD = "usepolicy: 1\nname: t\nversion: '1'\ndefault: allow\ncombine: deny-overrides\n"
RULE = """rules:
  - id: trial
    effect: {effect}
    reason: r
{extra}    when: {{data.subjects: domestic}}
"""


def _policy(effect: str = "deny", extra: str = "") -> str:
    return HEAD + RULE.format(effect=effect, extra=extra)


def test_enforce_is_the_default_and_leaves_the_digest_alone() -> None:
    plain = loads_policy(_policy())
    explicit = loads_policy(_policy(extra="    enforcement: enforce\n"))
    assert plain.rules[0].enforcement is Enforcement.ENFORCE and not plain.rules[0].dryrun
    assert plain.digest == explicit.digest
    assert "enforcement" not in plain.rules[0].document()


def test_dryrun_is_loaded_and_changes_the_digest() -> None:
    policy = loads_policy(_policy(extra="    enforcement: dryrun\n"))
    assert policy.rules[0].dryrun
    assert policy.rules[0].document()["enforcement"] == "dryrun"
    assert policy.digest != loads_policy(_policy()).digest  # a record names which it was


@pytest.mark.parametrize(
    ("effect", "extra", "expected"),
    [
        ("deny", "    enforcement: audit\n", "<string>:10:18: bad-value: `enforcement` must be"),
        (
            "allow",
            "    enforcement: dryrun\n",
            "<string>:10:18: dryrun-allow: `enforcement: dryrun`",
        ),
    ],
)
def test_bad_enforcement_is_a_positioned_error(effect: str, extra: str, expected: str) -> None:
    with pytest.raises(PolicyError) as caught:
        loads_policy(_policy(effect, extra))
    assert str(caught.value).startswith(expected)
