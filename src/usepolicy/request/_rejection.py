"""Why a request is invalid: the authoritative model's errors as ``FieldProblem``s.

The hot path (``_fast``) only says yes or no; when it says no, ``UseRequest``
runs and its pydantic errors are turned into field errors here. A hostile request can
hold a hundred thousand unknown keys, values nested thousands deep, integers of
thousands of digits or lone surrogates: only the first ``RequestError.max_errors``
errors are built (the rest are counted), values are shown through ``quote_value`` and
keys through ``path_part``, so every error is small, printable and recordable.
"""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING, Any, Final

import pydantic

from .._errors import FieldProblem, RequestError, path_part, quote_value
from ._enums import ATTRIBUTE_KEY_PATTERN, LIMITS
from ._model import UseRequest

if TYPE_CHECKING:
    from ._vocabulary import Vocabulary

__all__ = ["explain_rejection"]

_ERROR_CODES: Final = {
    "extra_forbidden": "unknown-field",
    "missing": "missing-field",
    "value_error": "bad-value",
    "enum": "bad-enum-value",
}


def explain_rejection(
    obj: Any, vocabulary: Vocabulary
) -> tuple[UseRequest | None, list[FieldProblem], int]:
    """Validate ``obj`` with ``UseRequest``: the model, or its errors.

    Returns:
        ``(model, [], 0)`` when valid; else ``(None, errors, omitted)``: the first
        ``RequestError.max_errors`` field errors and how many more there were.
    """
    try:
        return UseRequest.model_validate(obj, context={"vocabulary": vocabulary}), [], 0
    except pydantic.ValidationError as exc:
        try:
            return (None, *_field_errors(exc.errors(include_url=False)))
        except RecursionError:  # pragma: no cover - pydantic bounds its own depth
            pass
    except RecursionError:
        pass
    return None, [FieldProblem("$", "too-deep", "request is nested too deeply")], 0


def _field_errors(raw: list[Any]) -> tuple[list[FieldProblem], int]:
    """Pydantic's errors as field errors, built for the first ``max_errors`` only."""
    keep = RequestError.max_errors
    errors: list[FieldProblem] = []
    omitted = 0
    last_union: tuple[Any, ...] | None = None
    for err in raw:
        loc = err["loc"]
        kind = err["type"]
        if len(loc) > 2 and loc[0] == "attributes":
            # a failed union reports once per member (and a bad key before them): say
            # it once, plainly
            if loc[:2] == last_union:
                continue
            last_union = loc[:2]
        if kind == "bad_attribute_value":
            found = err.get("ctx", {}).get("errors", ())
            room = max(0, keep - len(errors))
            errors.extend(
                FieldProblem(f"attributes.{path_part(key)}", "bad-attribute-value", message)
                for key, message in found[:room]
            )
            omitted += max(0, len(found) - room)
        elif len(errors) < keep:
            errors.append(_field_error(err))
        else:
            omitted += 1
    return errors, omitted


def _field_error(err: Any) -> FieldProblem:
    loc = err["loc"]
    kind = err["type"]
    path = ".".join(path_part(p) for p in loc) or "$"
    code = _ERROR_CODES.get(kind, kind.replace("_", "-"))
    message = err["msg"]
    if len(loc) == 3 and loc[0] == "attributes" and loc[2] == "[key]":
        return FieldProblem(
            f"attributes.{path_part(loc[1])}",
            "bad-attribute-key",
            f"attribute key `{path_part(loc[1])}` must match {ATTRIBUTE_KEY_PATTERN}"
            f" (at most {LIMITS.max_attribute_key} characters)",
        )
    if len(loc) > 2 and loc[0] == "attributes":
        return FieldProblem(
            f"attributes.{path_part(loc[1])}",
            "bad-attribute",
            "an attribute is a string, a finite number, a boolean or a list"
            f" of strings, got {quote_value(err.get('input'))}",
        )
    if kind == "value_error":
        message = message.removeprefix("Value error, ")
    elif kind == "extra_forbidden":
        message = f"unknown field `{path_part(loc[-1])}`" + _field_hint(loc)
    elif kind == "missing":
        message = "this field is required"
    elif "input" in err and kind not in ("unknown_purpose", "too_deep"):
        message = f"{message}, got {quote_value(err['input'])}"
    return FieldProblem(path, code, message)


def _field_hint(loc: tuple[int | str, ...]) -> str:
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
