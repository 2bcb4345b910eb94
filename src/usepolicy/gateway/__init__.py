"""Gateway adapters (extra ``[gateway]``: Starlette, httpx, uvicorn, prometheus-client).

- ``Gateway``: an OpenAI-compatible reverse proxy that enforces every call
  (``usepolicy proxy``), with ``/metrics`` and ``/healthz``, reloading on ``SIGHUP``.
- ``UsepolicyMiddleware``: the pure ASGI middleware it stands on, for gateways that are
  their own app; ``usepolicy_enforcement``: the FastAPI dependency that reads its result.
- ``RequestBuilder`` / ``IncomingCall``: the use request of a call (requester from the
  API key, environment from the deployment, the rest from ``X-Usepolicy-Use`` or the
  OpenAI body's ``metadata``); ``convert_metadata`` for the string values of metadata.
- ``load_keys`` / ``KeyRing`` / ``key_digest``, ``load_environment``: KEYS.yaml, ENV.yaml.
- ``GatewayRejection``: an answer in the OpenAI error format (400/401/403/503).
- ``GatewayMetrics``: the Prometheus metrics.

Importing it without the extra raises ``GatewayUnavailableError`` saying what to
install. See docs/gateway.md.
"""

from .._errors import UsePolicyError


class GatewayUnavailableError(UsePolicyError, ImportError):
    """The gateway's libraries are not installed."""

    code = "gateway-unavailable"


try:  # the guard: say what to install, once, here
    import httpx as _httpx  # noqa: F401
    import prometheus_client as _prometheus_client  # noqa: F401
    import starlette as _starlette  # noqa: F401
except ImportError as _exc:
    raise GatewayUnavailableError(
        f"usepolicy.gateway needs the extra [gateway] ({_exc.name} is missing): "
        "pip install 'usepolicy[gateway]'"
    ) from _exc

from ._build import USE_HEADER, IncomingCall, RequestBuilder, RequestHook, convert_metadata  # noqa: E402
from ._config import KeyRing, key_digest, load_environment, load_keys  # noqa: E402
from ._depend import usepolicy_enforcement  # noqa: E402
from ._http import DECISION_HEADER, GatewayRejection  # noqa: E402
from ._metrics import GatewayMetrics  # noqa: E402
from ._middleware import UsepolicyMiddleware, prompt_of  # noqa: E402
from ._proxy import Gateway  # noqa: E402

__all__ = [
    "DECISION_HEADER",
    "USE_HEADER",
    "Gateway",
    "GatewayMetrics",
    "GatewayRejection",
    "GatewayUnavailableError",
    "IncomingCall",
    "KeyRing",
    "RequestBuilder",
    "RequestHook",
    "UsepolicyMiddleware",
    "convert_metadata",
    "key_digest",
    "load_environment",
    "load_keys",
    "prompt_of",
    "usepolicy_enforcement",
]
