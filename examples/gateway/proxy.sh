#!/bin/sh
# The enforcing proxy in front of an OpenAI-compatible model, with this folder's key
# and environment files:
#   UPSTREAM=http://127.0.0.1:8000 PORT=8088 AUDIT_LOG=audit.jsonl examples/gateway/proxy.sh
# then, as the Army Intelligence Center (key sk-example-army):
#   curl -s localhost:8088/v1/chat/completions -H 'Authorization: Bearer sk-example-army' \
#     -H 'Content-Type: application/json' \
#     -d '{"model": "m", "messages": [], "metadata": {"purpose": "military.logistics"}}'
# kill -HUP reloads the policy; GET /metrics and /healthz are the proxy's own.
here=$(dirname "$0")
exec usepolicy proxy \
  --upstream "${UPSTREAM:-http://127.0.0.1:8000}" \
  --port "${PORT:-8088}" \
  --keys "$here/keys.yaml" \
  --environment "$here/env.yaml" \
  --audit-log "${AUDIT_LOG:-audit.jsonl}" \
  --accept-obligation minimize-incidental-domestic-data
