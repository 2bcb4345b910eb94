"""The hot-path request validator: a msgspec mirror of ``UseRequest``.

``msgspec.convert`` validates and fills defaults several times faster than nested
pydantic models. It must accept exactly what ``UseRequest`` accepts: when it rejects
an input, the pydantic model runs to report every bad field at once (and is the
authority), and a property test checks that msgspec never accepts what pydantic
rejects.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any, Final

import msgspec

from ._enums import (
    ATTRIBUTE_KEY_PATTERN,
    COUNTRY_PATTERN,
    LIMITS,
    AutonomyLevel,
    Category,
    Classification,
    LegalAuthority,
    Network,
    Provenance,
    Subjects,
    unicode_problem,
)
from ._errors import FieldError, RequestError

if TYPE_CHECKING:
    from ._request import UseRequest
from ._vocabulary import AttributeSpec, Vocabulary

__all__ = [
    "Req",
    "parse_json_text",
    "request_to_builtins",
    "validate_many",
    "validate_request",
]

_Name = Annotated[str, msgspec.Meta(min_length=1, max_length=LIMITS.max_name)]
_AttrStr = Annotated[str, msgspec.Meta(max_length=LIMITS.max_attribute_string)]
_AttrInt = Annotated[int, msgspec.Meta(ge=-LIMITS.max_abs_number, le=LIMITS.max_abs_number)]
_AttrFloat = Annotated[
    float,
    msgspec.Meta(ge=-float(LIMITS.max_abs_number), le=float(LIMITS.max_abs_number)),
]
_AttrList = Annotated[list[_AttrStr], msgspec.Meta(max_length=LIMITS.max_attribute_list)]
# Regex checks are the slowest part of msgspec validation; keys and the country code
# are checked in Python below instead (keys through a bounded cache of good keys),
# and the purpose pattern is implied by vocabulary membership.
_AttrKey = Annotated[str, msgspec.Meta(min_length=1, max_length=LIMITS.max_attribute_key)]
_KEY_RE: Final = re.compile(ATTRIBUTE_KEY_PATTERN)
_COUNTRY_RE: Final = re.compile(COUNTRY_PATTERN)
_good_keys: set[str] = set()
_GOOD_KEYS_MAX: Final = 4096


_good_countries: set[str] = set()
_convert: Final = msgspec.convert


def _country_ok(country: str) -> bool:
    if _COUNTRY_RE.fullmatch(country) is None:
        return False
    _good_countries.add(country)  # at most 26 * 26 entries
    return True


def _unicode_ok(req: Req) -> bool:
    """No unpaired surrogates (they cannot be canonical JSON); ASCII is the fast path."""
    r = req.requester
    for text in (r.organization, r.entity_id, req.model, req.description, req.request_id):
        if text is not None and not text.isascii() and unicode_problem(text) is not None:
            return False
    for value in req.attributes.values():
        if type(value) is str:
            if not value.isascii() and unicode_problem(value) is not None:
                return False
        elif type(value) is list:
            for item in value:
                if not item.isascii() and unicode_problem(item) is not None:
                    return False
    return True


def _keys_ok(attributes: dict[str, Any]) -> bool:
    for key in attributes:
        if key not in _good_keys:
            if _KEY_RE.fullmatch(key) is None:
                return False
            if len(_good_keys) < _GOOD_KEYS_MAX:
                _good_keys.add(key)
    return True


class ReqRequester(msgspec.Struct, frozen=True, forbid_unknown_fields=True, gc=False):
    organization: _Name
    country: str | None = None
    entity_id: _Name | None = None


class ReqData(msgspec.Struct, frozen=True, forbid_unknown_fields=True, gc=False):
    subjects: Subjects = Subjects.NONE
    provenance: Provenance = Provenance.NONE
    subject_count: Annotated[int, msgspec.Meta(ge=0, le=LIMITS.max_subject_count)] = 0
    categories: Annotated[list[Category], msgspec.Meta(max_length=LIMITS.max_categories)] = (
        msgspec.field(default_factory=list)
    )
    legal_authority: LegalAuthority = LegalAuthority.NONE


class ReqAutonomy(msgspec.Struct, frozen=True, forbid_unknown_fields=True, gc=False):
    level: AutonomyLevel = AutonomyLevel.NONE
    lethal: bool = False


class ReqEnvironment(msgspec.Struct, frozen=True, forbid_unknown_fields=True, gc=False):
    network: Network = Network.INTERNET
    classification: Classification = Classification.UNCLASSIFIED


_DEFAULT_DATA: Final = ReqData()
_DEFAULT_AUTONOMY: Final = ReqAutonomy()
_DEFAULT_ENVIRONMENT: Final = ReqEnvironment()


class Req(msgspec.Struct, frozen=True, forbid_unknown_fields=True, gc=False):
    """A validated request with every default filled in (internal, immutable)."""

    requester: ReqRequester
    purpose: str
    request_id: (
        Annotated[str, msgspec.Meta(min_length=1, max_length=LIMITS.max_request_id)] | None
    ) = None
    model: _Name | None = None
    description: Annotated[str, msgspec.Meta(max_length=LIMITS.max_description)] | None = None
    data: ReqData = _DEFAULT_DATA
    autonomy: ReqAutonomy = _DEFAULT_AUTONOMY
    environment: ReqEnvironment = _DEFAULT_ENVIRONMENT
    attributes: Annotated[
        dict[_AttrKey, bool | _AttrInt | _AttrFloat | _AttrStr | _AttrList],
        msgspec.Meta(max_length=LIMITS.max_attributes),
    ] = msgspec.field(default_factory=dict)


# field order of the public model, for records that read like DESIGN.md §1
# the public model's field order (a test checks it against UseRequest.model_fields)
FIELD_ORDER: Final = (
    "request_id", "requester", "model", "purpose", "description",
    "data", "autonomy", "environment", "attributes",
)  # fmt: skip


def request_to_builtins(req: Req) -> dict[str, Any]:
    """The request as JSON-ready builtins, defaults filled in, in public field order."""
    raw: dict[str, Any] = msgspec.to_builtins(req)
    return {name: raw[name] for name in FIELD_ORDER}


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            # two parsers may keep different copies: a classic smuggling vector
            raise _DuplicateKey(key)
        result[key] = value
    return result


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def parse_json_text(text: str | bytes, source: str | None = None) -> Any:
    """Parse request JSON text with size, syntax, nesting and duplicate-key checks.

    Raises:
        RequestError: with line and column of a syntax error where known.
    """
    size = len(text)
    if isinstance(text, str) and size > LIMITS.max_request_bytes // 4:
        size = len(text.encode("utf-8", "surrogatepass"))  # the limit is in bytes
    if size > LIMITS.max_request_bytes:
        raise RequestError(
            [
                FieldError(
                    "$",
                    "too-large",
                    f"request is {size} bytes; the limit is "
                    f"{LIMITS.max_request_bytes} bytes (1 MiB)",
                )
            ],
            source,
        )
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise RequestError(
                [FieldError("$", "bad-encoding", f"request is not UTF-8: {exc.reason}")],
                source,
            ) from None
    try:
        return json.loads(text, object_pairs_hook=_reject_duplicates)
    except json.JSONDecodeError as exc:
        raise RequestError(
            [FieldError("$", "bad-json", exc.msg, exc.lineno, exc.colno)], source
        ) from None
    except _DuplicateKey as exc:
        raise RequestError(
            [FieldError("$", "duplicate-key", f"duplicate key `{exc.key}` in request")],
            source,
        ) from None
    except RecursionError:
        raise RequestError(
            [FieldError("$", "too-deep", "request JSON is nested too deeply")], source
        ) from None


def _pydantic_errors(
    obj: Any, vocabulary: Vocabulary
) -> tuple[UseRequest | None, list[FieldError]]:
    import pydantic

    from ._request import UseRequest

    try:
        return (
            UseRequest.model_validate(obj, context={"vocabulary": vocabulary}),
            [],
        )
    except pydantic.ValidationError as exc:
        errors: list[FieldError] = []
        for err in exc.errors(include_url=False):
            if err["type"] == "bad_attribute_value":
                errors.extend(
                    FieldError(f"attributes.{key}", "bad-attribute-value", message)
                    for key, message in err.get("ctx", {}).get("errors", ())
                )
                continue
            path = ".".join(str(p) for p in err["loc"]) or "$"
            code = _ERROR_CODES.get(err["type"], err["type"].replace("_", "-"))
            message = err["msg"]
            if err["type"] == "value_error":
                message = message.removeprefix("Value error, ")
            elif err["type"] == "extra_forbidden":
                message = f"unknown field `{err['loc'][-1]}`" + _field_hint(err["loc"])
            elif err["type"] == "missing":
                message = "this field is required"
            elif "input" in err and err["type"] not in ("missing", "unknown_purpose"):
                message = f"{message}, got {_short(err['input'])}"
            if len(err["loc"]) == 3 and err["loc"][0] == "attributes" and err["loc"][2] == "[key]":
                errors.append(
                    FieldError(
                        f"attributes.{err['loc'][1]}",
                        "bad-attribute-key",
                        f"attribute key `{err['loc'][1]}` must match {ATTRIBUTE_KEY_PATTERN}"
                        f" (at most {LIMITS.max_attribute_key} characters)",
                    )
                )
                continue
            if len(err["loc"]) > 2 and err["loc"][0] == "attributes":
                # a failed union reports once per member; say it once, plainly
                path = f"attributes.{err['loc'][1]}"
                code = "bad-attribute"
                message = (
                    "an attribute is a string, a finite number, a boolean or a list"
                    f" of strings, got {_short(err.get('input'))}"
                )
                if errors and errors[-1].path == path:
                    continue
            errors.append(FieldError(path, code, message))
        return None, errors
    except RecursionError:
        return None, [FieldError("$", "too-deep", "request is nested too deeply")]


_ERROR_CODES: Final = {
    "extra_forbidden": "unknown-field",
    "missing": "missing-field",
    "value_error": "bad-value",
    "enum": "bad-enum-value",
}


def _field_hint(loc: tuple[int | str, ...]) -> str:
    import difflib

    import pydantic

    from ._request import UseRequest

    model: Any = UseRequest
    for part in loc[:-1]:
        field = getattr(model, "model_fields", {}).get(part)
        annotation = getattr(field, "annotation", None)
        if not isinstance(annotation, type) or not issubclass(annotation, pydantic.BaseModel):
            return ""
        model = annotation
    names = list(getattr(model, "model_fields", {}))
    close = difflib.get_close_matches(str(loc[-1]), names, n=1)
    return f"; did you mean `{close[0]}`?" if close else f"; known fields: {', '.join(names)}"


def _short(value: Any) -> str:
    text = repr(value)
    return f"`{text[:60]}…`" if len(text) > 60 else f"`{text}`"


def _declared_ok(attributes: dict[str, Any], specs: Mapping[str, AttributeSpec]) -> bool:
    for key, value in attributes.items():
        spec = specs.get(key)
        if spec is not None and not spec.accepts(value):
            return False
    return True


def _accepted(req: Req, names: frozenset[str], specs: Mapping[str, AttributeSpec] | None) -> bool:
    """The checks msgspec cannot express cheaply (purpose vocabulary, patterns, text,
    declared attributes)."""
    country = req.requester.country
    return (
        req.purpose in names
        and (country is None or country in _good_countries or _country_ok(country))
        and (not req.attributes or _keys_ok(req.attributes))
        and (specs is None or _declared_ok(req.attributes, specs))
        and _unicode_ok(req)
    )


def validate_request(obj: Any, vocabulary: Vocabulary, source: str | None = None) -> Req:
    """Validate a request (dict, JSON text or ``UseRequest``) into a ``Req``.

    Raises:
        RequestError: listing every bad field path.
    """
    if type(obj) is not dict:
        if isinstance(obj, (str, bytes)):
            obj = parse_json_text(obj, source)
        elif hasattr(obj, "model_dump"):
            from ._request import UseRequest

            if isinstance(obj, UseRequest):
                obj = obj.model_dump(mode="python")
    if type(obj) is dict:
        try:
            req = _convert(obj, Req)
        except (msgspec.ValidationError, TypeError, RecursionError):
            pass
        else:
            if _accepted(req, vocabulary.names, vocabulary.attributes):
                return req
    model, errors = _pydantic_errors(obj, vocabulary)
    if model is not None:
        # pydantic is the authority; reaching here means msgspec was stricter
        return msgspec.convert(model.model_dump(mode="python"), Req)
    raise RequestError(errors, source)


def validate_many(objs: list[Any], vocabulary: Vocabulary) -> list[Req]:
    """``validate_request`` for a list, converting all dicts in one msgspec call.

    Raises:
        RequestError: for the first invalid request, as ``validate_request`` would.
    """
    names = vocabulary.names
    specs = vocabulary.attributes
    if all(type(obj) is dict for obj in objs):
        try:
            reqs = _convert(objs, list[Req])
        except (msgspec.ValidationError, TypeError, RecursionError):
            pass
        else:
            if all(_accepted(req, names, specs) for req in reqs):
                return reqs
    return [validate_request(obj, vocabulary) for obj in objs]
