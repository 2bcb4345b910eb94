"""Name keys in OPA: the ``input`` an exported module is asked with (the validated
request, plus the name keys of the fields the policy tests with ``in_list``), and the
module's side: its lists as keys, and the check that the input carries them.

Rego has neither NFKC nor the TS #39 confusable skeleton, so ``in_list`` cannot be
computed inside OPA. usepolicy computes each list-matched field's key
(``policy/_names.py``) before asking, in a section of its own::

    "name_keys": {"scheme": "usepolicy-names/2 icu-72.1 unicode-15.0",
                  "fields": {"requester.organization": ["huawei", "huawel"],
                             "requester.entity_id": null}}

(each field's small and capitals key), and the module holds each list as the keys of
its items. A module reached without that
section, without a field it needs, or with keys made under another scheme (another ICU
or Unicode version could key some names differently) denies with an error: an input
built by hand can never turn a listed name into an allow.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

from ...engine import getter
from ...policy import SCHEME, Cond, Policy, Test, condition_parts, name_keys
from ...request import Req, request_to_builtins, validate_request
from ._logic import literal

__all__ = [
    "NAME_KEYS",
    "NAME_KEY_HELPERS",
    "SCHEME",
    "exported_lists",
    "input_name_keys",
    "item_helpers",
    "name_key_failures",
    "name_key_fields",
    "opa_input",
]

#: the key of the derived section in ``input``; no request field has this name
NAME_KEYS: Final = "name_keys"


def _tests(cond: Cond | None) -> Iterator[Test]:
    return (part for part in condition_parts(cond) if isinstance(part, Test))


def name_key_fields(policy: Policy) -> tuple[str, ...]:
    """The fields ``policy`` matches names of against a list (``in_list``, ``in`` or
    ``not_in`` with a named list: ``Test.list_name``), in rules and obligations, sorted."""
    conds = [c for rule in policy.rules for c in (rule.when, *(o.when for o in rule.obligations))]
    return tuple(sorted({t.field for c in conds for t in _tests(c) if t.list_name is not None}))


def input_name_keys(req: Req, fields: tuple[str, ...]) -> dict[str, Any]:
    """The ``name_keys`` section for a validated request: each field's two keys (small,
    capitals); for an attribute holding a list, ``{"items": [keys of each item]}``
    (list operators with a named list match items by name); null when the field is
    absent or neither, where no list matches."""
    keys: dict[str, Any] = {}
    for path in fields:
        value = getter(path)(req)
        if isinstance(value, str):
            keys[path] = list(name_keys(value))
        elif isinstance(value, list):
            keys[path] = {"items": [list(name_keys(item)) for item in value]}
        else:
            keys[path] = None
    return {"scheme": SCHEME, "fields": keys}


def opa_input(policy: Policy, request: Any) -> dict[str, Any]:
    """The ``input`` to ask the module exported from ``policy`` with: the validated
    request with defaults filled in, and the ``name_keys`` of its list-matched fields.

    ``OpaEngine`` builds it so; a gateway that queries OPA itself must do the same.

    Raises:
        RequestError: the request is invalid.
    """
    req = validate_request(request, policy.vocabulary)
    payload = request_to_builtins(req)
    fields = name_key_fields(policy)
    if fields:
        payload[NAME_KEYS] = input_name_keys(req, fields)
    return payload


# -- the module's side ----------------------------------------------------------------
def exported_lists(policy: Policy) -> dict[str, list[str]]:
    """The named lists as an exported module reads them: the sorted name keys of their
    items (``in_list`` compares the input's name keys with them)."""
    return {name: sorted(keys) for name, keys in sorted(policy.name_lists.items())}


#: Rego helpers of a module with ``in_list`` tests
NAME_KEY_HELPERS: Final = (
    "# the input carries the field's name keys (null when it is absent)\n"
    "_has_name_key(path) if {\n\t_ = input.name_keys.fields[path]\n}\n\n"
    "# `in_list`: one of the value's name keys (small, capitals) is on the list\n"
    "_listed(keys, names) if {\n\tis_array(keys)\n\tsome key in keys\n\tkey in names\n}"
)


#: Rego helpers of the list operators with a named list on an attribute (the field's
#: entry in ``name_keys`` is ``{"items": [keys of each item]}``), by the name the
#: translator records in ``used``
_ITEM_HELPERS: Final = {
    "items_any": (
        "# `contains_any` with a named list: some item is on it by name\n"
        "_items_any(entry, names) if {\n\tsome keys in entry.items\n\t_item_listed(keys, names)\n}"
    ),
    "items_all": (
        "# `all_in` with a named list: every item is on it by name (an empty list too)\n"
        "_items_all(entry, names) if {\n\tis_array(entry.items)\n"
        "\tevery keys in entry.items {\n\t\t_item_listed(keys, names)\n\t}\n}"
    ),
    "items_none": (
        "# `none_in` with a named list: no item is on it by name\n"
        "_items_none(entry, names) if {\n\tis_array(entry.items)\n"
        "\tnot _items_any(entry, names)\n}"
    ),
    "items_cover": (
        "# `contains_all` with a named list: each entry (its own name keys) is matched\n"
        "# by some item\n"
        "_items_cover(entry, wanted) if {\n\tis_array(entry.items)\n"
        "\tevery entry_keys in wanted {\n\t\tsome keys in entry.items\n"
        "\t\tsome key in keys\n\t\tkey in entry_keys\n\t}\n}"
    ),
}


def item_helpers(used: set[str]) -> list[str]:
    """The Rego helpers the list operators with a named list need (``used``: what
    the translator recorded)."""
    wanted = [name for name in _ITEM_HELPERS if name in used]
    if "items_none" in used and "items_any" not in used:
        wanted.insert(0, "items_any")
    if not wanted:
        return []
    item = "_item_listed(keys, names) if {\n\tsome key in keys\n\tkey in names\n}"
    return [item, *(_ITEM_HELPERS[name] for name in wanted)]


def name_key_failures(fields: list[str]) -> str:
    """A Rego array of error messages, empty when the input carries the name keys of
    every field in ``fields`` under this ``SCHEME``: the module denies with the first,
    so an input without keys (or with keys made otherwise) never lets a listed name by."""
    listed = ", ".join(literal(f) for f in fields)
    missing = (
        f"`input.{NAME_KEYS}` is missing or not of scheme `{SCHEME}`: build the input "
        "with usepolicy (OpaEngine, or usepolicy.backends.opa.opa_input)"
    )
    return (
        f"array.concat(\n[{literal(missing)} | not input.{NAME_KEYS}.scheme == "
        f"{literal(SCHEME)}],\n"
        f'[sprintf("`input.{NAME_KEYS}.fields` has no key for `%s`", [path]) |\n'
        f"\tsome path in [{listed}]\n\tnot _has_name_key(path)\n],\n)"
    )
