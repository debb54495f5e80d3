"""The console's calls into the engine, each run off the UI thread by the caller.

Only composition of public engine APIs lives here (a pool, its lock, a scan); the
logic itself stays in the engine. Nothing here imports Textual.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from deploytui.config.model import Config
from deploytui.engine.events import Sink, discard
from deploytui.engine.transport import TransportError


@dataclass
class EnvStatus:
    """Reachability, current release and lock holder of an environment's hosts."""

    reachable: dict[str, bool] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)  # one line per failed host
    unknown_keys: dict[str, TransportError] = field(default_factory=dict)  # HostKeyUnknown
    current: dict[str, str] = field(default_factory=dict)
    locks: dict[str, str] = field(default_factory=dict)


def load_status(config: Config, project: str, environment: str) -> EnvStatus:
    """One HostPool: connect (host keys surface here), read each lock, list releases."""
    from deploytui.engine.hostpool import HostPool, transport_factory
    from deploytui.engine.layout import Layout
    from deploytui.engine.lock import read_lock
    from deploytui.engine.releases import list_releases
    from deploytui.engine.transport import HostKeyUnknown

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
    finally:
        pool.close()
    return status


def _pool(config: Config, project: str, environment: str) -> tuple[Any, Any, Any]:
    from deploytui.engine.hostpool import HostPool, transport_factory

    proj = config.projects[project]
    env = proj.environments[environment]
    return proj, env, HostPool(env.hosts, transport_factory(config),
                               max_parallel=config.ssh.max_parallel)


def prune(config: Config, project: str, environment: str, *, dry_run: bool,
          sink: Sink = discard) -> Any:
    """Prune beyond keep_releases; a dry run only lists. Prefers the engine's own entry."""
    from deploytui.engine import prune as engine_prune

    high_level = getattr(engine_prune, "prune_environment", None)
    if high_level is not None:
        return high_level(config, project, environment, dry_run=dry_run, sink=sink)
    proj, env, pool = _pool(config, project, environment)
    try:
        if dry_run:
            failed = pool.connect()
            result = engine_prune.prune_hosts(pool, proj, [h for h in env.hosts
                                                           if h.name not in failed],
                                              keep=proj.keep_releases, dry_run=True, sink=sink)
            for name, err in failed.items():
                result.hosts[name] = engine_prune.HostPrune(name, error=str(err))
            return result
        return _locked(pool, proj, env, "prune", lambda: engine_prune.prune_hosts(
            pool, proj, None, keep=proj.keep_releases, sink=sink))
    finally:
        pool.close()


def delete_release(config: Config, project: str, environment: str, release_id: str,
                   *, sink: Sink = discard) -> Any:
    """Delete one release on every host keeping it (never current nor previous)."""
    from deploytui.engine import prune as engine_prune

    high_level = getattr(engine_prune, "delete_release", None)
    if high_level is not None:
        return high_level(config, project, environment, release_id, sink=sink)
    from deploytui.engine.layout import Layout
    from deploytui.engine.releases import scan_host

    proj, env, pool = _pool(config, project, environment)

    def run() -> Any:
        result = engine_prune.PruneResult()

        def one(host: Any, transport: Any) -> Any:
            layout = Layout(proj.host_deploy_to(host))
            scan = scan_host(transport, layout)
            plan = engine_prune.HostPrune(host.name)
            if release_id in (scan.current, scan.previous):
                plan.error = f"{release_id} is current or previous here: not deleted"
            elif release_id in scan.releases:
                size = scan.releases[release_id].size_bytes
                plan.deletions.append(engine_prune.Deletion(release_id, size, "requested"))
                engine_prune.apply_deletions(transport, layout, plan, sink)
            return plan

        for name, outcome in pool.map(one).items():
            result.hosts[name] = outcome.value if outcome.ok else engine_prune.HostPrune(
                name, error=str(outcome.error))
        return result

    try:
        return _locked(pool, proj, env, "prune", run)
    finally:
        pool.close()


def _locked(pool: Any, proj: Any, env: Any, operation: str, fn: Any) -> Any:
    from deploytui.engine.layout import Layout
    from deploytui.engine.lock import LockInfo, acquire_locks, release_locks

    failed = pool.connect()
    if failed:
        raise next(iter(failed.values()))
    layouts = {h.name: Layout(proj.host_deploy_to(h)) for h in env.hosts}
    info = LockInfo(project=proj.name, environment=env.name, operation=operation)
    acquire_locks(pool, layouts, info)
    try:
        return fn()
    finally:
        release_locks(pool, layouts, info)
