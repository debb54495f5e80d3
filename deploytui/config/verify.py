"""The settings that make a deploy prove itself: a role's `health`, an environment's
`rollout`, `on_unhealthy`, and the project's `hooks`.

Each reader records one located problem per mistake (see fields.py) and raises Invalid,
so the key is left out and the walk goes on.
"""

from __future__ import annotations

import contextlib
import re
from typing import Any

from deploytui.config.fields import Invalid, Reader
from deploytui.config.model import HEALTH_PLACEHOLDERS, HOOK_NAMES, HealthCheck, Hooks, Rollout
from deploytui.config.yamlnodes import Node, join

HEALTH_KEYS = ("url", "command", "status", "timeout", "interval")
ROLLOUT_KEYS = ("canary", "batch", "pause")
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_PERCENT = re.compile(r"^\s*(-?\d+)\s*%\s*$")
_HTTP_URL = re.compile(r"^https?://[^/\s]+(/\S*)?$")


def read_health(node: Node, path: str, reader: Reader) -> HealthCheck:
    entries = reader.mapping(node, path, HEALTH_KEYS,
                             what="a mapping with url or command, status, timeout, interval")
    if "url" in entries and "command" in entries:
        raise reader.error(node.line, path, "give either url or command, not both")
    if "url" not in entries and "command" not in entries:
        raise reader.error(node.line, path, "missing url (an HTTP check) or command "
                                            "(a command on the host; healthy = exit 0)")
    values: dict[str, Any] = {}
    reader.put(values, entries, path, "url", _url, reader=reader)
    reader.put(values, entries, path, "command", _with_placeholders, reader=reader)
    reader.put(values, entries, path, "status", _status, reader=reader)
    reader.put(values, entries, path, "timeout", reader.seconds)
    reader.put(values, entries, path, "interval", reader.seconds)
    if "url" not in values and "command" not in values:
        raise Invalid("no usable check")  # reported above
    return HealthCheck(**values)


def _with_placeholders(node: Node, path: str, reader: Reader) -> str:
    value = reader.string(node, path)
    for name in _PLACEHOLDER.findall(value):
        if name not in HEALTH_PLACEHOLDERS:
            known = " ".join(f"{{{p}}}" for p in HEALTH_PLACEHOLDERS)
            raise reader.error(node.line, path,
                               f"unknown placeholder '{{{name}}}' (known: {known})")
    return value


def _url(node: Node, path: str, reader: Reader) -> str:
    value = _with_placeholders(node, path, reader).strip()
    if not _HTTP_URL.match(value):
        raise reader.error(node.line, path, "expected an http:// or https:// URL such as "
                                            f"'http://{{address}}:8000/up', got '{value}'")
    return value


def _status(node: Node, path: str, reader: Reader) -> tuple[int, int]:
    """One code, or [low, high] inclusive; every code a real HTTP status."""
    if node.kind == "list":
        if len(node.value) != 2:
            raise reader.error(node.line, path, "expected one status code or a range "
                                                f"[low, high], got {len(node.value)} values")
        low, high = (_code(item, path, reader) for item in node.value)
        if low > high:
            raise reader.error(node.line, path, f"the range [{low}, {high}] is empty "
                                                "(write the lower code first)")
        return low, high
    code = _code(node, path, reader)
    return code, code


def _code(node: Node, path: str, reader: Reader) -> int:
    code = reader.integer(node, path)
    if not 100 <= code <= 599:
        raise reader.error(node.line, path, f"must be an HTTP status between 100 and 599, "
                                            f"got {code}")
    return code


def read_rollout(node: Node, path: str, reader: Reader, hosts: int) -> Rollout:
    entries = reader.mapping(node, path, ROLLOUT_KEYS,
                             what="a mapping with canary, batch, pause")
    values: dict[str, Any] = {}
    reader.put(values, entries, path, "canary", reader.integer, minimum=0)
    if values.get("canary", 0) > hosts:
        reader.error(entries["canary"].line, join(path, "canary"),
                     f"{values['canary']} canary hosts, but the environment has {hosts}")
        del values["canary"]
    if "batch" in entries:
        with contextlib.suppress(Invalid):
            values.update(_batch(entries["batch"], join(path, "batch"), reader))
    reader.put(values, entries, path, "pause", _pause, reader=reader)
    return Rollout(**values)


def _batch(node: Node, path: str, reader: Reader) -> dict[str, int]:
    """`batch: 2` hosts, or `batch: "25%"` of the environment's hosts."""
    if node.kind == "scalar" and isinstance(node.value, str):
        match = _PERCENT.match(node.value)
        if not match:
            raise reader.error(node.line, path, "expected a number of hosts or a percentage "
                                                f"such as \"25%\", got '{node.value}'")
        percent = int(match.group(1))
        if not 1 <= percent <= 100:
            raise reader.error(node.line, path, f"must be between 1% and 100%, got {percent}%")
        return {"batch_percent": percent}
    count = reader.integer(node, path)
    if count < 1:
        raise reader.error(node.line, path, f"must be at least 1 host, got {count}")
    return {"batch": count}


def _pause(node: Node, path: str, reader: Reader) -> float:
    value = node.value
    if node.kind != "scalar" or isinstance(value, bool) or not isinstance(value, int | float):
        raise reader.wrong(node, path, "a number of seconds")
    if value < 0:
        raise reader.error(node.line, path, f"must be 0 or more, got {node.text}")
    return float(value)


def read_hooks(node: Node, path: str, reader: Reader) -> Hooks:
    entries = reader.mapping(node, path, HOOK_NAMES,
                             what="a mapping of hook names to lists of commands")
    values: dict[str, Any] = {}
    for name in HOOK_NAMES:
        reader.put(values, entries, path, name, reader.strings)
    return Hooks(**values)
