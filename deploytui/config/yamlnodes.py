"""YAML text -> a tree of values that remember the line they were written on.

PyYAML's `safe_load` forgets where things were and silently keeps the last of two
duplicate keys (two hosts called `web1` would quietly become one). So the file is
*composed* instead, and this module turns the node graph into `Node`s itself:
every mapping is checked for duplicate keys, merge keys (`<<: *defaults`) are
honoured, keys stay the text the user typed (YAML 1.1 would read `on:` as `True`),
and every problem becomes a located `ConfigProblem` rather than an exception.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

from deploytui.config.errors import ConfigProblem

_YAML = "tag:yaml.org,2002:"
_MERGE_TAG = _YAML + "merge"
_SCALAR_TAGS = {_YAML + t for t in ("str", "int", "float", "bool", "null", "timestamp")}
MAX_DEPTH = 50  # a real config nests about 8 deep; deeper is a mistake or an attack

Kind = Literal["scalar", "list", "map"]


@dataclass(frozen=True, slots=True)
class Node:
    """A value from the file and the line that names it.

    For a mapping's value `line` is the line of its key (where the user looks for
    `keep_releases:`), for a list item the item's own line.
    """

    kind: Kind
    value: Any  # a Python scalar, list[Node] or dict[str, Node]
    line: int  # 1-based
    text: str = ""  # a scalar exactly as written, e.g. "1.10" for the float 1.1
    quoted: bool = False  # a scalar written in quotes: never a number or a boolean

    @property
    def is_null(self) -> bool:
        return self.kind == "scalar" and self.value is None


def join(path: str, key: str) -> str:
    """The dotted key path of `key` inside `path` (the top level has path "")."""
    return f"{path}.{key}" if path else key


_C_LOADER = getattr(yaml, "CSafeLoader", None)  # libyaml, when PyYAML was built with it
_STR_TAG = _YAML + "str"


if _C_LOADER is not None:
    class _FastCLoader(_C_LOADER):  # type: ignore[misc,valid-type]
        """libyaml's safe loader without the per-node bookkeeping of path resolvers.

        PyYAML calls descend/ascend_resolver around every node only to follow
        `add_path_resolver` paths; the safe loader registers none, so they are skipped
        (a 2,000-host config makes ~19,000 of these calls at start-up). Tags are still
        resolved by the very same `resolve`, so every value means what it always did.
        """

        if not yaml.resolver.Resolver.yaml_path_resolvers:
            def descend_resolver(self, current_node: Any, current_index: Any) -> None:
                return None

            def ascend_resolver(self) -> None:
                return None

            def resolve(self, kind: Any, value: Any, implicit: Any) -> str:
                """The same tags as Resolver.resolve, without its generic walk for the
                common cases: a mapping or list, and plain text whose first character
                starts no implicit type (a host name, most values)."""
                if kind is ScalarNode:
                    if (implicit[0] and value and value[0] not in _IMPLICIT_FIRST
                            and None not in _IMPLICIT_FIRST):
                        return _STR_TAG
                    return super().resolve(kind, value, implicit)
                return _DEFAULT_TAGS.get(kind) or super().resolve(kind, value, implicit)

    _IMPLICIT_FIRST = _FastCLoader.yaml_implicit_resolvers
    _DEFAULT_TAGS = {MappingNode: _YAML + "map", SequenceNode: _YAML + "seq"}

    _C_LOADER = _FastCLoader


def parse_yaml(text: str, filename: str) -> tuple[Node | None, list[ConfigProblem]]:
    """The document's tree (None when empty or unparsable) and every problem met."""
    fast = _parse_valid_with_libyaml(text, filename)
    if fast is not None:
        return fast, []
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        return None, [_syntax_problem(exc, filename)]
    except yaml.reader.ReaderError as exc:
        return None, [_reader_problem(exc, text, filename)]
    except yaml.YAMLError as exc:  # no mark to show: still one line, never a traceback
        return None, [ConfigProblem(filename, 1, "", f"YAML syntax error: {exc}")]
    except RecursionError:  # PyYAML's composer recurses once per nesting level
        return None, [ConfigProblem(filename, 1, "", "YAML nested too deeply to read")]
    if root is None:
        return None, []
    converter = _Converter(filename)
    tree = converter.convert(root, "", root.start_mark.line + 1)
    return tree, converter.problems


def _parse_valid_with_libyaml(text: str, filename: str) -> Node | None:
    """The tree of a problem-free document, composed by libyaml (5x faster: a 2,000-host
    config took 0.45 s in pure Python). Any error or problem gives None, and the caller
    parses again in pure Python, so every message stays exactly as it always was."""
    if _C_LOADER is None:
        return None
    try:
        root = yaml.compose(text, Loader=_C_LOADER)
    except Exception:  # any failure (RecursionError too): the pure path reports it
        return None
    if root is None:
        return None
    converter = _Converter(filename)
    tree = converter.convert(root, "", root.start_mark.line + 1)
    return None if converter.problems else tree


def _syntax_problem(exc: yaml.MarkedYAMLError, filename: str) -> ConfigProblem:
    mark = exc.problem_mark or exc.context_mark
    message = exc.problem or exc.context or "invalid YAML"
    if exc.context and exc.problem:
        where = f" on line {exc.context_mark.line + 1}" if exc.context_mark else ""
        message += f" ({exc.context}{where})"
    if "'\\t'" in message:
        message += "; YAML indents with spaces, not tabs"
    line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    return ConfigProblem(filename, line, "", f"YAML syntax error: {message}", column=column)


def _reader_problem(exc: yaml.reader.ReaderError, text: str, filename: str) -> ConfigProblem:
    before = text[: exc.position]
    line = before.count("\n") + 1
    column = exc.position - (before.rfind("\n") + 1) + 1
    char = exc.character if isinstance(exc.character, str) else chr(exc.character)
    message = f"YAML syntax error: unacceptable character #x{ord(char):04x} ({exc.reason})"
    return ConfigProblem(filename, line, "", message, column=column)


class _Converter:
    """Walks composed nodes once, collecting problems instead of raising."""

    def __init__(self, filename: str) -> None:
        self.filename = filename
        self.problems: list[ConfigProblem] = []
        self._scalars = SafeConstructor()
        self._active: set[int] = set()  # collections being converted: catches `&a [*a]`
        # An alias used again on the same line converts to the same Node: without this,
        # nested aliases ("billion laughs") would take exponential time.
        self._done: dict[tuple[int, int], Node] = {}
        self._depth = 0

    def problem(self, line: int, key: str, message: str) -> None:
        self.problems.append(ConfigProblem(self.filename, line, key, message))

    def convert(self, node: yaml.Node, path: str, line: int) -> Node:
        if isinstance(node, ScalarNode):
            return self._scalar(node, path, line)
        if id(node) in self._active:
            self.problem(line, path, "an alias refers to the mapping or list that contains it")
            return Node("scalar", None, line)
        if (id(node), line) in self._done:
            return self._done[id(node), line]
        if self._depth >= MAX_DEPTH:
            self.problem(line, path, f"nested more than {MAX_DEPTH} levels deep")
            return Node("scalar", None, line)
        self._active.add(id(node))
        self._depth += 1
        try:
            converted = self._collection(node, path, line)
        finally:
            self._active.discard(id(node))
            self._depth -= 1
        self._done[id(node), line] = converted
        return converted

    def _collection(self, node: yaml.Node, path: str, line: int) -> Node:
        if isinstance(node, SequenceNode) and node.tag == _YAML + "seq":
            items = [self.convert(item, f"{path}[{index}]", item.start_mark.line + 1)
                     for index, item in enumerate(node.value)]
            return Node("list", items, line)
        if isinstance(node, MappingNode) and node.tag == _YAML + "map":
            return Node("map", self._mapping(node, path), line)
        self.problem(line, path, f"unsupported YAML tag '{node.tag}'")
        return Node("scalar", None, line)

    def _scalar(self, node: ScalarNode, path: str, line: int) -> Node:
        if node.tag == _STR_TAG:  # most values: the text itself, as construct_yaml_str gives
            return Node("scalar", node.value, line, text=node.value,
                        quoted=node.style in ("'", '"'))
        if node.tag not in _SCALAR_TAGS:
            self.problem(line, path, f"unsupported YAML tag '{node.tag}'")
            return Node("scalar", None, line, text=node.value)
        try:
            value = self._scalars.construct_object(node, deep=True)
        except (yaml.YAMLError, ValueError) as exc:  # e.g. `!!int ten`, a bad timestamp
            self.problem(line, path, f"cannot read this value: {getattr(exc, 'problem', exc)}")
            value = None
        quoted = node.style in ("'", '"')
        return Node("scalar", value, line, text=node.value, quoted=quoted)

    def _mapping(self, node: MappingNode, path: str) -> dict[str, Node]:
        own: dict[str, Node] = {}
        merged: dict[str, Node] = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if key_node.tag == _MERGE_TAG:
                for source in self._merge_sources(value_node, join(path, "<<"), line):
                    for key, value in source.items():
                        merged.setdefault(key, value)  # the first merged mapping wins
                continue
            if not isinstance(key_node, ScalarNode):
                self.problem(line, path, "a key must be a plain name, not a list or mapping")
                continue
            key = key_node.value
            if key in own:
                self.problem(line, join(path, key),
                             f"duplicate key '{key}' (first on line {own[key].line}); "
                             "YAML would silently keep only the last one")
                continue
            own[key] = self.convert(value_node, join(path, key), line)
        result = {key: value for key, value in merged.items() if key not in own}
        result.update(own)
        return result

    def _merge_sources(self, node: yaml.Node, path: str, line: int) -> list[dict[str, Node]]:
        """The mappings a `<<:` key merges: one mapping, or a list of them."""
        candidates = node.value if isinstance(node, SequenceNode) else [node]
        sources = []
        for candidate in candidates:
            converted = self.convert(candidate, path, line)
            if converted.kind == "map":
                sources.append(converted.value)
            else:
                self.problem(line, path, "'<<' merges a mapping or a list of mappings")
        return sources
