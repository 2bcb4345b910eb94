"""The LiteLLM guardrail, against LiteLLM's own classes: found from the example
config by LiteLLM's own loader and made with the arguments its guardrail registry
passes, called with its ``UserAPIKeyAuth`` and ``DualCache``, blocking with its
``GuardrailRaisedException``. (LiteLLM's proxy server itself, ``litellm[proxy]``, is
too heavy to install for the test suite: dozens of packages.)"""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import pytest
import yaml

from usepolicy.audit import read_records, verify_log
from usepolicy.gateway import key_digest
from usepolicy.record import DecisionRecord, OutcomeRecord

from ..conftest import REPO

if TYPE_CHECKING:
    from usepolicy.gateway.litellm import UsepolicyGuardrail

EXAMPLE = REPO / "examples" / "gateway"
ARMY = "sk-example-army"


@pytest.fixture(scope="module")
def lite() -> SimpleNamespace:
    """LiteLLM's classes. Imported here, not at the top: importing LiteLLM takes 5-10 s,
    which every pytest-xdist worker would pay while collecting, not only the one that
    runs these tests."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no network at import
    pytest.importorskip("litellm", reason="the [litellm] extra is not installed")
    from litellm.exceptions import GuardrailRaisedException
    from litellm.integrations.custom_guardrail import CustomGuardrail
    from litellm.proxy._types import UserAPIKeyAuth
    from litellm.proxy.types_utils.utils import get_instance_fn

    from usepolicy.gateway.litellm import UsepolicyGuardrail

    return SimpleNamespace(
        GuardrailRaisedException=GuardrailRaisedException,
        CustomGuardrail=CustomGuardrail,
        UserAPIKeyAuth=UserAPIKeyAuth,
        get_instance_fn=get_instance_fn,
        UsepolicyGuardrail=UsepolicyGuardrail,
    )


@pytest.fixture
def guardrail(
    lite: SimpleNamespace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> UsepolicyGuardrail:
    """The guardrail as LiteLLM's proxy makes it from examples/gateway/litellm-config.yaml."""
    shutil.copytree(EXAMPLE, tmp_path / "examples" / "gateway")
    monkeypatch.chdir(tmp_path)
    config = yaml.safe_load((EXAMPLE / "litellm-config.yaml").read_text())
    (entry,) = config["guardrails"]
    params = dict(entry["litellm_params"])
    config_file = str(tmp_path / "config.yaml")
    cls = lite.get_instance_fn(params.pop("guardrail"), config_file_path=config_file)
    # what litellm.proxy.guardrails.guardrail_registry.initialize_custom_guardrail passes
    made = cls(
        guardrail_name=entry["guardrail_name"],
        event_hook=params.pop("mode"),
        default_on=params.pop("default_on"),
        **params,
    )
    assert isinstance(made, lite.UsepolicyGuardrail)
    return made


def pre_call(guardrail: UsepolicyGuardrail, key: str, metadata: dict[str, Any]) -> dict[str, Any]:
    # LiteLLM is imported by now: `guardrail` depends on `lite`
    from litellm.caching.dual_cache import DualCache
    from litellm.proxy._types import UserAPIKeyAuth

    auth = UserAPIKeyAuth(api_key=key_digest(key))  # LiteLLM keeps the key's sha256
    data = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}],
            "metadata": {**metadata, "user_api_key_hash": "x", "headers": {}}}  # fmt: skip
    result: dict[str, Any] = asyncio.run(
        guardrail.async_pre_call_hook(auth, DualCache(), data, "acompletion")
    )
    return result


def test_it_is_litellms_guardrail_made_from_the_example_config(
    lite: SimpleNamespace, guardrail: UsepolicyGuardrail
) -> None:
    assert isinstance(guardrail, lite.CustomGuardrail)
    assert guardrail.guardrail_name == "usepolicy"
    assert guardrail.enforcer.policy.name == "national-security-safeguards"


def test_allowed_call_goes_ahead_and_its_outcome_is_recorded(
    lite: SimpleNamespace, guardrail: UsepolicyGuardrail, tmp_path: Path
) -> None:
    data = pre_call(guardrail, ARMY, {"purpose": "military.logistics", "data.subject_count": "0"})
    decision_id = data["metadata"]["usepolicy_decision_id"]
    asyncio.run(guardrail.async_post_call_success_hook(data, lite.UserAPIKeyAuth(), {"id": "r"}))
    log = tmp_path / "audit.jsonl"
    assert verify_log(log).ok
    decision, outcome = (record for _, record in read_records(log))
    assert isinstance(decision, DecisionRecord) and decision.decision_id == decision_id
    assert decision.request is not None
    assert decision.request["requester"]["organization"] == "Army Intelligence Center"
    assert decision.request["environment"] == {"network": "private", "classification": "cui"}
    assert isinstance(outcome, OutcomeRecord)
    assert (outcome.decision_id, outcome.outcome) == (decision_id, "executed")


@pytest.mark.parametrize(
    ("key", "metadata", "status", "text"),
    [
        (ARMY, {"purpose": "weapons.engagement", "autonomy.level": "fully_autonomous"}, 403,
         "autonom"),
        (ARMY, {"purpose": "intelligence.foriegn"}, 400, "purpose"),
        ("sk-unknown", {"purpose": "general.assistant"}, 401, "unknown API key"),
    ],
)  # fmt: skip
def test_blocked_with_litellms_own_exception(
    lite: SimpleNamespace,
    guardrail: UsepolicyGuardrail,
    key: str,
    metadata: dict[str, Any],
    status: int,
    text: str,
) -> None:
    with pytest.raises(lite.GuardrailRaisedException) as blocked:
        pre_call(guardrail, key, metadata)
    assert blocked.value.status_code == status
    assert text in blocked.value.message
    assert blocked.value.guardrail_name == "usepolicy"


def test_an_upstream_failure_is_recorded(
    lite: SimpleNamespace, guardrail: UsepolicyGuardrail, tmp_path: Path
) -> None:
    data = pre_call(guardrail, ARMY, {"purpose": "general.assistant"})

    class RateLimited(Exception):
        status_code = 429

    asyncio.run(
        guardrail.async_post_call_failure_hook(
            data, RateLimited("slow down"), lite.UserAPIKeyAuth()
        )
    )
    outcome = [record for _, record in read_records(tmp_path / "audit.jsonl")][-1]
    assert isinstance(outcome, OutcomeRecord)
    assert (outcome.outcome, outcome.status) == ("upstream-error", 429)
