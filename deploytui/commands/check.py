"""`deploytui check [PROJECT [ENV]] [--connect]`: is the config right, and what does it say?

Loading the config already validated it (the CLI prints problems and exits 2 before
we get here), so this prints a compact summary a reviewer can compare with what they
meant: per project its strategy, repo, deploy_to and retention, per environment its
hosts and their roles. `--connect` goes further and reaches every host.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from deploytui.commands import EXIT_FAILED, EXIT_OK, EXIT_USAGE, select, select_project
from deploytui.config.model import Config, Environment, Host, Project

Selection = list[tuple[Project, list[Environment]]]


def run(args: argparse.Namespace, config: Config) -> int:
    selection = selected(config, getattr(args, "project", None), getattr(args, "env", None))
    print(summary(config, selection))
    if not getattr(args, "connect", False):
        return EXIT_OK
    worst = EXIT_OK
    for project, envs in selection:
        status = connect_report(config, project, envs)
        worst = max(worst, status)
        if status == EXIT_USAGE:  # the request itself cannot be served: no use going on
            break
    return worst


def selected(config: Config, project: str | None, env: str | None) -> Selection:
    """The projects and environments named on the command line (all when none are)."""
    if project is None:
        return [(p, list(p.environments.values())) for p in config.projects.values()]
    if env is None:
        chosen = select_project(config, project)
        return [(chosen, list(chosen.environments.values()))]
    chosen, environment = select(config, project, env)
    return [(chosen, [environment])]


def connect_report(config: Config, project: Project, envs: Sequence[Environment]) -> int:
    """Reach every host of `envs` in parallel and report one line per host.

    Exit 0 when every host answered with a known key; 1 otherwise. A deploy lock found
    on a host is shown (it is not an error: it may be a deploy running right now).
    """
    from deploytui.engine.hosts.pool import HostPool, transport_factory
    from deploytui.engine.remote.layout import Layout
    from deploytui.engine.remote.lock import read_lock

    labels = {id(host): f"{env.name}/{host.name}" for env in envs for host in env.hosts}
    width = max(len(label) for label in labels.values())
    failures = 0
    # one pool per environment: host names are unique only within an environment
    for env in envs:
        with HostPool(env.hosts, transport_factory(config),
                      max_parallel=config.ssh.max_parallel) as pool:
            failed = pool.connect()
            locks = pool.map(lambda h, t: read_lock(t, Layout(project.host_deploy_to(h))),
                             [h for h in env.hosts if h.name not in failed])
        for host in env.hosts:
            label = labels[id(host)].ljust(width)
            error = failed.get(host.name)
            if error is not None:
                failures += 1
                print(f"{project.name} {label}  {_connect_problem(error)}")
                continue
            outcome = locks.get(host.name)
            holder = outcome.value if outcome is not None and outcome.ok else None
            note = f"  locked by {holder.describe()}" if holder is not None else ""
            print(f"{project.name} {label}  ok{note}")
    return EXIT_OK if failures == 0 else EXIT_FAILED


def _connect_problem(error: Exception) -> str:
    """One line per way a host can fail; a jump host's failure is told as the jump host's."""
    from deploytui.engine.errors import one_line
    from deploytui.engine.hosts.transport import (
        AuthFailed,
        HostKeyChanged,
        HostKeyRevoked,
        HostKeyUnknown,
        TransportError,
        Unreachable,
    )

    hop = getattr(error, "hop", None)
    via = f"jump host {hop}: " if hop else ""
    if isinstance(error, HostKeyUnknown):
        return (f"{via}unknown host key {error.key_type} {error.fingerprint} (verify it, then"
                f" add it to known_hosts or set ssh.host_keys: accept-new)")
    if isinstance(error, HostKeyChanged):
        return (f"{via}CHANGED host key, refused: known {error.expected},"
                f" presented {error.presented}")
    if isinstance(error, HostKeyRevoked):
        return f"{via}REVOKED host key, refused: {error.presented} is marked @revoked"
    if isinstance(error, AuthFailed):
        return f"auth failed: {error.message}"
    if isinstance(error, Unreachable):
        return f"unreachable: {error.message}"
    if isinstance(error, TransportError):
        return one_line(error.message)
    return one_line(error)


def summary(config: Config, selection: Selection) -> str:
    """The text `check` prints: the file, then one block per project."""
    lines = [f"config: {config.path or '(text)'}"]
    for project, envs in selection:
        lines.append("")
        lines.extend(_project_block(project, envs))
    return "\n".join(lines)


def _project_block(project: Project, envs: Sequence[Environment]) -> list[str]:
    keep = "" if project.strategy == "pull" else f", keep {project.keep_releases}"
    lines = [f"{project.name}: {project.strategy} {project.repo} -> {project.deploy_to}"
             f" (branch {project.branch}{keep})"]
    env_width = max((len(env.name) for env in envs), default=0)
    hosts = [host for env in envs for host in env.hosts]
    name_width = max((len(host.name) for host in hosts), default=0)
    role_width = max((len(_roles(project, host)) for host in hosts), default=0)
    for env in envs:
        count = f"{len(env.hosts)} host{'' if len(env.hosts) == 1 else 's'}"
        notes = "".join(f"  [{note}]" for note in _env_notes(project, env))
        head = f"  {env.name:<{env_width}}  {count:<8}"
        for index, host in enumerate(env.hosts):
            prefix = head if index == 0 else " " * len(head)
            row = (f"{prefix} {host.name:<{name_width}}  "
                   f"{_roles(project, host):<{role_width}}  {_where(project, host)}")
            lines.append(row.rstrip() + (notes if index == 0 else ""))
    return lines


def _env_notes(project: Project, env: Environment) -> list[str]:
    notes = []
    if env.confirm:
        notes.append("confirm")
    if env.branch and env.branch != project.branch:
        notes.append(f"branch {env.branch}")
    return notes


def _roles(project: Project, host: Host) -> str:
    return ", ".join(role.name for role in project.roles_of(host)) or "-"


def _where(project: Project, host: Host) -> str:
    """How the host is reached, plus its own deploy_to when it overrides the project's."""
    if host.transport == "local":
        where = "local"
    else:
        where = f"{host.user}@{host.address}" if host.user else host.address
        if host.port is not None:
            where += f":{host.port}"
    if host.deploy_to and host.deploy_to != project.deploy_to:
        where += f" {host.deploy_to}"
    return where
