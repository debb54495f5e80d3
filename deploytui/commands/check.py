"""`deploytui check [PROJECT [ENV]] [--connect]`: is the config right, and what does it say?

Loading the config already validated it (the CLI prints problems and exits 2 before
we get here), so this prints a compact summary a reviewer can compare with what they
meant: per project its strategy, repo, deploy_to and retention, per environment its
hosts and their roles. `--connect` goes further: on every host, what a deploy needs
(engine/operations/readiness.py), one line per problem, `--json` for scripts.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence

from deploytui.commands import EXIT_FAILED, EXIT_OK, EXIT_USAGE, select, select_project
from deploytui.config.model import Config, Environment, Host, Project
from deploytui.engine.errors import one_line

Selection = list[tuple[Project, list[Environment]]]


def run(args: argparse.Namespace, config: Config) -> int:
    selection = selected(config, getattr(args, "project", None), getattr(args, "env", None))
    as_json = getattr(args, "json", False)
    if not as_json:
        print(summary(config, selection))
    if not getattr(args, "connect", False):
        if as_json:
            print(json.dumps({"config": str(config.path or ""), "connected": False,
                              "ok": True, "environments": []}, indent=2))
        return EXIT_OK
    worst = EXIT_OK
    reports: list[dict] = []
    for project, envs in selection:
        status = connect_report(config, project, envs, reports if as_json else None)
        worst = max(worst, status)
        if status == EXIT_USAGE:  # the request itself cannot be served: no use going on
            break
    if as_json:
        print(json.dumps({"config": str(config.path or ""), "connected": True,
                          "ok": worst == EXIT_OK, "environments": reports}, indent=2))
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


def connect_report(config: Config, project: Project, envs: Sequence[Environment],
                   reports: list[dict] | None = None) -> int:
    """Check what a deploy needs on every host of `envs` (engine/operations/readiness.py)
    and print one line per host that is ready, one line per problem otherwise (or add
    each environment's JSON to `reports`).

    Exit 0 when every host is ready; 1 otherwise. A deploy lock found on a host is shown
    (it is not an error: it may be a deploy running right now).
    """
    from deploytui.engine import check_environment

    env, env_problem = _project_env(config, project)
    labels = {id(host): f"{env_.name}/{host.name}" for env_ in envs for host in env_.hosts}
    width = max(len(label) for label in labels.values())
    failures = 1 if env_problem else 0
    if env_problem and reports is None:
        print(f"{project.name}: {env_problem}")
    # one check per environment: host names are unique only within an environment
    for environment in envs:
        found = check_environment(config, project, environment, env=env,
                                  login_problem=_connect_problem)
        failures += len(found.problems)
        if reports is not None:
            reports.append(_json_of(found, env_problem))
            continue
        for host in environment.hosts:
            label = f"{project.name} {labels[id(host)].ljust(width)}"
            ready = found.hosts[host.name]
            for problem in ready.problems:
                print(f"{label}  {problem.text}")
            if ready.ok:
                holder = ready.lock
                note = f"  locked by {holder.describe()}" if holder is not None else ""
                print(f"{label}  ok{note}")
    return EXIT_OK if failures == 0 else EXIT_FAILED


def _project_env(config: Config, project: Project) -> tuple[dict[str, str] | None, str]:
    """The project's `env:` as a deploy resolves it (secrets included), so the repo is
    reached from the host as the deploy's fetch reaches it; or why it cannot be."""
    if not project.env and project.sudo_password is None:
        return None, ""
    from deploytui.config.secrets import resolver_for
    from deploytui.engine import resolve_env

    try:
        return resolve_env(project, resolver_for(config)), ""
    except Exception as exc:
        return None, f"secrets: {one_line(exc)}"


def _json_of(found, env_problem: str) -> dict:
    return {
        "project": found.project,
        "environment": found.environment,
        "ok": found.ok and not env_problem,
        "error": env_problem or None,
        "hosts": [{
            "host": name,
            "ok": ready.ok,
            "reached": ready.reached,
            "free_mb": ready.free_mb,
            "locked_by": ready.lock.describe() if ready.lock is not None else None,
            "problems": [{"check": p.check, "reason": p.reason, "line": p.line()}
                         for p in ready.problems],
        } for name, ready in found.hosts.items()],
    }


def _connect_problem(error: Exception) -> str:
    """One line per way a host can fail; a jump host's failure is told as the jump host's."""
    from deploytui.engine import (
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
        words = one_line(error.message)  # some already say so: not twice
        return words if words.startswith("auth") else f"auth failed: {words}"
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
