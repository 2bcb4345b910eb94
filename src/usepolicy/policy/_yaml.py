"""Safe YAML loading that keeps the source position of every node.

PyYAML's composer gives positioned nodes; this module turns them into ``Node``
values while enforcing what a policy file needs and PyYAML does not:

- duplicate mapping keys are errors (PyYAML silently keeps the last one);
- only YAML 1.2 core scalars are implicit: ``true``/``false``, decimal integers and
  floats, ``null``. ``yes``, ``no``, ``on``, ``off``, dates, octal and sexagesimal
  numbers stay strings, so ``country: NO`` means Norway;
- explicit tags other than the standard ones are rejected (nothing is constructed);
- aliases are expanded under a budget and nesting depth is capped, so a
  "billion laughs" file fails fast instead of eating memory.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Final

import yaml

from .._errors import Diagnostic, PolicyError
from .._files import too_large
from ..request import unicode_problem

__all__ = ["MAX_DEPTH", "MAX_FILE_BYTES", "MAX_NODES", "Node", "YamlFailure", "parse_yaml"]

MAX_FILE_BYTES: Final = 4 * 1024 * 1024
MAX_NODES: Final = 200_000
MAX_DEPTH: Final = 64
_MAX_EXACT: Final = 2**53 - 1


class _Loader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 core implicit scalars only."""

    yaml_implicit_resolvers: dict[Any, Any] = {}  # noqa: RUF012 - PyYAML reads it per class


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:int", re.compile(r"^[-+]?[0-9]+$"), list("-+0123456789")
)
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$"),
    list("-+0123456789."),
)
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:null", re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""]
)

_STR = "tag:yaml.org,2002:str"
_SCALAR_TAGS: Final = {
    _STR,
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:null",
}
#: plain scalars that YAML 1.1 (and so many tools) read as booleans
YAML11_BOOLEANS: Final = frozenset(
    [
        "y",
        "Y",
        "yes",
        "Yes",
        "YES",
        "n",
        "N",
        "no",
        "No",
        "NO",
        "on",
        "On",
        "ON",
        "off",
        "Off",
        "OFF",
    ]
)


@dataclass(eq=False, slots=True)
class Node:
    """A YAML value with its 1-based source position.

    ``value`` is a str, int, float, bool or None for scalars, a ``list[Node]`` for
    sequences and a ``dict[str, Node]`` for mappings; ``keys`` holds the positioned
    key nodes of a mapping. ``plain`` is true for unquoted scalars, and ``text`` keeps
    a scalar's source text (``1.10`` stays ``1.10`` there while its value is 1.1).
    """

    value: Any
    line: int
    col: int
    plain: bool = False
    keys: dict[str, Node] = field(default_factory=dict)
    text: str | None = None

    def plain_value(self) -> Any:
        """The value with positions stripped (for digests and parameters)."""
        if isinstance(self.value, list):
            return [item.plain_value() for item in self.value]
        if isinstance(self.value, dict):
            return {key: item.plain_value() for key, item in self.value.items()}
        return self.value

    def describe(self) -> str:
        """A short, backticked rendering of the value for messages."""
        value = self.value
        if isinstance(value, list):
            return "a list"
        if isinstance(value, dict):
            return "a mapping"
        if value is None:
            return "null"
        if isinstance(value, bool):
            return "`true`" if value else "`false`"
        text = str(value).replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r")
        return f"`{text[:60]}…`" if len(text) > 60 else f"`{text}`"


class YamlFailure(PolicyError):
    """The file is not acceptable YAML; ``diagnostics`` says where."""


class _Converter:
    def __init__(self, path: str) -> None:
        self.path = path
        self.count = 0
        self.diagnostics: list[Diagnostic] = []

    def fail(self, node: yaml.Node, code: str, message: str, hint: str | None = None) -> None:
        mark = node.start_mark
        self.diagnostics.append(
            Diagnostic(self.path, mark.line + 1, mark.column + 1, code, message, hint)
        )

    def convert(self, node: yaml.Node, depth: int) -> Node:
        self.count += 1
        if self.count > MAX_NODES:
            self.fail(
                node,
                "too-complex",
                f"the document expands to more than {MAX_NODES} nodes",
                "aliases (*name) are expanded; a file that expands this far is rejected",
            )
            raise _Abort
        if depth > MAX_DEPTH:
            self.fail(node, "too-deep", f"nesting deeper than {MAX_DEPTH} levels")
            raise _Abort
        line, col = node.start_mark.line + 1, node.start_mark.column + 1
        if isinstance(node, yaml.ScalarNode):
            return Node(self.scalar(node), line, col, plain=node.style is None, text=node.value)
        if isinstance(node, yaml.SequenceNode):
            if node.tag != "tag:yaml.org,2002:seq":
                self.fail(node, "bad-tag", f"unsupported tag `{node.tag}`")
            return Node([self.convert(item, depth + 1) for item in node.value], line, col)
        if isinstance(node, yaml.MappingNode):
            if node.tag != "tag:yaml.org,2002:map":
                self.fail(node, "bad-tag", f"unsupported tag `{node.tag}`")
            values: dict[str, Node] = {}
            keys: dict[str, Node] = {}
            for key_node, value_node in node.value:
                if not isinstance(key_node, yaml.ScalarNode) or key_node.tag != _STR:
                    self.fail(
                        key_node,
                        "bad-key",
                        "mapping keys must be plain strings",
                        "quote the key",
                    )
                    continue
                key = key_node.value
                if key == "<<" and key_node.style is None:
                    self.fail(key_node, "bad-key", "merge keys (`<<`) are not supported")
                    continue
                if key in values:
                    first = keys[key]
                    self.fail(
                        key_node,
                        "duplicate-key",
                        f"duplicate key `{key}` (first at line {first.line})",
                        "YAML would silently keep only the last one",
                    )
                    continue
                keys[key] = Node(key, key_node.start_mark.line + 1, key_node.start_mark.column + 1)
                values[key] = self.convert(value_node, depth + 1)
            return Node(values, line, col, keys=keys)
        raise AssertionError(f"unexpected YAML node {node!r}")  # pragma: no cover

    def scalar(self, node: yaml.ScalarNode) -> Any:
        tag, text = node.tag, node.value
        if tag not in _SCALAR_TAGS:
            self.fail(node, "bad-tag", f"unsupported tag `{tag}`")
            return text
        if tag == _STR:
            if not text.isascii():
                problem = unicode_problem(text)
                if problem is not None:
                    self.fail(node, "bad-value", f"the string {problem}")
            return text
        if tag == "tag:yaml.org,2002:null":
            return None
        if tag == "tag:yaml.org,2002:bool":
            return text.lower() == "true"
        try:
            if tag == "tag:yaml.org,2002:int":
                number_int = int(text)
                if abs(number_int) > _MAX_EXACT:
                    # canonical JSON (RFC 8785) holds integers exactly only up to 2**53
                    self.fail(node, "bad-value", f"`{text}` is beyond ±(2**53 - 1)")
                return number_int
            number = float(text)
        except ValueError:
            self.fail(node, "bad-value", f"`{text}` is not a number")
            return text
        if number != number or number in (float("inf"), float("-inf")):
            self.fail(node, "bad-value", f"`{text}` is not a finite number")
        return number


class _Abort(Exception):
    pass


def _utf8_size(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))  # a lone surrogate fails later


def parse_yaml(text: str, path: str) -> Node:
    """Parse one YAML document into positioned ``Node`` values.

    Raises:
        YamlFailure: on syntax errors, duplicate keys, unsupported tags, or a document
            that is too large, too deep or expands too far.
    """
    # the limit is in bytes, as files are measured when read: a character is 1 to 4
    size = len(text) if len(text) * 4 <= MAX_FILE_BYTES else _utf8_size(text)
    if size > MAX_FILE_BYTES:
        reason = too_large(path, MAX_FILE_BYTES, size).reason
        raise YamlFailure([Diagnostic(path, 1, 1, "too-large", f"file {reason}")])
    converter = _Converter(path)
    try:
        root = yaml.compose(text, Loader=_Loader)  # compose builds nodes, never objects
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = " ".join((exc.problem or exc.context or "invalid YAML").split())
        raise YamlFailure([Diagnostic(path, line, col, "yaml-syntax", problem)]) from None
    except yaml.reader.ReaderError as exc:
        before = text[: exc.position]
        line = before.count("\n") + 1
        col = exc.position - (before.rfind("\n") + 1) + 1
        problem = f"character #x{exc.character:04x} is not allowed in YAML"
        if isinstance(exc.character, bytes):  # pragma: no cover - text input only
            problem = "invalid byte in YAML"
        raise YamlFailure([Diagnostic(path, line, col, "yaml-syntax", problem)]) from None
    except yaml.YAMLError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "invalid YAML"
        raise YamlFailure([Diagnostic(path, 1, 1, "yaml-syntax", first)]) from None
    except RecursionError:
        raise YamlFailure(
            [Diagnostic(path, 1, 1, "too-deep", "nesting too deep to parse")]
        ) from None
    if root is None:
        raise YamlFailure([Diagnostic(path, 1, 1, "empty", "the file is empty")])
    try:
        result = converter.convert(root, 0)
    except _Abort:
        raise YamlFailure(converter.diagnostics) from None
    if converter.diagnostics:
        raise YamlFailure(converter.diagnostics)
    return result
