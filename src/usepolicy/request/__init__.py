"""The request: what a deployer asks a model to be used for (DESIGN.md section 1).

Its enumerations, limits and vocabulary; the hot-path validator (``validate_request``,
msgspec, no pydantic) and the public pydantic models (``UseRequest`` and its parts),
which load on first use so that a cold ``usepolicy check`` never imports pydantic.
"""

import typing

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
from ._fast import (
    Req,
    parse_json_text,
    request_to_builtins,
    validate_many,
    validate_request,
)
from ._jsonpos import line_col, locate_errors
from ._shape import FIELD_ORDER, REQUEST_SHAPE, FieldShape, Shape, field_shape
from ._vocabulary import (
    ATTRIBUTE_TYPES,
    PURPOSE_PATTERN,
    STANDARD_PURPOSES,
    STANDARD_VOCABULARY,
    AttributeSpec,
    Vocabulary,
    compile_re2,
    is_purpose_name,
    is_under,
)

if typing.TYPE_CHECKING:
    from ._model import Autonomy, Data, Environment, Requester, UseRequest, unknown_purpose_message
    from ._rejection import explain_rejection

__all__ = [
    "ATTRIBUTE_KEY_PATTERN",
    "ATTRIBUTE_TYPES",
    "COUNTRY_PATTERN",
    "FIELD_ORDER",
    "LIMITS",
    "PURPOSE_PATTERN",
    "REQUEST_SHAPE",
    "STANDARD_PURPOSES",
    "STANDARD_VOCABULARY",
    "AttributeSpec",
    "Autonomy",
    "AutonomyLevel",
    "Category",
    "Classification",
    "Data",
    "Environment",
    "FieldShape",
    "LegalAuthority",
    "Network",
    "Provenance",
    "Req",
    "Requester",
    "Shape",
    "Subjects",
    "UseRequest",
    "Vocabulary",
    "compile_re2",
    "explain_rejection",
    "field_shape",
    "is_purpose_name",
    "is_under",
    "line_col",
    "locate_errors",
    "parse_json_text",
    "request_to_builtins",
    "unicode_problem",
    "unknown_purpose_message",
    "validate_many",
    "validate_request",
]

# pydantic models, loaded on first use (PEP 562)
_LAZY = {
    "Autonomy": "._model",
    "Data": "._model",
    "Environment": "._model",
    "Requester": "._model",
    "UseRequest": "._model",
    "unknown_purpose_message": "._model",
    "explain_rejection": "._rejection",
}


def __getattr__(name: str) -> typing.Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value
