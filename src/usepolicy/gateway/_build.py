"""Building the use request of an HTTP call.

Who asks is never the client's word: ``requester`` comes from the API key through
KEYS.yaml, ``environment`` from the deployment's ENV.yaml. What is asked comes from the
client, as either

- the header ``X-Usepolicy-Use``: a JSON object holding the rest of the request
  (``purpose``, ``model``, ``description``, ``data``, ``autonomy``, ``attributes``), or
- the OpenAI body's ``metadata``, whose values are strings: dotted keys
  (``"data.subjects": "foreign"``, ``"data.subject_count": "12"``) converted to the
  types the request declares (``usepolicy.request.REQUEST_SHAPE``), and
  ``attributes.KEY`` to the type the policy declares for ``KEY`` (a string otherwise).

A value that does not convert is left as it is, so the request's own validation names
the field in its error (a logged deny, answered 400). ``model`` defaults to the body's
``model``. The prompt is never part of the request.

A deployer with their own headers or token claims passes a hook instead: any callable
taking an ``IncomingCall`` and returning the request (a mapping), or raising
``GatewayRejection``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from ..request import REQUEST_SHAPE, Shape, field_shape
from ._http import GatewayRejection

if TYPE_CHECKING:
    from ..policy import Policy
    from ._config import KeyRing

__all__ = ["USE_HEADER", "IncomingCall", "RequestBuilder", "RequestHook", "convert_metadata"]

USE_HEADER: Final = "x-usepolicy-use"
#: the request fields the client may state; the others are the deployment's
CLIENT_FIELDS: Final = frozenset(
    {"request_id", "model", "purpose", "description", "data", "autonomy", "attributes"}
)
_MAX_HEADER: Final = 64 * 1024


@dataclass(frozen=True, slots=True)
class IncomingCall:
    """An HTTP call as a request builder sees it: method, path, headers (lowercase
    names), and the body's bytes (``json()`` parses it once)."""

    method: str
    path: str
    headers: Mapping[str, str]
    body: bytes = b""
    _parsed: list[Any] = field(default_factory=list, repr=False, compare=False)

    def json(self) -> Any:
        """The body as JSON (None when empty or not JSON)."""
        if not self._parsed:
            try:
                self._parsed.append(json.loads(self.body) if self.body else None)
            except (ValueError, RecursionError):
                self._parsed.append(None)
        return self._parsed[0]

    def bearer_token(self) -> str | None:
        """The token of ``Authorization: Bearer TOKEN``, or None."""
        scheme, _, token = self.headers.get("authorization", "").partition(" ")
        token = token.strip()
        return token if scheme.lower() == "bearer" and token else None


RequestHook = Callable[[IncomingCall], Mapping[str, Any] | Awaitable[Mapping[str, Any]]]


def _invalid(message: str, param: str | None) -> GatewayRejection:
    return GatewayRejection(
        400, "usepolicy_invalid_request", message, code="invalid-request", param=param
    )


class RequestBuilder:
    """The default hook: requester from the API key, environment from the deployment,
    the rest from ``X-Usepolicy-Use`` or the body's ``metadata``.

    Args:
        keys: the API keys (``load_keys``).
        environment: the deployment's environment (``load_environment``); None leaves
            the request's defaults.
        policy: the policy in force, read per call (so a reload is seen): it declares
            the types of ``attributes.KEY``.
    """

    def __init__(
        self,
        keys: KeyRing,
        environment: Mapping[str, Any] | None = None,
        policy: Callable[[], Policy] | None = None,
    ) -> None:
        self.keys = keys
        self.environment = dict(environment) if environment else None
        self._policy = policy

    def __call__(self, call: IncomingCall) -> dict[str, Any]:
        token = call.bearer_token()
        if token is None:
            raise GatewayRejection(
                401, "usepolicy_unauthorized", "missing API key: send Authorization: Bearer KEY"
            )
        requester = self.keys.requester(token)
        if requester is None:
            raise GatewayRejection(401, "usepolicy_unauthorized", "unknown API key")
        use = self._use(call)
        request: dict[str, Any] = {**use, "requester": requester}
        if self.environment is not None:
            request["environment"] = dict(self.environment)
        body = call.json()
        if "model" not in request and isinstance(body, dict) and isinstance(body.get("model"), str):
            request["model"] = body["model"]
        return request

    def _use(self, call: IncomingCall) -> dict[str, Any]:
        header = call.headers.get(USE_HEADER)
        if header is not None:
            if len(header) > _MAX_HEADER:
                raise _invalid(f"header `X-Usepolicy-Use` is over {_MAX_HEADER} bytes", None)
            try:
                use = json.loads(header)
            except (ValueError, RecursionError) as exc:
                raise _invalid(f"header `X-Usepolicy-Use` is not JSON: {exc}", None) from None
            if not isinstance(use, dict):
                raise _invalid("header `X-Usepolicy-Use` must be a JSON object", None)
            _client_fields(use, "header `X-Usepolicy-Use`")
            return use
        body = call.json()
        metadata = body.get("metadata") if isinstance(body, dict) else None
        if metadata is None:
            raise _invalid(
                "no use stated: send the header `X-Usepolicy-Use` or the body's `metadata` "
                "(at least `purpose`)",
                "purpose",
            )
        if not isinstance(metadata, dict):
            raise _invalid("the body's `metadata` must be an object", "metadata")
        declared = None
        if self._policy is not None:
            declared = self._policy().vocabulary.attributes
        return convert_metadata(metadata, declared)


def _client_fields(use: Mapping[str, Any], where: str) -> None:
    for key in use:
        if key in ("requester", "environment"):
            raise _invalid(
                f"{where}: `{key}` is set by the gateway (the API key, the deployment), "
                "never by the client",
                key,
            )


_TOP: Final = frozenset(f.path.partition(".")[0] for f in REQUEST_SHAPE)
_TRUE: Final = {"true": True, "false": False}


def convert_metadata(
    metadata: Mapping[str, Any], attributes: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The request fields in OpenAI ``metadata`` (dotted keys, string values), nested and
    converted to the declared types. Keys outside the request are left out (metadata
    has other uses); ``requester.*`` and ``environment.*`` are refused.

    Args:
        attributes: the policy's declared attributes (``AttributeSpec`` by key).

    Raises:
        GatewayRejection: 400, naming the key.
    """
    request: dict[str, Any] = {}
    for key, value in metadata.items():
        if not isinstance(key, str):
            continue
        top = key.partition(".")[0]
        if top not in _TOP:
            continue  # not ours: metadata carries the deployer's other tags too
        if top in ("requester", "environment"):
            raise _invalid(
                f"metadata `{key}`: `{top}` is set by the gateway, never by the client",
                f"metadata.{key}",
            )
        parts = key.split(".")
        if top == "attributes" and len(parts) == 2 and parts[1]:
            spec = attributes.get(parts[1]) if attributes else None
            converted = _typed(value, getattr(spec, "type", "string"))
        else:
            shape = field_shape(key)
            if shape is None:
                raise _invalid(f"metadata `{key}`: no such request field", f"metadata.{key}")
            converted = _convert(value, shape.shape)
        node = request
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise _invalid(f"metadata `{key}`: `{part}` is given twice", f"metadata.{key}")
            node = child
        if parts[-1] in node:
            raise _invalid(f"metadata `{key}` is given twice", f"metadata.{key}")
        node[parts[-1]] = converted
    return request


def _convert(value: Any, shape: Shape) -> Any:
    if not isinstance(value, str):
        return value  # already typed (a client that sends JSON values)
    if shape is Shape.INTEGER:
        return _typed(value, "integer")
    if shape is Shape.BOOLEAN:
        return _typed(value, "boolean")
    if shape is Shape.ENUM_LIST:
        return _typed(value, "list")
    if shape in (Shape.OBJECT, Shape.ATTRIBUTES):
        try:
            return json.loads(value)
        except (ValueError, RecursionError):
            return value
    return value


def _typed(value: Any, kind: str) -> Any:
    """``value`` as ``kind`` (an attribute type), or unchanged when it is not one."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if kind == "integer":
        body = text[1:] if text[:1] in "+-" else text
        return int(text) if body.isdecimal() and body.isascii() and len(body) <= 20 else value
    if kind == "number":
        try:
            number = float(text)
        except ValueError:
            return value
        if not math.isfinite(number):
            return value
        whole = number.is_integer() and not any(c in text for c in ".eE")
        return int(text) if whole else number
    if kind == "boolean":
        return _TRUE.get(text.lower(), value)
    if kind == "list":
        if text.startswith("["):
            try:
                items = json.loads(text)
            except (ValueError, RecursionError):
                return value
            return items
        return [item.strip() for item in text.split(",") if item.strip()]
    return value
