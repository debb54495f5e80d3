"""The console's calls into the engine, each run off the UI thread by the caller.

Only composition of public engine APIs lives here (a pool, its lock, a scan); the
logic itself stays in the engine. Nothing here imports Textual.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from deploytui.config.model import Config
from deploytui.engine.events import Sink, discard
from deploytui.engine.hosts.transport import TransportError


@dataclass
class EnvStatus:
    """Reachability, current release and lock holder of an environment's hosts."""

    reachable: dict[str, bool] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)  # one line per failed host
    unknown_keys: dict[str, TransportError] = field(default_factory=dict)  # HostKeyUnknown
    current: dict[str, str] = field(default_factory=dict)
    locks: dict[str, str] = field(default_factory=dict)
    behind: set[str] = field(default_factory=set)  # left out of a deploy: catch-up needed
    health: dict[str, str] = field(default_factory=dict)  # "healthy" | "unhealthy: saw"


def load_status(config: Config, project: str, environment: str) -> EnvStatus:
    """One HostPool: connect (host keys surface here), read each lock, list releases."""
    from deploytui.engine.hosts.pool import HostPool, transport_factory
    from deploytui.engine.hosts.transport import HostKeyUnknown
    from deploytui.engine.operations.releases import list_releases
    from deploytui.engine.remote.layout import Layout
    from deploytui.engine.remote.lock import read_lock

    proj = config.projects[project]
    env = proj.environments[environment]
    status = EnvStatus()
    pool = HostPool(env.hosts, transport_factory(config), max_parallel=config.ssh.max_parallel)
    try:
        failed = pool.connect()
        for host in env.hosts:
            err = failed.get(host.name)
            status.reachable[host.name] = err is None
            if isinstance(err, HostKeyUnknown):
                status.unknown_keys[host.name] = err
            if err is not None:
                status.errors[host.name] = str(err)
        ok = [h for h in env.hosts if h.name not in failed]
        locks = pool.map(lambda h, t: read_lock(t, Layout(proj.host_deploy_to(h))), ok)
        for name, outcome in locks.items():
            if outcome.ok and outcome.value is not None:
                status.locks[name] = outcome.value.describe()
        fleet = list_releases(config, proj, env, pool=pool)
        for name, info in fleet.hosts.items():
            if info.current:
                status.current[name] = info.current
        status.behind = set(fleet.behind_hosts())
        status.health = _health(pool, proj, ok)
    finally:
        pool.close()
    return status


def _health(pool: Any, project: Any, hosts: list) -> dict[str, str]:
    """Each reachable host's health checks, on the status pool (ms when they pass)."""
    from deploytui.engine.operations.health import check_hosts, has_checks, serving_dir

    if not has_checks(project, hosts):
        return {}
    results = check_hosts(pool, project, hosts, cwd_for=lambda h: serving_dir(project, h))
    health = {}
    for name, checks in results.items():
        bad = [r for r in checks if not r.healthy]
        health[name] = f"unhealthy: {bad[0].role}: {bad[0].saw}" if bad else "healthy"
    return health


def prune(config: Config, project: str, environment: str, *, dry_run: bool,
          sink: Sink = discard) -> Any:
    """Prune beyond keep_releases (the engine takes the lock); a dry run only lists."""
    from deploytui.engine.operations.prune import run_prune

    return run_prune(config, project, environment, dry_run=dry_run, sink=sink)


def delete_release(config: Config, project: str, environment: str, release_id: str,
                   *, sink: Sink = discard) -> Any:
    """Delete one release on every host keeping it; the engine refuses current."""
    from deploytui.engine.operations.prune import delete_release as engine_delete

    return engine_delete(config, project, environment, release_id, sink=sink)
