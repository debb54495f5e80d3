"""The roles' semantics over the fleet: tasks, once and restart.

Roles run in the configured order; `tasks` on every host of a role; `once` on the
role's first host, once per operation; `restart` role by role, honouring
`parallel: false` (one host at a time) and `batch: N` (rolling batches). Each command
is a named step (remote/steps.py).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from deploytui.config.model import Host, Project, Role
from deploytui.engine.events import Sink
from deploytui.engine.failure import Failure
from deploytui.engine.hosts.pool import HostOutcome, HostPool, PoolResult
from deploytui.engine.hosts.transport import (
    Transport,
)
from deploytui.engine.remote.steps import StepFailed, in_dir, run_step

EnvForHost = Callable[[str], dict[str, str]]
RELEASE_PATH_KEY = "DEPLOYTUI_RELEASE_PATH"


def role_hosts(project: Project, hosts: list[Host], role: str) -> list[Host]:
    """The hosts of `role`, in the environment's order."""
    return [h for h in hosts if role in h.roles]


def once_hosts(project: Project, hosts: list[Host]) -> dict[str, str]:
    """role -> the host that runs its `once` commands (the role's first host)."""
    chosen: dict[str, str] = {}
    for name, role in project.roles.items():
        members = role_hosts(project, hosts, name)
        if role.once and members:
            chosen[name] = members[0].name
    return chosen


def once_host(project: Project, hosts: list[Host], role: str | None = None) -> Host | None:
    """The one host a deploy runs `once` steps on: `role`'s first host; without a role,
    the first role with `once` steps (deploy order), else the first host of all."""
    if role is not None:
        members = role_hosts(project, hosts, role)
        return members[0] if members else None
    chosen = once_hosts(project, hosts)
    if chosen:
        first = next(iter(chosen.values()))
        return next(h for h in hosts if h.name == first)
    return hosts[0] if hosts else None


def task_commands(project: Project, host: Host) -> list[tuple[str, str]]:
    """(step name, command) of the host's roles' tasks, roles in configured order."""
    return [(f"task {role.name}: {cmd}", cmd) for role in project.roles_of(host)
            for cmd in role.tasks]


def run_once(pool: HostPool, project: Project, hosts: list[Host], sink: Sink,
             cancel: threading.Event | None, env_for_host: EnvForHost, *,
             phase: str = "once") -> PoolResult[None]:
    """Each role's `once` commands on its first host, roles in order.

    Stops at the first failure: a migration that failed must not be followed by more.
    """
    done: PoolResult[None] = PoolResult()
    for role_name, host_name in once_hosts(project, hosts).items():
        role = project.roles[role_name]
        transport = pool.transports.get(host_name)
        if transport is None:
            done[host_name] = HostOutcome(host_name, failure=Failure(
                host_name, f"once {role_name}", "not connected"))
            return done
        env = env_for_host(host_name)
        try:
            for cmd in role.once:
                run_step(transport, phase, f"once {role_name}: {cmd}",
                         in_dir(env[RELEASE_PATH_KEY], cmd), sink=sink, cancel=cancel,
                         timeout=project.timeout, env=env)
        except StepFailed as exc:
            done[host_name] = HostOutcome(host_name, error=exc, failure=exc.failure)
            return done
        done[host_name] = HostOutcome(host_name)
    return done


def _restart_batches(role: Role, members: list[Host], max_parallel: int) -> list[list[Host]]:
    if not role.parallel:
        size = 1
    elif role.batch:
        size = max(1, role.batch)
    else:
        size = max(1, max_parallel)
    return [members[i:i + size] for i in range(0, len(members), size)]


def run_restarts(pool: HostPool, project: Project, hosts: list[Host], sink: Sink,
                 cancel: threading.Event | None, env_for_host: EnvForHost, *,
                 phase: str = "restart") -> PoolResult[None]:
    """Each role's `restart` commands, role by role, batch by batch.

    A failed batch stops the rollout: later batches and roles are not restarted (their
    hosts are reported as not restarted), so a bad release never restarts everywhere.
    Commands run in DEPLOYTUI_RELEASE_PATH from env_for_host(host).
    """
    done: PoolResult[None] = PoolResult()
    for role_name, role in project.roles.items():
        members = role_hosts(project, hosts, role_name)
        if not role.restart or not members:
            continue
        for batch in _restart_batches(role, members, pool.max_parallel):
            if not done.ok:
                for h in batch:
                    if h.name not in done.failed:
                        done[h.name] = HostOutcome(h.name, failure=Failure(
                            h.name, f"restart {role_name}",
                            "not restarted (an earlier restart failed)"))
                continue

            def restart(host: Host, transport: Transport, role: Role = role) -> None:
                env = env_for_host(host.name)
                for cmd in role.restart:
                    run_step(transport, phase, f"restart {role.name}: {cmd}",
                             in_dir(env[RELEASE_PATH_KEY], cmd), sink=sink, cancel=cancel,
                             timeout=project.timeout, env=env)

            for name, outcome in pool.map(restart, batch, step=f"restart {role_name}").items():
                if outcome.failure is not None or name not in done:  # a failure is kept
                    done[name] = outcome
    return done
