"""Load policy files, follow includes, resolve lists and vocabulary, check the set."""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Final

import rfc8785

from .._errors import Diagnostic, PolicyError
from .._files import InputFileError, read_text, resolved
from ..request import AttributeSpec, Vocabulary
from ._attributes import check_attribute_uses
from ._conditions import Ref
from ._document import ListFile, ParsedFile, parse_file
from ._model import Combine, Effect, Invariant, Policy, Rule
from ._named import Definition, Resolver, Root, check_conditions, check_list_items
from ._sources import (
    DEFAULT_PACK,
    PolicySource,
    missing_pack,
    pack_names,
    pack_path,
    policy_files,
    resolve_source,
)
from ._yaml import MAX_FILE_BYTES, Node, YamlFailure, parse_yaml

__all__ = [
    "DEFAULT_PACK",
    "display_path",
    "load_policy",
    "loads_policy",
    "missing_pack",
    "pack_names",
    "pack_path",
    "policy_files",
    "resolve_source",
]  # the path helpers live in _sources; re-exported for the callers that import them here

MAX_LIST_FILE_BYTES: Final = 16 * 1024 * 1024


def _unreadable(
    exc: InputFileError, display: str, named_by: tuple[str, Node, str] | None
) -> Diagnostic:
    """A file that cannot be read; an included one at the ``include:`` entry naming it."""
    if named_by is None:
        return Diagnostic(display, 1, 1, exc.code, f"policy file {exc.reason}")
    includer, node, target = named_by
    message = f"included file `{target}` {exc.reason}"
    if exc.code == "file-not-found":
        where = display_path(Path(includer).parent) or "."
        hint = f"paths are relative to {where}"
        return Diagnostic(includer, node.line, node.col, "include-not-found", message, hint)
    return Diagnostic(includer, node.line, node.col, exc.code, message)


def display_path(path: Path) -> str:
    try:
        rel = os.path.relpath(path)
    except ValueError:  # pragma: no cover - another drive on Windows
        return str(path)
    return str(path) if rel.startswith("..") else rel


class _SetLoader:
    def __init__(self) -> None:
        self.diagnostics: list[Diagnostic] = []
        self.files: list[ParsedFile] = []
        self.loaded: set[Path] = set()

    def load(
        self,
        path: Path,
        stack: tuple[Path, ...],
        text: str | None = None,
        named_by: tuple[str, Node, str] | None = None,
    ) -> ParsedFile | None:
        """Load one file and its includes; ``named_by`` is (includer, entry, target) of
        an included file, where a file that cannot be read is reported."""
        key = resolved(path) if text is None else path
        if key in self.loaded:
            return None
        display = display_path(path) if text is None else str(path)
        if text is None:
            try:
                text = read_text(path, MAX_FILE_BYTES)
            except InputFileError as exc:
                self.diagnostics.append(_unreadable(exc, display, named_by))
                return None
        self.loaded.add(key)
        try:
            root = parse_yaml(text, display)
        except YamlFailure as failure:
            self.diagnostics.extend(failure.diagnostics)
            return None
        parsed = parse_file(root, display, self.diagnostics)
        self.read_lists(parsed, path.parent)
        for target, node in parsed.includes:
            child = resolve_source(path.parent, target)
            child_key = resolved(child)
            if child_key in stack or child_key == key:
                self.diagnostics.append(
                    Diagnostic(
                        display,
                        node.line,
                        node.col,
                        "include-cycle",
                        f"`{target}` includes this file again",
                    )
                )
                continue
            missing = missing_pack(target)
            if missing is not None:
                self.err(display, node.line, node.col, "include-not-found", *missing)
                continue
            self.load(child, (*stack, key), named_by=(display, node, target))
        # included files first, so their rules come before the includer's
        self.files.append(parsed)
        return parsed

    def err(
        self, path: str, line: int, col: int, code: str, message: str, hint: str | None = None
    ) -> None:
        self.diagnostics.append(Diagnostic(path, line, col, code, message, hint))

    def read_lists(self, parsed: ParsedFile, base_dir: Path) -> None:
        """Fill ``parsed.lists``: inline lists as written, list files read from ``base_dir``."""
        for name, (source, key_node) in parsed.list_sources.items():
            if isinstance(source, ListFile):
                items = self.read_list_file(parsed.path, source, base_dir)
            else:
                items = source
            if items is not None:
                parsed.lists[name] = (items, key_node)

    def read_list_file(self, path: str, source: ListFile, base_dir: Path) -> frozenset[str] | None:
        rel, node = source.rel, source.node
        try:
            text = read_text(base_dir / rel, MAX_LIST_FILE_BYTES)
        except InputFileError as exc:
            missing = exc.code == "file-not-found"
            self.err(
                path,
                node.line,
                node.col,
                "list-file-not-found" if missing else exc.code,
                f"list file `{rel}` {exc.reason}",
                f"paths are relative to the policy file's folder ({base_dir})" if missing else None,
            )
            return None
        return frozenset(
            line.strip()
            for line in text.splitlines()
            if line.strip() and not line.lstrip().startswith("#")
        )

    def build(self, roots: list[ParsedFile]) -> Policy:
        purposes: dict[str, str] = {}
        lists: dict[str, frozenset[str]] = {}
        list_pos: dict[str, str] = {}
        rules: list[Rule] = []
        rule_pos: dict[str, Rule] = {}
        invariants: list[Invariant] = []
        invariant_pos: dict[str, Invariant] = {}
        attributes: dict[str, AttributeSpec] = {}
        definitions: dict[str, Definition] = {}
        evaluated: list[Root] = []
        for parsed in self.files:
            for name, (cond, node) in parsed.conditions.items():
                if name in definitions:
                    earlier = definitions[name]
                    self.err(
                        parsed.path,
                        node.line,
                        node.col,
                        "duplicate-condition",
                        f"condition `{name}` is already defined at {earlier.path}:{earlier.line}",
                        "condition names are unique across a policy and its includes",
                    )
                    continue
                definitions[name] = Definition(name, cond, parsed.path, node.line, node.col)
            for rule in parsed.rules:
                where = (rule.source, rule.line, rule.col)
                evaluated.append(Root(rule.when, f"rule `{rule.id}`", *where))
                for obligation in rule.obligations:
                    what = f"obligation `{obligation.id}` of rule `{rule.id}`"
                    evaluated.append(Root(obligation.when, what, *where))
            for inv in parsed.invariants:
                where = (inv.source, inv.line, inv.col)
                evaluated.append(Root(inv.when, f"invariant `{inv.id}`", *where))
            for key, (spec, node) in parsed.attributes.items():
                if key in attributes and attributes[key].document() != spec.document():
                    self.err(
                        parsed.path,
                        node.line,
                        node.col,
                        "duplicate-attribute",
                        f"attribute `{key}` is declared twice with different specs",
                        "declare it once, in the file the others include",
                    )
                    continue
                attributes.setdefault(key, spec)
            for name, (desc, node) in parsed.purposes.items():
                if name in purposes and purposes[name] != desc:
                    self.err(
                        parsed.path,
                        node.line,
                        node.col,
                        "duplicate-purpose",
                        f"purpose `{name}` is added twice with different descriptions",
                    )
                purposes[name] = desc
            for name, (items, node) in parsed.lists.items():
                if name in lists and lists[name] != items:
                    self.err(
                        parsed.path,
                        node.line,
                        node.col,
                        "duplicate-list",
                        f"list `{name}` is already defined differently in {list_pos[name]}",
                    )
                    continue
                lists[name] = items
                list_pos.setdefault(name, parsed.path)
            for rule in parsed.rules:
                first = rule_pos.get(rule.id)
                if first is not None:
                    self.err(
                        rule.source,
                        rule.line,
                        rule.col,
                        "duplicate-rule-id",
                        f"rule id `{rule.id}` is already used at {first.source}:{first.line}",
                        "rule ids are unique across a policy and its includes",
                    )
                    continue
                rule_pos[rule.id] = rule
                rules.append(rule)
            for inv in parsed.invariants:
                if inv.id in invariant_pos:
                    other = invariant_pos[inv.id]
                    self.err(
                        inv.source,
                        inv.line,
                        inv.col,
                        "duplicate-invariant-id",
                        f"invariant id `{inv.id}` is already used at {other.source}:{other.line}",
                    )
                    continue
                invariant_pos[inv.id] = inv
                invariants.append(inv)
        vocabulary = Vocabulary(purposes, attributes)
        for parsed in self.files:
            for ref in parsed.refs:
                self.check_ref(ref, vocabulary, lists)
        if attributes:
            tests = [use for parsed in self.files for use in parsed.attribute_uses]
            check_attribute_uses(tests, attributes, lists, self.diagnostics)
        check_conditions(definitions, evaluated, self.diagnostics)
        default, combine = self.settings(roots)
        if self.diagnostics:
            raise PolicyError(self.diagnostics)
        resolver = Resolver(definitions, lists)
        rules = [
            dataclasses.replace(
                rule,
                when=resolver.optional(rule.when),
                obligations=tuple(
                    dataclasses.replace(o, when=resolver.optional(o.when)) for o in rule.obligations
                ),
            )
            for rule in rules
        ]
        invariants = [
            dataclasses.replace(inv, when=resolver.optional(inv.when)) for inv in invariants
        ]
        names = [r.name or "" for r in roots]
        versions = [r.version or "" for r in roots]
        descriptions = [r.description for r in roots if r.description]
        policy = Policy(
            name="+".join(names),
            version="+".join(versions),
            description="\n".join(descriptions) or None,
            default=default,
            combine=combine,
            rules=tuple(rules),
            lists=lists,
            vocabulary=vocabulary,
            purpose_additions=purposes,
            invariants=tuple(invariants),
            sources=tuple(p.path for p in self.files),
            conditions=resolver.named(),
            roots=tuple(r.path for r in roots),
        )
        digest = "sha256:" + hashlib.sha256(rfc8785.dumps(policy.document())).hexdigest()
        return dataclasses.replace(policy, digest=digest)

    def check_ref(self, ref: Ref, vocabulary: Vocabulary, lists: dict[str, frozenset[str]]) -> None:
        if ref.kind == "purpose" and ref.name not in vocabulary:
            close = vocabulary.closest(ref.name)
            self.err(
                ref.path,
                ref.line,
                ref.col,
                "unknown-purpose",
                f"unknown purpose `{ref.name}`",
                f"did you mean `{close[0]}`?" if close else "add it under `vocabulary: purposes:`",
            )
        elif ref.kind == "purpose-prefix" and not vocabulary.is_prefix(ref.name):
            close = vocabulary.closest_prefix(ref.name)
            self.err(
                ref.path,
                ref.line,
                ref.col,
                "unknown-purpose",
                f"no purpose is `{ref.name}` or under it",
                f"did you mean `{close[0]}`?" if close else "add it under `vocabulary: purposes:`",
            )
        elif ref.kind == "list" and ref.name not in lists:
            close = difflib.get_close_matches(ref.name, list(lists), n=1)
            self.err(
                ref.path,
                ref.line,
                ref.col,
                "unknown-list",
                f"no list named `{ref.name}`",
                f"did you mean `{close[0]}`?" if close else "define it under `lists:`",
            )
        elif ref.kind == "list" and ref.field:
            check_list_items(ref, lists[ref.name], vocabulary, self.diagnostics)

    def settings(self, roots: list[ParsedFile]) -> tuple[Effect, Combine]:
        default: Effect | None = None
        combine: str | None = None
        for root in roots:
            if root.default is not None:
                if default is not None and root.default is not default:
                    line, col = root.settings_pos["default"]
                    self.err(
                        root.path,
                        line,
                        col,
                        "conflicting-settings",
                        f"`default: {root.default}` conflicts with `default: "
                        f"{default}` of another policy loaded with it",
                        "load policies with different defaults separately",
                    )
                default = default or root.default
            if root.combine is not None:
                if combine is not None and root.combine != combine:
                    line, col = root.settings_pos["combine"]
                    self.err(
                        root.path,
                        line,
                        col,
                        "conflicting-settings",
                        f"`combine: {root.combine}` conflicts with `combine: "
                        f"{combine}` of another policy loaded with it",
                    )
                combine = combine or root.combine
        return default or Effect.DENY, Combine(combine or Combine.DENY_OVERRIDES)


def load_policy(source: PolicySource | Sequence[PolicySource] | None = None) -> Policy:
    """Load a policy: a file, a folder of policy files, or several of either.

    With no argument, the reference pack ``national-security-safeguards`` shipped in
    the package is loaded. Several files form one policy set (rules in the order
    given, includes before includers); their ``default`` and ``combine`` must agree.

    Raises:
        PolicyError: listing every problem in every file, sorted by position.
    """
    if source is None:
        sources: list[PolicySource] = [pack_path()]
    elif isinstance(source, (str, os.PathLike)):
        sources = [source]
    else:
        sources = list(source)
    loader = _SetLoader()
    roots: list[ParsedFile] = []
    files: list[Path] = []
    for item in sources:
        missing = missing_pack(os.fspath(item))
        if missing is not None:
            loader.err(os.fspath(item), 1, 1, "file-not-found", *missing)
            continue
        try:
            found = policy_files(item)
        except InputFileError as exc:
            loader.err(display_path(Path(item)), 1, 1, exc.code, f"policy folder {exc.reason}")
            continue
        if not found:
            loader.err(
                display_path(Path(item)),
                1,
                1,
                "file-not-found",
                "no policy files (*.yaml) in this folder",
            )
        files.extend(found)
    for path in files:
        parsed = loader.load(path, ())
        if parsed is not None:
            roots.append(parsed)
    if not roots and not loader.diagnostics:  # pragma: no cover - defensive
        loader.err("<none>", 1, 1, "file-not-found", "no policy given")
    return loader.build(roots)


def loads_policy(text: str, path: str = "<string>", base_dir: PolicySource = ".") -> Policy:
    """Load a policy from YAML text; includes and list files resolve from ``base_dir``.

    Raises:
        PolicyError: listing every problem, sorted by position.
    """
    loader = _SetLoader()
    parsed = loader.load(Path(base_dir) / path, (), text=text)
    return loader.build([parsed] if parsed is not None else [])
