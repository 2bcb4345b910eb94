"""The hot-path request validator: a msgspec mirror of ``UseRequest``.

``msgspec.convert`` validates and fills defaults several times faster than nested
pydantic models. It must accept exactly what ``UseRequest`` accepts: when it rejects
an input (or fails in any way), the pydantic model runs to report every bad field at
once (and is the authority), and property tests (``test_fast_path_and_public_model_agree``,
``test_hostile_requests_get_one_verdict_from_both_validators``) check that both give one
verdict.

msgspec is more lenient than the strict model in a few places, checked after it
accepts: it keeps ``str`` subclasses as they are (the model makes plain strings, and
a subclass could redefine equality under the engine), takes any mapping for an object
and a tuple or set for a list (the model takes dicts and lists).
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Mapping
from typing import Annotated, Any, Final

import msgspec

from .._errors import FieldProblem, RequestError
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


def _plain_ok(req: Req, obj: dict[str, Any]) -> bool:
    """What msgspec let through that the strict model does not: a ``str`` subclass
    (msgspec keeps it; the model makes a plain string, and a subclass could redefine
    equality under the engine), a mapping other than a dict for an object, a tuple, set
    or frozenset for a list; and unpaired surrogates (they cannot be canonical JSON).

    Runs before the caches of good keys and countries are consulted, so that only plain
    strings ever enter them. ASCII text and absent parts are the fast paths.
    """
    r = req.requester
    # purpose and country must match ASCII patterns later: only their type matters here
    if type(req.purpose) is not str or (r.country is not None and type(r.country) is not str):
        return False
    for text in (r.organization, r.entity_id, req.model, req.description, req.request_id):
        if type(text) is str:
            if not text.isascii() and unicode_problem(text) is not None:
                return False
        elif text is not None:
            return False
    # an absent part is the shared default: only a part that was given is looked at
    if not isinstance(obj["requester"], dict):
        return False
    if req.data is not _DEFAULT_DATA:
        data = obj["data"]
        if not isinstance(data, dict):
            return False
        categories = data.get("categories")
        if not (categories is None or type(categories) is list or isinstance(categories, list)):
            return False
    if req.autonomy is not _DEFAULT_AUTONOMY and not isinstance(obj["autonomy"], dict):
        return False
    if req.environment is not _DEFAULT_ENVIRONMENT and not isinstance(obj["environment"], dict):
        return False
    if not req.attributes:
        return "attributes" not in obj or isinstance(obj["attributes"], dict)
    given = obj["attributes"]
    return isinstance(given, dict) and _attributes_ok(req.attributes, given)


_SCALARS: Final = frozenset({int, float, bool})


def _attributes_ok(attributes: dict[str, Any], given: dict[str, Any]) -> bool:
    """Keys that match the pattern (through a bounded cache of good keys), values of
    plain types without unpaired surrogates, lists that were lists."""
    for key, value in attributes.items():
        if key not in _good_keys:
            # msgspec takes only plain str keys, so a subclass never reaches the cache
            if _KEY_RE.fullmatch(key) is None:
                return False
            if len(_good_keys) < _GOOD_KEYS_MAX:
                _good_keys.add(key)
        if type(value) is str:
            if not value.isascii() and unicode_problem(value) is not None:
                return False
        elif type(value) is list:
            raw = given[key]
            if type(raw) is not list and not isinstance(raw, list):
                return False
            for item in value:
                if type(item) is not str or (
                    not item.isascii() and unicode_problem(item) is not None
                ):
                    return False
        elif type(value) not in _SCALARS:
            return False  # a str subclass
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


class Req(msgspec.Struct, frozen=True, forbid_unknown_fields=True, gc=False, kw_only=True):
    """A validated request with every default filled in (internal, immutable).

    Its fields are in the public order (``FIELD_ORDER``: keyword-only, so a field with
    a default may come before one without), so ``msgspec.to_builtins`` writes them in
    that order as it is."""

    request_id: (
        Annotated[str, msgspec.Meta(min_length=1, max_length=LIMITS.max_request_id)] | None
    ) = None
    requester: ReqRequester
    model: _Name | None = None
    purpose: str
    description: Annotated[str, msgspec.Meta(max_length=LIMITS.max_description)] | None = None
    data: ReqData = _DEFAULT_DATA
    autonomy: ReqAutonomy = _DEFAULT_AUTONOMY
    environment: ReqEnvironment = _DEFAULT_ENVIRONMENT
    attributes: Annotated[
        dict[_AttrKey, bool | _AttrInt | _AttrFloat | _AttrStr | _AttrList],
        msgspec.Meta(max_length=LIMITS.max_attributes),
    ] = msgspec.field(default_factory=dict)


# msgspec builds a Struct's type information on its first conversion, calling back into
# Python to read the annotations; threads converting for the first time at once crash
# the interpreter there (msgspec 0.22 on Python 3.11: a gateway whose threads take their
# first requests together). So it is built now, while the import lock keeps every other
# thread out. A failed conversion builds it all the same.
with contextlib.suppress(msgspec.ValidationError):
    msgspec.convert({}, Req)


def request_to_builtins(req: Req) -> dict[str, Any]:
    """The request as JSON-ready builtins, defaults filled in, in public field order."""
    builtins: dict[str, Any] = msgspec.to_builtins(req)
    return builtins


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


#: integer literals longer than this are refused as the text is parsed: no field takes
#: more than 16 digits, and turning thousands of digits into an int is slow (CPython
#: refuses over 4,300 by default, and this is its lowest allowed setting)
_MAX_INT_DIGITS: Final = 640


class _LongInteger(ValueError):
    def __init__(self, digits: int) -> None:
        super().__init__(digits)
        self.digits = digits


def _parse_int(literal: str) -> int:
    digits = len(literal) - (literal[0] == "-")
    if digits > _MAX_INT_DIGITS:
        raise _LongInteger(digits)
    return int(literal)


def parse_json_text(text: str | bytes, source: str | None = None) -> Any:
    """Parse request JSON text with size, syntax, nesting, integer-length and
    duplicate-key checks.

    Raises:
        RequestError: with line and column of a syntax error where known.
    """
    size = len(text)
    if isinstance(text, str) and size > LIMITS.max_request_bytes // 4:
        size = len(text.encode("utf-8", "surrogatepass"))  # the limit is in bytes
    if size > LIMITS.max_request_bytes:
        raise RequestError(
            [
                FieldProblem(
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
                [FieldProblem("$", "bad-encoding", f"request is not UTF-8: {exc.reason}")],
                source,
            ) from None
    try:
        return json.loads(text, object_pairs_hook=_reject_duplicates, parse_int=_parse_int)
    except _LongInteger as exc:
        from ._jsonpos import line_col, long_integer_at

        offset = long_integer_at(text, _MAX_INT_DIGITS)
        line, col = (None, None) if offset is None else line_col(text, offset)
        raise RequestError(
            [
                FieldProblem(
                    "$",
                    "number-too-long",
                    f"an integer of {exc.digits} digits; at most {_MAX_INT_DIGITS} are read"
                    " (no field takes more than 16)",
                    line,
                    col,
                )
            ],
            source,
        ) from None
    except json.JSONDecodeError as exc:
        raise RequestError(
            [FieldProblem("$", "bad-json", exc.msg, exc.lineno, exc.colno)], source
        ) from None
    except _DuplicateKey as exc:
        raise RequestError(
            [FieldProblem("$", "duplicate-key", f"duplicate key `{exc.key}` in request")],
            source,
        ) from None
    except RecursionError:
        raise RequestError(
            [FieldProblem("$", "too-deep", "request JSON is nested too deeply")], source
        ) from None


def _declared_ok(attributes: dict[str, Any], specs: Mapping[str, AttributeSpec]) -> bool:
    for key, value in attributes.items():
        spec = specs.get(key)
        if spec is not None and not spec.accepts(value):
            return False
    return True


def _accepted(
    req: Req, obj: dict[str, Any], names: frozenset[str], specs: Mapping[str, AttributeSpec] | None
) -> bool:
    """The checks msgspec cannot express cheaply (plain types, text, attribute keys,
    purpose vocabulary, country pattern, declared attributes)."""
    country = req.requester.country
    return (
        _plain_ok(req, obj)
        and req.purpose in names
        and (country is None or country in _good_countries or _country_ok(country))
        and (specs is None or _declared_ok(req.attributes, specs))
    )


def validate_request(obj: Any, vocabulary: Vocabulary, source: str | None = None) -> Req:
    """Validate a request (dict, JSON text or ``UseRequest``) into a ``Req``.

    Raises:
        RequestError: listing every bad field path; for JSON text, with the line and
            column of each field in the text.
    """
    text: str | bytes | None = None
    if type(obj) is not dict:
        if isinstance(obj, (str, bytes)):
            text = obj
            obj = parse_json_text(obj, source)
        elif hasattr(obj, "model_dump"):
            from ._model import UseRequest

            if isinstance(obj, UseRequest):
                obj = obj.model_dump(mode="python")
    if type(obj) is dict:
        try:
            req: Req | None = _convert(obj, Req)
        except Exception:  # not only ValidationError (a lone surrogate: UnicodeEncodeError)
            req = None  # the model decides
        if req is not None and _accepted(req, obj, vocabulary.names, vocabulary.attributes):
            return req
    from ._rejection import explain_rejection

    model, errors, omitted = explain_rejection(obj, vocabulary)
    if model is not None:
        # pydantic is the authority; reaching here means msgspec was stricter
        return msgspec.convert(model.model_dump(mode="python"), Req)
    if text is not None:
        from ._jsonpos import locate_errors

        errors = locate_errors(text, errors)
    raise RequestError(errors, source, omitted=omitted)


def validate_many(objs: list[Any], vocabulary: Vocabulary) -> list[Req]:
    """``validate_request`` for a list, converting all dicts in one msgspec call.

    Raises:
        RequestError: for the first invalid request, as ``validate_request`` would.
    """
    names = vocabulary.names
    specs = vocabulary.attributes
    if all(type(obj) is dict for obj in objs):
        try:
            reqs: list[Req] | None = _convert(objs, list[Req])
        except Exception:  # as in validate_request: each one again, the model decides
            reqs = None
        if reqs is not None and all(
            _accepted(req, obj, names, specs) for req, obj in zip(reqs, objs, strict=True)
        ):
            return reqs
    return [validate_request(obj, vocabulary) for obj in objs]
