"""A project's `commands:` (Kamal's aliases): named commands for `deploytui run` and the
console, each with where it runs and whether it must be confirmed first.

    commands:
      migrations: {run: python manage.py showmigrations, on: once}
      flush-cache: {run: ./bin/flush, on: web, confirm: true}

`on` is `all` (every host of the environment), `once` (the host that runs the roles'
`once` steps in a deploy) or a role's name, checked against the project's roles here so
a typo is a config error with its line, not a surprise during an incident.
"""

from __future__ import annotations

from typing import Any

from deploytui.config.fields import Invalid, Reader, suggest
from deploytui.config.model import COMMAND_TARGETS, NamedCommand, Role
from deploytui.config.yamlnodes import Node, join

COMMAND_KEYS = ("run", "on", "confirm")


def read_commands(reader: Reader, node: Node, path: str,
                  roles: dict[str, Role] | None) -> dict[str, NamedCommand]:
    entries = reader.mapping(node, path, what="a mapping of command names to "
                                              "{run: COMMAND, on: all|once|ROLE}")
    commands: dict[str, NamedCommand] = {}
    for name, command_node in entries.items():
        command_path = join(path, name)
        try:
            reader.name(command_node.line, command_path, name, "command")
            if command_node.kind == "scalar" and command_node.value is not None:
                raise reader.error(command_node.line, command_path,
                                   f"expected a mapping such as {{run: {command_node.text},"
                                   " on: all}")
            settings = reader.mapping(command_node, command_path, COMMAND_KEYS,
                                      required=("run",),
                                      what="a mapping {run: COMMAND, on: all|once|ROLE, "
                                           "confirm: true|false}")
        except Invalid:
            continue
        values: dict[str, Any] = {}
        reader.put(values, settings, command_path, "run", reader.string)
        reader.put(values, settings, command_path, "on", _target, reader=reader, roles=roles)
        reader.put(values, settings, command_path, "confirm", reader.boolean)
        if "run" in values:
            commands[name] = NamedCommand(name=name, **values)
    return commands


def _target(node: Node, path: str, reader: Reader, roles: dict[str, Role] | None) -> str:
    value = reader.string(node, path).strip()
    if value in COMMAND_TARGETS or roles is None or value in roles:
        return value
    known = [*COMMAND_TARGETS, *roles]
    guess = suggest(value, known)
    hint = f"did you mean '{guess}'? " if guess else ""
    raise reader.error(node.line, path, f"unknown target '{value}' ({hint}valid: all, once, "
                                        "or a role: " + (", ".join(roles) or "none defined")
                       + ")")
