"""A FastAPI gateway that is its own app: ``UsepolicyMiddleware`` checks every call to
``/v1/`` before the route runs, and records what happened after it answered.

    pip install 'usepolicy[gateway]' fastapi
    USEPOLICY_AUDIT_LOG=audit.jsonl uvicorn examples.gateway.app:app --port 8088
    curl -s localhost:8088/v1/chat/completions -H 'Authorization: Bearer sk-example-army' \\
      -H 'X-Usepolicy-Use: {"purpose": "military.logistics"}' -d '{"messages": []}'
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI

from usepolicy import Enforcement, Enforcer
from usepolicy.gateway import (
    UsepolicyMiddleware,
    load_environment,
    load_keys,
    usepolicy_enforcement,
)

HERE = Path(__file__).parent

# the obligations this deployment fulfils; an allow carrying any other is refused
enforcer = Enforcer(
    audit_log=os.environ.get("USEPOLICY_AUDIT_LOG", "audit.jsonl"),
    obligations=["minimize-incidental-domestic-data"],
)
api = FastAPI()


@api.post("/v1/chat/completions")
async def chat(use: Annotated[Enforcement, Depends(usepolicy_enforcement)]) -> dict[str, Any]:
    # call the model here: only allowed calls, whose record is durable, get this far
    record = use.record
    return {
        "object": "chat.completion",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "(model answer)"}}],
        "usepolicy": {
            "decision_id": record.decision_id,
            "rule": record.determining_rule,
            "obligations": [obligation.id for obligation in record.obligations],
        },
    }


@api.get("/healthz")
async def health() -> dict[str, str]:
    return {"status": "ok"}


app = UsepolicyMiddleware(
    api,
    enforcer,
    keys=load_keys(HERE / "keys.yaml"),
    environment=load_environment(HERE / "env.yaml"),
    paths=("/v1/",),
)
