"""The typed request: what a deployer asks a model to be used for (DESIGN.md §1).

``UseRequest`` is the public, authoritative model (pydantic v2, frozen, unknown
fields rejected, every default filled in). The engine's hot path validates with an
equivalent, cheaper schema (``_fast``); property tests hold the two together, and
``tests/request/test_shape.py`` holds both to the declared shape (``_shape``) field by
field.
"""

from __future__ import annotations

import enum
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

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
from ._vocabulary import PURPOSE_PATTERN, STANDARD_VOCABULARY, Vocabulary

__all__ = [
    "ATTRIBUTE_KEY_PATTERN",
    "COUNTRY_PATTERN",
    "LIMITS",
    "Autonomy",
    "AutonomyLevel",
    "Category",
    "Classification",
    "Data",
    "Environment",
    "LegalAuthority",
    "Network",
    "Provenance",
    "Requester",
    "Subjects",
    "UseRequest",
    "unicode_problem",
]


_FROZEN = ConfigDict(frozen=True, extra="forbid", strict=True)


def _valid_unicode(value: str) -> str:
    problem = unicode_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


_Unicode = AfterValidator(_valid_unicode)
_Name = Annotated[StrictStr, Field(min_length=1, max_length=LIMITS.max_name), _Unicode]
_AttrStr = Annotated[StrictStr, Field(max_length=LIMITS.max_attribute_string), _Unicode]
_AttrInt = Annotated[StrictInt, Field(ge=-LIMITS.max_abs_number, le=LIMITS.max_abs_number)]
_AttrFloat = Annotated[
    StrictFloat,
    Field(
        ge=-float(LIMITS.max_abs_number),
        le=float(LIMITS.max_abs_number),
        allow_inf_nan=False,
    ),
]
_AttrList = Annotated[list[_AttrStr], Field(max_length=LIMITS.max_attribute_list)]
AttributeValue = StrictBool | _AttrInt | _AttrFloat | _AttrStr | _AttrList
_AttrKey = Annotated[
    StrictStr,
    Field(
        min_length=1,
        max_length=LIMITS.max_attribute_key,
        pattern=f"^{ATTRIBUTE_KEY_PATTERN}$",
    ),
]


def _enum(cls: type[enum.StrEnum], default: enum.StrEnum) -> Any:
    # enum fields accept their string values (strict mode would demand instances)
    return Field(default=default, strict=False)


class Requester(BaseModel):
    """Who asks: the organisation, its country (ISO 3166-1 alpha-2), a stable id."""

    model_config = _FROZEN

    organization: _Name
    country: Annotated[StrictStr, Field(pattern=f"^{COUNTRY_PATTERN}$")] | None = None
    entity_id: _Name | None = None


class Data(BaseModel):
    """The personal data the use involves."""

    model_config = _FROZEN

    subjects: Subjects = _enum(Subjects, Subjects.NONE)
    provenance: Provenance = _enum(Provenance, Provenance.NONE)
    subject_count: Annotated[StrictInt, Field(ge=0, le=LIMITS.max_subject_count)] = 0
    categories: Annotated[
        list[Annotated[Category, Field(strict=False)]],
        Field(max_length=LIMITS.max_categories),
    ] = Field(default_factory=list)
    legal_authority: LegalAuthority = _enum(LegalAuthority, LegalAuthority.NONE)


class Autonomy(BaseModel):
    """How far the system acts on its own, and whether it can apply lethal force."""

    model_config = _FROZEN

    level: AutonomyLevel = _enum(AutonomyLevel, AutonomyLevel.NONE)
    lethal: StrictBool = False


class Environment(BaseModel):
    """Where the model runs and how sensitive the data is."""

    model_config = _FROZEN

    network: Network = _enum(Network, Network.INTERNET)
    classification: Classification = _enum(Classification, Classification.UNCLASSIFIED)


class UseRequest(BaseModel):
    """One requested use of a model (DESIGN.md §1).

    ``purpose`` must be in the active vocabulary: pass
    ``context={"vocabulary": policy.vocabulary}`` to ``model_validate`` to accept a
    policy's additions; without it the standard vocabulary applies.
    """

    model_config = _FROZEN

    request_id: (
        Annotated[StrictStr, Field(min_length=1, max_length=LIMITS.max_request_id)] | None
    ) = None
    requester: Requester
    model: _Name | None = None
    purpose: Annotated[StrictStr, Field(max_length=LIMITS.max_purpose, pattern=PURPOSE_PATTERN)]
    description: Annotated[StrictStr, Field(max_length=LIMITS.max_description)] | None = None
    data: Data = Field(default_factory=Data)
    autonomy: Autonomy = Field(default_factory=Autonomy)
    environment: Environment = Field(default_factory=Environment)
    attributes: Annotated[
        dict[_AttrKey, AttributeValue],
        Field(
            max_length=LIMITS.max_attributes,
            # pydantic puts the key pattern in patternProperties, which lets other keys
            # through a schema validator: every key must match it
            json_schema_extra={
                "propertyNames": {
                    "minLength": 1,
                    "maxLength": LIMITS.max_attribute_key,
                    "pattern": f"^{ATTRIBUTE_KEY_PATTERN}$",
                }
            },
        ),
    ] = Field(default_factory=dict)

    @model_validator(mode="wrap")
    @classmethod
    def _not_too_deep(cls, value: Any, handler: ModelWrapValidatorHandler[UseRequest]) -> Any:
        # a value nested thousands deep where an enum belongs makes Python's enum lookup
        # fail while it formats its own error: a RecursionError, not a validation error
        try:
            return handler(value)
        except RecursionError:
            raise PydanticCustomError("too_deep", "request is nested too deeply") from None

    @field_validator("purpose")
    @classmethod
    def _known_purpose(cls, value: str, info: ValidationInfo) -> str:
        context = info.context if isinstance(info.context, dict) else {}
        vocabulary = context.get("vocabulary", STANDARD_VOCABULARY)
        if not isinstance(vocabulary, Vocabulary):  # pragma: no cover - misuse
            raise TypeError("context['vocabulary'] must be a usepolicy Vocabulary")
        if value not in vocabulary:
            raise PydanticCustomError(
                "unknown_purpose",
                "{message}",
                {"message": unknown_purpose_message(value, vocabulary)},
            )
        return value

    @field_validator("attributes")
    @classmethod
    def _declared_attributes(cls, value: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        context = info.context if isinstance(info.context, dict) else {}
        vocabulary = context.get("vocabulary", STANDARD_VOCABULARY)
        if isinstance(vocabulary, Vocabulary) and vocabulary.attributes is not None:
            errors = vocabulary.attribute_errors(value)
            if errors:
                raise PydanticCustomError(
                    "bad_attribute_value",
                    "{message}",
                    {"message": "; ".join(m for _, m in errors), "errors": errors},
                )
        return value


def unknown_purpose_message(value: str, vocabulary: Vocabulary) -> str:
    close = vocabulary.closest(value)
    hint = f"; did you mean {', '.join(f'`{c}`' for c in close)}?" if close else ""
    return f"unknown purpose `{value}`{hint}"
