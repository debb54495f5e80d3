"""The `projects:` section: projects, their roles, environments and hosts.

Besides types, this is where the cross-references are checked (a host's roles must
exist in its project) and where values that end up in shell commands or deletions
on the servers are held to a safe shape (absolute deploy_to, relative shared paths).
"""

from __future__ import annotations

import contextlib
import posixpath
import re
from collections.abc import Iterable
from typing import Any

from deploytui.config.fields import CLEAR_SECRET, Invalid, Reader, suggest
from deploytui.config.freeze import read_freeze
from deploytui.config.model import (
    ON_UNHEALTHY,
    SHIPS,
    STRATEGIES,
    Environment,
    Host,
    Project,
    Role,
    SecretRef,
)
from deploytui.config.named_commands import read_commands
from deploytui.config.starter import is_placeholder
from deploytui.config.verify import read_health, read_hooks, read_rollout
from deploytui.config.yamlnodes import Node, join

PROJECT_KEYS = ("repo", "branch", "strategy", "deploy_to", "keep_releases", "shared", "build",
                "roles", "environments", "timeout", "min_free_mb", "env", "sudo_password",
                "on_unhealthy", "hooks", "commands", "max_commits", "ship", "relay_port")
ROLE_KEYS = ("tasks", "once", "restart", "parallel", "batch", "health", "logs",
             "logs_command")
PULL_ROLLOUT = ("strategy pull moves every host's working copy at once and cannot stage "
                "it; use strategy release (or artifact) for a canary/batch rollout, or "
                "remove rollout")
ENVIRONMENT_KEYS = ("hosts", "confirm", "branch", "rollout", "on_unhealthy", "freeze")
HOST_KEYS = ("address", "port", "user", "roles", "transport", "deploy_to", "relay_address")
TRANSPORTS = ("ssh", "local")
BUILTIN_APPS = ("demo",)  # `repo: builtin:demo`, materialised by the engine

# An env variable whose name contains one of these is a secret: warn when written in clear.
SECRET_WORDS = ("PASS", "TOKEN", "SECRET", "KEY", "CREDENTIAL", "PRIVATE")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://\S+$")  # ssh://, https://, git://, file://
_SCP = re.compile(r"^([^\s@/:]+@)?[^\s@/:]+:\S+$")  # git@github.com:acme/shop.git, alias:repo


def read_projects(reader: Reader, node: Node) -> dict[str, Project]:
    try:
        entries = reader.mapping(node, "projects", what="a mapping of project names to settings")
    except Invalid:
        return {}
    if not entries:
        reader.error(node.line, "projects", "no projects are defined")
    projects = {}
    for name, project_node in entries.items():
        try:
            reader.name(project_node.line, join("projects", name), name, "project")
            projects[name] = _project(reader, name, project_node)
        except Invalid:
            continue
    return projects


def _project(reader: Reader, name: str, node: Node) -> Project:
    path = join("projects", name)
    entries = reader.mapping(node, path, PROJECT_KEYS, required=("repo", "deploy_to",
                                                                  "environments"))
    values: dict[str, Any] = {}
    reader.put(values, entries, path, "repo", _repo, reader=reader)
    reader.put(values, entries, path, "branch", reader.string)
    reader.put(values, entries, path, "strategy", reader.choice, choices=STRATEGIES,
               what="strategy")
    reader.put(values, entries, path, "deploy_to", remote_dir, reader=reader)
    reader.put(values, entries, path, "keep_releases", reader.integer, minimum=1)
    reader.put(values, entries, path, "shared", _shared, reader=reader)
    reader.put(values, entries, path, "build", reader.strings)
    reader.put(values, entries, path, "timeout", reader.seconds)
    reader.put(values, entries, path, "min_free_mb", reader.integer, minimum=0)
    reader.put(values, entries, path, "env", _env, reader=reader)
    reader.put(values, entries, path, "sudo_password", reader.secret, nullable=True)
    reader.put(values, entries, path, "on_unhealthy", reader.choice, choices=ON_UNHEALTHY,
               what="on_unhealthy")
    reader.put(values, entries, path, "hooks", read_hooks, reader=reader)
    reader.put(values, entries, path, "max_commits", reader.integer, minimum=1)
    reader.put(values, entries, path, "ship", reader.choice, choices=SHIPS, what="ship")
    reader.put(values, entries, path, "relay_port", reader.integer, minimum=0, maximum=65535)
    roles = _roles(reader, entries.get("roles"), join(path, "roles"))
    if roles is not None:
        values["roles"] = roles
    if "commands" in entries and not entries["commands"].is_null:
        with contextlib.suppress(Invalid):
            values["commands"] = read_commands(reader, entries["commands"],
                                               join(path, "commands"), roles)
    if "environments" in entries:
        values["environments"] = _environments(reader, entries["environments"], path, roles,
                                               values.get("deploy_to"),
                                               values.get("strategy", "release"))
    if any(key not in values for key in ("repo", "deploy_to", "environments")):
        raise Invalid(f"project {name} is incomplete")  # already reported
    return Project(name=name, **values)


def _roles(reader: Reader, node: Node | None, path: str) -> dict[str, Role] | None:
    """The roles in deploy order; None when the section itself is unusable."""
    if node is None:
        return {}
    try:
        entries = reader.mapping(node, path, what="a mapping of role names to their steps")
    except Invalid:
        return None
    roles = {}
    for name, role_node in entries.items():
        role_path = join(path, name)
        try:
            reader.name(role_node.line, role_path, name, "role")
            steps = reader.mapping(role_node, role_path, ROLE_KEYS,
                                   what="a mapping of role steps (tasks, once, restart...)")
        except Invalid:
            continue
        values: dict[str, Any] = {}
        for key in ("tasks", "once", "restart"):
            reader.put(values, steps, role_path, key, reader.strings)
        reader.put(values, steps, role_path, "parallel", reader.boolean)
        reader.put(values, steps, role_path, "batch", reader.integer, nullable=True, minimum=1)
        reader.put(values, steps, role_path, "health", read_health, nullable=True,
                   reader=reader)
        reader.put(values, steps, role_path, "logs", _logs, reader=reader)
        reader.put(values, steps, role_path, "logs_command", reader.string, nullable=True)
        roles[name] = Role(name=name, **values)
    return roles


def _environments(reader: Reader, node: Node, project_path: str,
                  roles: dict[str, Role] | None, deploy_to: str | None,
                  strategy: str) -> dict[str, Environment]:
    path = join(project_path, "environments")
    entries = reader.mapping(node, path, what="a mapping of environment names to settings")
    if not entries:
        reader.error(node.line, path, "the project has no environments")
    environments = {}
    for name, env_node in entries.items():
        env_path = join(path, name)
        try:
            reader.name(env_node.line, env_path, name, "environment")
            settings = reader.mapping(env_node, env_path, ENVIRONMENT_KEYS, required=("hosts",))
        except Invalid:
            continue
        values: dict[str, Any] = {}
        reader.put(values, settings, env_path, "confirm", reader.boolean)
        reader.put(values, settings, env_path, "branch", reader.string, nullable=True)
        reader.put(values, settings, env_path, "on_unhealthy", reader.choice,
                   choices=ON_UNHEALTHY, what="on_unhealthy")
        reader.put(values, settings, env_path, "freeze", read_freeze, nullable=True,
                   reader=reader)
        if values.get("freeze", ()) is None:
            values["freeze"] = ()
        if "hosts" not in settings:
            continue
        hosts = _hosts(reader, settings["hosts"], env_path, project_path, roles, deploy_to)
        reader.put(values, settings, env_path, "rollout", read_rollout, nullable=True,
                   reader=reader, hosts=len(hosts))
        if strategy == "pull" and values.get("rollout") is not None:
            # a pull deploy moves each working copy in place: there is no second release
            # to stage towards, so refusing beats silently switching every host at once
            reader.error(settings["rollout"].line, join(env_path, "rollout"),
                         PULL_ROLLOUT)
            del values["rollout"]
        environments[name] = Environment(name=name, hosts=hosts, **values)
    return environments


def _hosts(reader: Reader, node: Node, env_path: str, project_path: str,
           roles: dict[str, Role] | None, deploy_to: str | None) -> tuple[Host, ...]:
    path = join(env_path, "hosts")
    try:
        entries = reader.mapping(node, path, what="a mapping of host names to their settings")
    except Invalid:
        return ()
    if not entries:
        reader.error(node.line, path, "the environment has no hosts")
    hosts = []
    places: dict[tuple[str, ...], str] = {}  # where a host deploys -> the first host there
    for name, host_node in entries.items():
        host_path = join(path, name)
        try:
            reader.name(host_node.line, host_path, name, "host")
            settings = reader.mapping(host_node, host_path, HOST_KEYS,
                                      what="a mapping of host settings (address, roles...)")
        except Invalid:
            continue
        values: dict[str, Any] = {"address": name}  # no address: the name is an ssh alias
        reader.put(values, settings, host_path, "address", _address, reader=reader)
        reader.put(values, settings, host_path, "port", reader.integer, nullable=True,
                   minimum=1, maximum=65535)
        reader.put(values, settings, host_path, "user", reader.string, nullable=True)
        reader.put(values, settings, host_path, "transport", reader.choice, choices=TRANSPORTS,
                   what="transport")
        reader.put(values, settings, host_path, "deploy_to", remote_dir, nullable=True,
                   reader=reader)
        reader.put(values, settings, host_path, "relay_address", reader.string, nullable=True)
        if "roles" in settings:
            values["roles"] = _host_roles(reader, settings["roles"], join(host_path, "roles"),
                                          join(project_path, "roles"), roles)
        host = Host(name=name, **values)
        hosts.append(host)
        place = _place(host, deploy_to)
        if place in places:
            reader.error(host_node.line, host_path,
                         f"deploys to the same directory on the same machine as host "
                         f"'{places[place]}'; give one of them its own deploy_to")
        places.setdefault(place, name)
    return tuple(hosts)


_WITH_PORT = re.compile(r"^\[(?P<v6>[^\]]*)\]:(?P<p6>\d+)$|^(?P<host>[^:\[\]]+):(?P<port>\d+)$")


def _address(node: Node, path: str, reader: Reader) -> str:
    """A host name or IP, never with a port inside it: ssh would use port 22 and leave
    the port in the name (`[::1]:22522`, `10.0.0.1:22`). Where the port goes is `port:`.
    A placeholder `deploytui init` left is refused too."""
    value = _not_placeholder(node, path, reader, "the host's DNS name, IP or ssh_config alias")
    found = _WITH_PORT.match(value.strip())
    if found:
        address = found["v6"] or found["host"]
        port = found["p6"] or found["port"]
        raise reader.error(node.line, path, f"'{value}' has a port in it; write"
                                            f" address: {address} and port: {port}")
    return value


def _place(host: Host, deploy_to: str | None) -> tuple[str, ...]:
    """Where a host's releases live: two hosts there would fight over one lock and one link."""
    machine = ("local",) if host.transport == "local" else ("ssh", host.address, str(host.port))
    return (*machine, host.deploy_to or deploy_to or "")


def _host_roles(reader: Reader, node: Node, path: str, roles_path: str,
                roles: dict[str, Role] | None) -> tuple[str, ...]:
    """The host's role names, each one defined in the project (typos are the usual cause)."""
    try:
        items = reader.string_items(node, path)
    except Invalid:
        return ()
    seen: set[str] = set()
    for name, item in items:
        if name in seen:
            reader.error(item.line, path, f"role '{name}' is listed twice")
        seen.add(name)
        if roles is None or name in roles:
            continue  # an unusable roles section was reported already
        guess = suggest(name, roles)
        hint = (f"did you mean '{guess}'?" if guess
                else f"defined: {', '.join(roles)}" if roles else "no roles are defined")
        reader.error(item.line, path, f"role '{name}' is not defined in {roles_path} ({hint})")
    return tuple(seen_in_order(name for name, _ in items))


def seen_in_order(values: Iterable[str]) -> list[str]:
    """Each value once, first occurrence first."""
    return list(dict.fromkeys(values))


# -- values with a shape -----------------------------------------------------------------


def remote_dir(node: Node, path: str, reader: Reader) -> str:
    """An absolute directory on the hosts; releases are created and deleted below it."""
    value = reader.string(node, path)
    if not value.startswith("/"):
        hint = " (~ is not expanded on the hosts)" if value.startswith("~") else ""
        raise reader.error(node.line, path,
                           f"must be an absolute path (starting with /), got '{value}'{hint}")
    normal = posixpath.normpath(value)
    if normal == "/" or ".." in value.split("/"):
        raise reader.error(node.line, path,
                           f"must be a directory below / without '..', got '{value}'")
    return normal.replace("//", "/")


def _shared(node: Node, path: str, reader: Reader) -> tuple[str, ...]:
    """Paths linked from shared/ into every release: relative, and never above it."""
    paths = []
    for value, item in reader.string_items(node, path):
        if value.startswith(("/", "~")) or ".." in value.split("/"):
            reader.error(item.line, path, "shared path must be relative to the release, "
                                          f"without '..', got '{value}'")
        paths.append(posixpath.normpath(value))
    return tuple(seen_in_order(paths))


def _not_placeholder(node: Node, path: str, reader: Reader, what: str) -> str:
    """A value `deploytui init` left for the user to fill in is refused with its line."""
    value = reader.string(node, path)
    if is_placeholder(value):
        raise reader.error(node.line, path, f"placeholder '{value.strip()}': replace it "
                                            f"with {what}")
    return value


def _logs(node: Node, path: str, reader: Reader) -> tuple[str, ...]:
    """Log files or globs: absolute, or relative to `current` (~ means nothing there)."""
    paths = []
    for value, item in reader.string_items(node, path):
        if value.startswith("~"):
            reader.error(item.line, path, f"~ is not expanded on the hosts, got '{value}' "
                                          "(write an absolute path, or one relative to "
                                          "current)")
            continue
        paths.append(value)
    return tuple(seen_in_order(paths))


def _repo(node: Node, path: str, reader: Reader) -> str:
    value = _not_placeholder(node, path, reader, "your app's git URL").strip()
    prefix, _, rest = value.partition(":")
    if prefix == "builtin":
        if rest not in BUILTIN_APPS:
            raise reader.error(node.line, path, f"unknown built-in app '{rest}' "
                                                f"(available: {', '.join(BUILTIN_APPS)})")
        return value
    if rest in BUILTIN_APPS and suggest(prefix, ["builtin"]):
        raise reader.error(node.line, path, f"unknown repo '{value}' (did you mean "
                                            f"'builtin:{rest}'?)")
    if _URL.match(value) or _SCP.match(value):
        return value
    if value.startswith(("/", "~")):
        return posixpath.normpath(posixpath.expanduser(value))
    raise reader.error(node.line, path, "expected a git URL (git@host:org/app.git, "
                                        "https://..., ssh://...), an absolute path or "
                                        f"builtin:demo, got '{value}'")


def _env(node: Node, path: str, reader: Reader) -> dict[str, str | SecretRef]:
    """Variables exported to every step; a secret-looking name must not be in clear."""
    entries = reader.mapping(node, path, what="a mapping of variable names to values")
    env: dict[str, str | SecretRef] = {}
    for name, value_node in entries.items():
        var_path = join(path, name)
        if not _ENV_NAME.match(name):
            reader.error(value_node.line, var_path,
                         f"'{name}' is not a valid variable name (letters, digits, '_')")
            continue
        try:
            if value_node.kind == "map":
                env[name] = reader.secret(value_node, var_path)
            elif value_node.kind == "scalar" and value_node.value is not None:
                env[name] = value_node.text  # `DEBUG: false` exports the text written
                if value_node.text and any(word in name.upper() for word in SECRET_WORDS):
                    reader.warn(value_node.line, var_path, CLEAR_SECRET)
            else:
                raise reader.wrong(value_node, var_path, "a string or {secret: NAME}")
        except Invalid:
            continue
    return env

