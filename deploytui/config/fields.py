"""Typed reading of located YAML values, collecting problems instead of stopping.

Each converter either returns a clean value or records ONE problem line for the
value and raises `Invalid`; `Reader.put` then leaves the key out (the model's default
applies) and the walk goes on, so the user sees every problem of the file in one run.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from deploytui.config.errors import ConfigProblem
from deploytui.config.model import SecretRef
from deploytui.config.yamlnodes import Node, join

NAME = re.compile(r"^[A-Za-z0-9._-]+$")  # secret, project, environment, host and role names
SECRET_PLACES = (
    "ssh.passphrase, ssh.key, projects.*.sudo_password, projects.*.env values, notify[].url")
CLEAR_SECRET = "secret written in clear; use {secret: NAME} and 'deploytui secret set NAME'"


class Invalid(Exception):
    """A value was wrong; its problem line is already recorded."""


def suggest(word: str, known: Iterable[str]) -> str | None:
    """The closest known word to a typo, if one is close enough to be a good guess."""
    matches = difflib.get_close_matches(word, list(known), n=1, cutoff=0.6)
    return matches[0] if matches else None


def describe(node: Node) -> str:
    """How a wrong value is shown after 'got': its text, or what kind of thing it is."""
    if node.kind == "map":
        return "a mapping"
    if node.kind == "list":
        return "a list"
    if node.value is None:
        return "nothing"
    if isinstance(node.value, bool):
        return f"the boolean {node.text}"
    if isinstance(node.value, int | float):
        return node.text
    return f"'{node.text}'"


def _looks_like(text: str, kind: type) -> bool:
    lowered = text.strip().lower()
    if kind is bool:
        return lowered in ("true", "false", "yes", "no", "on", "off")
    try:
        kind(lowered)
    except ValueError:
        return False
    return True


class Reader:
    """Knows the file name and gathers problems and warnings for it."""

    def __init__(self, filename: str) -> None:
        self.filename = filename
        self.problems: list[ConfigProblem] = []
        self.warnings: list[ConfigProblem] = []

    # -- recording ---------------------------------------------------------------------

    def error(self, line: int, key: str, message: str) -> Invalid:
        """Record a problem; returns the exception so callers can `raise reader.error(...)`."""
        self.problems.append(ConfigProblem(self.filename, line, key, message))
        return Invalid(message)

    def warn(self, line: int, key: str, message: str) -> None:
        self.warnings.append(ConfigProblem(self.filename, line, key, message))

    def wrong(self, node: Node, path: str, expected: str, hint: str = "") -> Invalid:
        """'expected X, got Y' for a value of the wrong kind."""
        if node.kind == "map" and set(node.value) == {"secret"}:
            return self.error(node.line, path, "a {secret: NAME} reference is not allowed here "
                                               f"(only in {SECRET_PLACES})")
        return self.error(node.line, path, f"expected {expected}, got {describe(node)}{hint}")

    # -- structure ---------------------------------------------------------------------

    def mapping(self, node: Node, path: str, known: Sequence[str] = (),
                required: Sequence[str] = (), what: str = "a mapping") -> dict[str, Node]:
        """The entries of a mapping, after reporting unknown and missing keys.

        `known` empty means any key is allowed (names chosen by the user: hosts...).
        A null value is an empty mapping; missing `required` keys are then reported.
        """
        if node.kind != "map" and not node.is_null:
            raise self.wrong(node, path, what)
        entries: dict[str, Node] = dict(node.value) if node.kind == "map" else {}
        if known:
            for key, child in list(entries.items()):
                if key not in known:
                    guess = suggest(key, known)
                    hint = (f"did you mean '{guess}'?" if guess
                            else f"known keys: {', '.join(known)}")
                    self.error(child.line, join(path, key), f"unknown key '{key}' ({hint})")
                    del entries[key]
        for key in required:
            if key not in entries:
                self.error(node.line, path, f"missing required key '{key}'")
        return entries

    def put(self, values: dict[str, Any], entries: dict[str, Node], path: str, key: str,
            convert: Callable[..., Any], *, nullable: bool = False, **options: Any) -> None:
        """Store `convert(entries[key])` in `values[key]` when present and valid.

        Absent or invalid keys are left out, so the model's own default applies.
        With `nullable`, an explicit null (`user:` or `user: null`) stores None.
        """
        node = entries.get(key)
        if node is None:
            return
        if nullable and node.is_null:
            values[key] = None
            return
        try:
            values[key] = convert(node, join(path, key), **options)
        except Invalid:
            return

    # -- scalars -----------------------------------------------------------------------

    def string(self, node: Node, path: str, allow_empty: bool = False) -> str:
        """Text; an unquoted number or date counts as the text written (branch: 1.10)."""
        if node.kind == "scalar" and isinstance(node.value, bool):
            raise self.wrong(node, path, "a string", f" (write '{node.text}' in quotes)")
        if node.kind != "scalar" or node.value is None:
            raise self.wrong(node, path, "a string")
        value = node.value if isinstance(node.value, str) else node.text
        if not value.strip() and not allow_empty:
            raise self.error(node.line, path, "must not be empty")
        return value

    def integer(self, node: Node, path: str, minimum: int | None = None,
                maximum: int | None = None) -> int:
        value = node.value
        if node.kind != "scalar" or isinstance(value, bool) or not isinstance(value, int):
            hint = " (remove the quotes)" if node.quoted and _looks_like(node.text, int) else ""
            raise self.wrong(node, path, "a whole number", hint)
        if minimum is not None and maximum is not None and not minimum <= value <= maximum:
            raise self.error(node.line, path,
                             f"must be between {minimum} and {maximum}, got {value}")
        if minimum is not None and value < minimum:
            raise self.error(node.line, path, f"must be at least {minimum}, got {value}")
        return value

    def seconds(self, node: Node, path: str) -> float:
        """A duration in seconds; zero or less would mean 'fail at once' or 'never'."""
        value = node.value
        if node.kind != "scalar" or isinstance(value, bool) or not isinstance(value, int | float):
            hint = " (remove the quotes)" if node.quoted and _looks_like(node.text, float) else ""
            raise self.wrong(node, path, "a number of seconds", hint)
        if not value > 0:
            raise self.error(node.line, path, f"must be greater than 0, got {node.text}")
        return float(value)

    def boolean(self, node: Node, path: str) -> bool:
        if node.kind == "scalar" and isinstance(node.value, bool):
            return node.value
        hint = " (remove the quotes)" if node.quoted and _looks_like(node.text, bool) else ""
        raise self.wrong(node, path, "true or false", hint)

    def choice(self, node: Node, path: str, choices: Sequence[str], what: str) -> str:
        plain = node.kind == "scalar" and node.value is not None  # `host_keys: yes` is a bool
        value = node.text if plain else self.string(node, path)
        if value in choices:
            return value
        guess = suggest(value, choices)
        hint = f"did you mean '{guess}'? " if guess else ""
        raise self.error(node.line, path,
                         f"unknown {what} '{value}' ({hint}valid: {', '.join(choices)})")

    def name(self, line: int, path: str, name: str, what: str) -> str:
        """A project/environment/host/role name: it ends up in file names and commands."""
        if not NAME.match(name) or name.startswith((".", "-")):
            raise self.error(line, path, f"{what} name '{name}' must be letters, digits, "
                                         "'-', '_' or '.' (not first)")
        return name

    def local_path(self, node: Node, path: str) -> Path:
        """A path on this machine; `~` is expanded."""
        return Path(self.string(node, path)).expanduser()

    # -- collections -------------------------------------------------------------------

    def strings(self, node: Node, path: str) -> tuple[str, ...]:
        """A list of strings; null is the empty list, one bare string is a mistake."""
        return tuple(value for value, _ in self.string_items(node, path))

    def string_items(self, node: Node, path: str) -> list[tuple[str, Node]]:
        """The valid strings of a list, each with its node (for its line)."""
        if node.is_null:
            return []
        if node.kind != "list":
            hint = f" (write [{node.text}])" if node.kind == "scalar" else ""
            raise self.wrong(node, path, "a list of strings", hint)
        items = []
        for index, item in enumerate(node.value):
            try:
                items.append((self.string(item, f"{path}[{index}]"), item))
            except Invalid:
                continue
        return items

    # -- secrets -----------------------------------------------------------------------

    def secret(self, node: Node, path: str, warn_clear: bool = True) -> str | SecretRef:
        """`{secret: NAME}` -> SecretRef; clear text is accepted with a warning."""
        if node.kind == "map":
            entries = self.mapping(node, path, known=("secret",), required=("secret",))
            if "secret" not in entries:
                raise Invalid("no secret name")
            name_node = entries["secret"]
            name = self.string(name_node, join(path, "secret"))
            if not NAME.match(name):
                raise self.error(name_node.line, join(path, "secret"),
                                 f"secret name '{name}' must be letters, digits, '-', '_' or '.'")
            return SecretRef(name)
        value = self.string(node, path)
        if warn_clear:
            self.warn(node.line, path, CLEAR_SECRET)
        return value
