"""``OpaEngine``: the ``Engine`` interface, with decisions made by an OPA server.

Requests are validated here, exactly as the native engine validates them; OPA is asked
for ``data.usepolicy.<name>.answer`` (the module ``to_rego`` exports) with the
validated request as ``input``, plus the name keys of its list-matched fields
(``_input``). Everything that can go wrong on the way (a timeout, a
refused connection, an HTTP error, a body that is not JSON, an answer that is not a
well-formed decision of this policy) becomes a deny with the error recorded: never an
exception from ``evaluate``, never an allow.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterable, Mapping
from typing import Any, Final
from urllib.parse import urlsplit

from ..._errors import BackendError, quote_value
from ...engine import Decision, DecisionProblem, DryRun, MatchedRule, Obligation
from ...policy import Combine, Effect, Enforcement, Policy, Rule
from ...request import Req, Vocabulary, request_to_builtins, validate_request
from ._input import NAME_KEYS, input_name_keys, name_key_fields
from ._rego import package_path, to_rego

__all__ = ["OpaDecision", "OpaEngine"]

ENGINE_NAME: Final = "opa"
_RULE: Final = "answer"
_UNKNOWN: Final = "unknown"


class OpaDecision(Decision, gc=False):
    """A ``Decision`` made by OPA: its record names the engine ``opa``, the OPA version
    and the bundle revision, and reuses OPA's decision id when OPA logs decisions."""

    _engine: Mapping[str, str | None] | None = None
    _opa_decision_id: str | None = None

    def _record_engine(self) -> Mapping[str, str | None] | None:
        return self._engine

    def _record_id(self, decision_id: str | None) -> str | None:
        return self._opa_decision_id or decision_id


class _Failure(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class OpaEngine:
    """Decide requests with an Open Policy Agent server (``pip install 'usepolicy[opa]'``).

    Args:
        url: the server, e.g. ``http://localhost:8181`` (no path).
        policy: the policy OPA should serve. Every answer carries the digest of the
            policy that produced it; an answer from any other policy is a deny with
            error ``opa-policy-mismatch``. None: use the policy OPA already serves,
            named by ``policy_name``; its rules and purposes are read from OPA when the
            engine is made (so that requests validate as they would natively).
        policy_name: the policy's name when ``policy`` is None.
        upload: when OPA does not serve ``policy`` yet (or serves another version),
            upload its Rego module through the policy API and ask again. False: only use
            what OPA already serves (e.g. a bundle from ``usepolicy export bundle``).
        timeout: seconds to wait for each HTTP call.
        token: a bearer token for OPA's authentication, if enabled.
        retries: retries after a failed connection (0: fail fast, deny at once).

    Raises:
        ImportError: ``opa-python-client`` is not installed.
        ValueError: a bad URL, or neither ``policy`` nor ``policy_name``.
        BackendError: ``policy`` is None and OPA cannot tell which policy it serves.
    """

    def __init__(
        self,
        url: str,
        policy: Policy | None = None,
        *,
        policy_name: str | None = None,
        upload: bool = True,
        timeout: float = 2.0,
        token: str | None = None,
        retries: int = 0,
    ) -> None:
        try:
            from opa_client import OpaClient
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError(
                "OpaEngine needs opa-python-client: pip install 'usepolicy[opa]'"
            ) from exc
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an OPA server URL: `{url}` (e.g. http://localhost:8181)")
        if parts.path not in ("", "/") or parts.query:
            raise ValueError(f"the OPA server URL takes no path: `{url}`")
        if policy is None and not policy_name:
            raise ValueError("give the policy, or the name of the policy OPA serves")
        secure = parts.scheme == "https"
        self.url = url
        self._client = OpaClient(
            host=parts.hostname,
            port=parts.port or (443 if secure else 80),
            ssl=secure,
            token=token,
            timeout=timeout,
            retries=retries,
        )
        self._lock = threading.Lock()
        self._upload = upload and policy is not None
        self._module: str | None = None
        name = policy.name if policy is not None else str(policy_name)
        self._package = ".".join(package_path(name))
        self._name_fields: tuple[str, ...] = ()
        self.policy = policy if policy is not None else self._remote_policy(name)
        if policy is not None:
            self._name_fields = name_key_fields(policy)
        self._rules = {rule.id: rule for rule in self.policy.rules}
        self._matched = {
            r.id: MatchedRule(r.id, r.effect, r.reason, r.reference) for r in self.policy.rules
        }
        self._trial = frozenset(r.id for r in self.policy.rules if r.dryrun)

    # -- the Engine interface ---------------------------------------------------------
    def evaluate(self, request: Any) -> Decision:
        """Decide one request (a dict, JSON text or ``UseRequest``); never raises on OPA
        failures, which are denies.

        Raises:
            RequestError: the request is invalid (validated locally, as natively).
        """
        return self.decide(validate_request(request, self.policy.vocabulary))

    def evaluate_many(self, requests: Iterable[Any]) -> list[Decision]:
        """Decide many requests in order; raises like ``evaluate``."""
        return [self.evaluate(request) for request in requests]

    def decide(self, req: Req) -> Decision:
        """Decide a validated request. Any failure yields deny, with the error recorded."""
        try:
            return self._decide(req)
        except _Failure as failure:
            return self._failed(req, failure.code, failure.message)
        except Exception as exc:  # fail closed, whatever the client library raised
            return self._failed(req, *_describe(exc))

    def close(self) -> None:
        """Close the HTTP session."""
        self._client.close_connection()

    def __enter__(self) -> OpaEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- asking OPA -------------------------------------------------------------------
    def _decide(self, req: Req) -> Decision:
        payload = request_to_builtins(req)
        if self._name_fields:
            # names match after a normalisation Rego cannot compute (``_input``)
            payload[NAME_KEYS] = input_name_keys(req, self._name_fields)
        body = self._query(payload)
        if self._upload and _served_digest(body) != self.policy.digest:
            self._put_module()
            body = self._query(payload)
        answer = body.get("result")
        if answer is None:
            raise _Failure(
                "opa-undefined",
                f"OPA has no `{self._package}.{_RULE}` (is the policy loaded?)",
            )
        if not isinstance(answer, dict):
            raise _bad(f"the answer is {_short(answer)}, not an object")
        served = _served_digest(body)
        if served != self.policy.digest:
            raise _Failure(
                "opa-policy-mismatch",
                f"OPA answered with policy {served}, not {self.policy.digest}",
            )
        effect, rule, matched, obligations, errors = self._parse(answer)
        return OpaDecision(
            effect,
            rule,
            matched,
            obligations,
            errors,
            req,
            self.policy,
            dryrun=self._dryrun(answer.get("dryrun", [])) if self._trial else (),
            _engine=_engine_info(body, self.policy.digest),
            _opa_decision_id=_decision_id(body),
        )

    def _dryrun(self, raw: Any) -> tuple[DryRun, ...]:
        """The dry-run rules that would have denied, as the module lists them."""
        if not isinstance(raw, list):
            raise _bad(f"dryrun {_short(raw)} is not a list")
        found = []
        for entry in raw:
            rule_id = entry.get("id") if isinstance(entry, dict) else None
            if rule_id not in self._trial:
                raise _bad(f"dryrun entry {_short(entry)} is not a dry-run rule of this policy")
            error = entry.get("error")
            found.append(DryRun(self._matched[rule_id], None if error is None else _error(error)))
        return tuple(found)

    def _query(self, payload: dict[str, Any]) -> dict[str, Any]:
        body = self._client.query_rule(
            input_data=payload,
            package_path=self._package,
            rule_name=_RULE,
            query_params={"provenance": "true"},
        )
        if not isinstance(body, dict):
            raise _Failure("opa-bad-answer", f"OPA answered {_short(body)}, not an object")
        return body

    def _put_module(self) -> None:
        with self._lock:
            if self._module is None:
                assert self.policy is not None
                self._module = to_rego(self.policy)
            try:
                self._client.update_policy_from_string(
                    self._module, self._package.replace(".", "/"), rego_compat=False
                )
            except Exception as exc:
                code, message = _describe(exc)
                if code == "opa-error":
                    code = "opa-upload-failed"
                raise _Failure(code, f"uploading the policy failed: {message}") from exc

    def _remote_policy(self, name: str) -> Policy:
        """The policy OPA serves, rebuilt from its ``policy`` rule (ids, reasons, purposes)."""
        try:
            body = self._client.query_rule(
                input_data={}, package_path=self._package, rule_name="policy"
            )
            about = body["result"]
            rules = tuple(
                Rule(
                    r["id"], Effect(r["effect"]), r["reason"], r["reference"], None,
                    enforcement=Enforcement(r.get("enforcement", "enforce")),
                )
                for r in about["rules"]
            )  # fmt: skip
            purposes = dict(about["purposes"])
            # the fields whose name keys the module reads (absent: it reads none)
            fields = about.get("name_keys", {}).get("fields", [])
            if not isinstance(fields, list) or not all(isinstance(f, str) for f in fields):
                raise TypeError(f"name_keys fields {_short(fields)}")
            self._name_fields = tuple(fields)
            return Policy(
                name=about["name"],
                version=about["version"],
                description=about.get("description"),
                default=Effect(about["default"]),
                combine=Combine(about["combine"]),
                rules=rules,
                lists={},
                vocabulary=Vocabulary(purposes),
                purpose_additions=purposes,
                invariants=(),
                sources=(f"{self.url} ({self._package})",),
                digest=about["digest"],
            )
        except Exception as exc:
            raise BackendError(
                f"cannot read policy `{name}` from OPA at {self.url}: {_describe(exc)[1]}"
            ) from exc

    # -- checking the answer ----------------------------------------------------------
    def _parse(
        self, answer: Any
    ) -> tuple[
        Effect,
        str | None,
        tuple[MatchedRule, ...],
        tuple[Obligation, ...],
        tuple[DecisionProblem, ...],
    ]:
        """The parts of a decision, after checking the answer is one this policy can give."""
        if not isinstance(answer, dict):
            raise _bad(f"the answer is {_short(answer)}, not an object")
        effect_text, rule = answer.get("decision"), answer.get("determining_rule")
        ids, raw_obligations, raw_errors = (
            answer.get("matched_rules"),
            answer.get("obligations"),
            answer.get("errors"),
        )
        if effect_text not in ("allow", "deny"):
            raise _bad(f"decision {_short(effect_text)}")
        if not isinstance(ids, list) or not all(
            i in self._rules and i not in self._trial for i in ids
        ):
            raise _bad(f"matched_rules {_short(ids)} are not rules of this policy")
        if not isinstance(raw_obligations, list) or not isinstance(raw_errors, list):
            raise _bad("obligations and errors must be lists")
        effect = Effect(effect_text)
        errors = tuple(_error(e) for e in raw_errors)
        if errors:
            if effect is not Effect.DENY or rule is not None or ids or raw_obligations:
                raise _bad("an evaluation error must come with deny and no rule")
        elif rule is None:
            if ids or effect is not self.policy.default:
                raise _bad("no determining rule, yet rules matched or not the default")
        elif rule not in ids or self._rules[rule].effect is not effect:
            raise _bad(f"determining rule {_short(rule)} does not give {effect.value}")
        if effect is Effect.DENY and raw_obligations:
            raise _bad("obligations on a deny")
        matched = tuple(self._matched[i] for i in ids)
        obligations = tuple(self._obligation(o, ids) for o in raw_obligations)
        return effect, rule, matched, obligations, errors

    def _obligation(self, raw: Any, ids: list[str]) -> Obligation:
        if (
            not isinstance(raw, dict)
            or not isinstance(raw.get("id"), str)
            or not isinstance(raw.get("with"), dict)
            or raw.get("rule") not in ids
        ):
            raise _bad(f"obligation {_short(raw)}")
        return Obligation(raw["id"], raw["with"], raw["rule"])

    def _failed(self, req: Req, code: str, message: str) -> Decision:
        return OpaDecision(
            Effect.DENY,
            None,
            (),
            (),
            (DecisionProblem(code, message),),
            req,
            self.policy,
            _engine={"name": ENGINE_NAME, "version": _UNKNOWN},
        )


def _served_digest(body: dict[str, Any]) -> Any:
    answer = body.get("result")
    if isinstance(answer, dict) and isinstance(answer.get("policy"), dict):
        return answer["policy"].get("digest")
    return None


def _engine_info(body: dict[str, Any], digest: str) -> dict[str, str | None]:
    """``{"name": "opa", "version", "revision"}`` from OPA's provenance, when given."""
    provenance = body.get("provenance")
    if not isinstance(provenance, dict):
        return {"name": ENGINE_NAME, "version": _UNKNOWN}
    version = provenance.get("version")
    revisions = [
        b.get("revision")
        for b in (provenance.get("bundles") or {}).values()
        if isinstance(b, dict) and isinstance(b.get("revision"), str)
    ]
    # a server may hold several bundles: ours is the one whose revision is the digest
    revision = digest if digest in revisions else (revisions[0] if len(revisions) == 1 else None)
    return {
        "name": ENGINE_NAME,
        "version": version if isinstance(version, str) and version else _UNKNOWN,
        "revision": revision,
    }


def _decision_id(body: dict[str, Any]) -> str | None:
    """OPA's decision id (set when OPA logs decisions), so records and logs can be joined."""
    value = body.get("decision_id")
    if isinstance(value, str):
        try:
            return str(uuid.UUID(value))
        except ValueError:
            return None
    return None


def _error(raw: Any) -> DecisionProblem:
    if (
        isinstance(raw, dict)
        and isinstance(raw.get("code"), str)
        and isinstance(raw.get("message"), str)
    ):
        return DecisionProblem(raw["code"], raw["message"])
    raise _bad(f"error {_short(raw)}")


def _bad(message: str) -> _Failure:
    return _Failure("opa-bad-answer", f"malformed answer from OPA: {message}")


def _short(value: Any) -> str:
    return quote_value(value, 80)


def _describe(exc: BaseException) -> tuple[str, str]:
    """A stable error code and a one-line message for what the HTTP client raised."""
    import requests  # opa-python-client's transport

    detail = " ".join(str(exc).split()) or type(exc).__name__
    if isinstance(exc, requests.Timeout):
        return "opa-timeout", f"OPA did not answer in time: {detail}"
    if isinstance(exc, ValueError) and "JSON" in type(exc).__name__:
        return "opa-bad-answer", f"OPA's answer is not JSON: {detail}"
    if isinstance(exc, (requests.ConnectionError, ConnectionError)):
        return "opa-unreachable", f"cannot connect to OPA: {detail}"
    if isinstance(exc, requests.HTTPError):
        status = getattr(exc.response, "status_code", "?")
        return "opa-http-error", f"OPA answered HTTP {status}: {detail}"
    if isinstance(exc, BackendError):
        return exc.code, detail
    message = getattr(exc, "message", None)  # opa_client's errors carry one
    text = f"{type(exc).__name__}: {message if isinstance(message, str) else detail}"
    return "opa-error", text
