"""The console's calls into the engine, each run off the UI thread by the caller, and the
operations that change servers as values (what a screen returns, what the Runner runs).

Only composition of public engine APIs lives here (a pool, its lock, a scan); the
logic itself stays in the engine. Nothing here imports Textual.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from deploytui.config.model import Config
from deploytui.engine.events import Sink

if TYPE_CHECKING:  # the engine's SSH side is imported by the operation that needs it
    from deploytui.config.secrets import SecretResolver
    from deploytui.engine.hosts.transport import TransportError
    from deploytui.engine.operations.prune import PruneResult
    from deploytui.engine.operations.request import DeployRequest
    from deploytui.engine.operations.run import RunRequest


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
    frozen: str = ""  # a freeze in force, described (deploys are refused)


def load_status(config: Config, project: str, environment: str) -> EnvStatus:
    """One HostPool: connect (host keys surface here), then one command per host reads
    its lock and lists its releases; health checks only where the project has them."""
    from deploytui.engine.hosts.pool import HostPool, transport_factory
    from deploytui.engine.hosts.transport import HostKeyUnknown
    from deploytui.engine.operations.status import read_status

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
        read = read_status(pool, proj, env, status.errors)
        status.locks = {name: holder.describe() for name, holder in read.locks.items()}
        status.frozen = read.frozen.describe() if read.frozen else ""
        for name, info in read.fleet.hosts.items():
            if info.current:
                status.current[name] = info.current
        status.behind = set(read.fleet.behind_hosts())
        status.health = _health(pool, proj, ok)
    finally:
        pool.close()
    return status


def _health(pool, project, hosts: list) -> dict[str, str]:
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


def preview_prune(config: Config, project: str, environment: str,
                  keep: int | None = None) -> PruneResult:
    """What a prune would remove: a dry run, which reads hosts only (not journaled)."""
    from deploytui.engine.operations.prune import run_prune

    return run_prune(config, project, environment, keep=keep, dry_run=True)


# -- the operations that change servers: what the console's Runner runs -------------------
@dataclass(frozen=True)
class Deploy:
    request: DeployRequest
    verb = "deploy"

    @property
    def target(self) -> tuple[str, str]:
        return self.request.project.name, self.request.environment.name


@dataclass(frozen=True)
class Rollback:
    project: str
    environment: str
    release: str | None  # None: the previous release
    wait_lock: float = 0.0  # seconds to wait for another operation's live lock
    verb = "rollback"

    @property
    def target(self) -> tuple[str, str]:
        return self.project, self.environment


@dataclass(frozen=True)
class Prune:
    project: str
    environment: str
    keep: int | None = None  # None: the project's keep_releases
    wait_lock: float = 0.0
    verb = "prune"

    @property
    def target(self) -> tuple[str, str]:
        return self.project, self.environment


@dataclass(frozen=True)
class DeleteRelease:
    project: str
    environment: str
    release: str
    wait_lock: float = 0.0
    verb = "prune"  # the journal's operation: a delete is a prune of one named release

    @property
    def target(self) -> tuple[str, str]:
        return self.project, self.environment


@dataclass(frozen=True)
class CatchUp:
    """Bring hosts left out of a deploy (behind) to the fleet's release."""

    project: str
    environment: str
    hosts: tuple[str, ...]
    wait_lock: float = 0.0
    verb = "catch-up"

    @property
    def target(self) -> tuple[str, str]:
        return self.project, self.environment


@dataclass(frozen=True)
class RunCommand:
    """A named command (`commands:`) on its hosts; takes no lock, sends no webhook."""

    request: RunRequest
    verb = "run"
    notifies = False

    @property
    def target(self) -> tuple[str, str]:
        return self.request.project.name, self.request.environment.name


Operation = Deploy | Rollback | Prune | DeleteRelease | CatchUp | RunCommand


def run_operation(config: Config, op: Operation, *, sink: Sink, cancel: threading.Event,
                  resolver: SecretResolver) -> object:
    """Run one operation to its end on the calling thread; events go to `sink`."""
    if isinstance(op, Deploy):
        from deploytui.engine.operations.deploy import run_deploy

        return run_deploy(config, op.request, sink=sink, cancel=cancel, resolver=resolver)
    if isinstance(op, Rollback):
        from deploytui.engine.operations.rollback import run_rollback

        return run_rollback(config, op.project, op.environment, to=op.release, sink=sink,
                            cancel=cancel, resolver=resolver, wait_lock=op.wait_lock)
    if isinstance(op, RunCommand):
        from deploytui.engine.operations.run import run_command

        return run_command(config, op.request, sink=sink, cancel=cancel, resolver=resolver)
    if isinstance(op, CatchUp):
        from deploytui.engine.operations.catch_up import run_catch_up

        result = run_catch_up(config, op.project, op.environment, list(op.hosts), sink=sink,
                              cancel=cancel, resolver=resolver)
        if not result.ok:
            raise RuntimeError(result.error)
        return result
    if isinstance(op, Prune):
        from deploytui.engine.operations.prune import run_prune

        return run_prune(config, op.project, op.environment, keep=op.keep, sink=sink,
                         wait_lock=op.wait_lock)
    from deploytui.engine.operations.prune import delete_release

    return delete_release(config, op.project, op.environment, op.release, sink=sink,
                          wait_lock=op.wait_lock)


def waiting_for_the_lock(op: Operation, seconds: float) -> Operation:
    """The same operation, waiting up to `seconds` for a live lock to be released."""
    if isinstance(op, Deploy):
        return replace(op, request=replace(op.request, wait_lock=seconds))
    if isinstance(op, RunCommand):  # takes no lock: nothing to wait for
        return op
    return replace(op, wait_lock=seconds)


def stopped_by_lock(result: object) -> bool:
    """Did the operation stop because another one holds the environment's lock?"""
    return getattr(result, "locked", False) or getattr(result, "outcome", "") == "locked"
