"""Read positioned YAML nodes as typed values, reporting each problem where it is.

One reader for every YAML file the library reads: the policy file readers (document,
rules, conditions, declared attributes) and the policy test-case file reader, so a
wrong type or an unknown key is reported the same way, at the same position, in each.
"""

from __future__ import annotations

import difflib

from .._errors import Diagnostic
from ._yaml import YAML11_BOOLEANS, Node

__all__ = ["NodeReader", "closest"]


def closest(word: str, options: list[str] | tuple[str, ...]) -> str | None:
    """A "did you mean" hint naming the option closest to ``word``, if one is close."""
    found = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return f"did you mean `{found[0]}`?" if found else None


class NodeReader:
    """Reads the nodes of one file; every problem becomes a ``Diagnostic`` in ``diagnostics``.

    Each method returns the value read, or None after reporting why it cannot.
    """

    def __init__(self, path: str, diagnostics: list[Diagnostic]) -> None:
        self.path = path
        self.diagnostics = diagnostics

    # -- reporting -------------------------------------------------------------------
    def err(self, node: Node, code: str, message: str, hint: str | None = None) -> None:
        self.diagnostics.append(Diagnostic(self.path, node.line, node.col, code, message, hint))

    # -- shapes ----------------------------------------------------------------------
    def mapping(
        self,
        node: Node,
        what: str,
        allowed: tuple[str, ...],
        required: tuple[str, ...] = (),
        *,
        suggest: bool = True,
    ) -> dict[str, Node] | None:
        """A mapping with a fixed set of keys: ``allowed``, of which ``required`` must be
        present. Only the allowed keys are returned.

        An unknown key's hint names the closest allowed key when ``suggest`` holds and
        one is close, else every allowed key.
        """
        if self.open_mapping(node, what) is None:
            return None
        for key, key_node in node.keys.items():
            if key not in allowed:
                self.err(
                    key_node,
                    "unknown-key",
                    f"unknown key `{key}` in {what}",
                    (closest(key, allowed) if suggest else None)
                    or f"allowed: {', '.join(allowed)}",
                )
        for key in required:
            if key not in node.value:
                self.err(node, "missing-key", f"{what} needs `{key}`")
        return {k: v for k, v in node.value.items() if k in allowed}

    def open_mapping(self, node: Node, what: str) -> dict[str, Node] | None:
        """A mapping whose keys the author chooses (purpose, list or attribute names)."""
        if not isinstance(node.value, dict):
            self.err(node, "wrong-type", f"{what} must be a mapping, got {node.describe()}")
            return None
        return node.value

    def string(self, node: Node, what: str) -> str | None:
        if isinstance(node.value, str):
            return node.value
        if node.plain and isinstance(node.value, (bool, int, float)):
            self.err(
                node,
                "wrong-type",
                f"{what} must be a string; YAML read `{node.text}` as a "
                f"{'boolean' if isinstance(node.value, bool) else 'number'}",
                f'quote it: "{node.text}"',
            )
        else:
            self.err(node, "wrong-type", f"{what} must be a string, got {node.describe()}")
        return None

    def boolean(self, node: Node, what: str) -> bool | None:
        if isinstance(node.value, bool):
            return node.value
        if node.plain and isinstance(node.value, str) and node.value in YAML11_BOOLEANS:
            meant = node.value.lower() in ("y", "yes", "on")
            self.err(
                node,
                "ambiguous-boolean",
                f"`{node.value}` is a string here, not a boolean (YAML 1.2)",
                f"write `{'true' if meant else 'false'}`",
            )
        else:
            self.err(node, "wrong-type", f"{what} must be true or false, got {node.describe()}")
        return None

    def choice(self, node: Node, what: str, options: tuple[str, ...]) -> str | None:
        value = self.string(node, what)
        if value is None:
            return None
        if value not in options:
            self.err(
                node,
                "bad-value",
                f"{what} must be one of {', '.join(f'`{o}`' for o in options)}, got `{value}`",
                closest(value, options),
            )
            return None
        return value

    def seq(self, node: Node, what: str) -> list[Node] | None:
        if not isinstance(node.value, list):
            self.err(node, "wrong-type", f"{what} must be a list, got {node.describe()}")
            return None
        return node.value
