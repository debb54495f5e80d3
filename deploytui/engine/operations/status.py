"""An environment's state as the console refreshes it: reachability, each host's lock,
releases and health (`load_status`, the console's host table).

The ad-hoc freeze is read in the same command, so the console shows it at no cost.
The refresh runs periodically, so it must stay cheap on the hosts: the lock read carries
the release scan as its probe (remote/lock.read_lock_and_probe, the way a deploy's lock
carries its preflight), one remote command per host, and the scan leaves out what a
status does not show (per-release `du`, free disk; the revisions.log tail except for a
pull project, whose history is its releases).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from deploytui.config.model import Config, Environment, Host, Project
from deploytui.engine.errors import failure_line
from deploytui.engine.hosts.pool import HostPool, transport_factory
from deploytui.engine.hosts.transport import HostKeyUnknown, Transport, TransportError
from deploytui.engine.operations.freeze import Frozen, adhoc_frozen, configured_freeze
from deploytui.engine.operations.health import check_hosts, has_checks, serving_dir
from deploytui.engine.operations.releases import FleetReleases, build_fleet
from deploytui.engine.remote.freeze import AdHocFreeze, split_output
from deploytui.engine.remote.freeze import read_text as freeze_text
from deploytui.engine.remote.layout import Layout
from deploytui.engine.remote.lock import LockInfo, read_lock_and_probe
from deploytui.engine.remote.scan import HostScan, is_scan_output, parse_scan, scan_command


@dataclass
class FleetStatus:
    """Lock holders of the hosts read, and every host's releases merged as a listing."""

    locks: dict[str, LockInfo]  # only the locked hosts
    fleet: FleetReleases  # an unread host carries its one-line error there
    frozen: Frozen | None = None  # a freeze in force (config window or ad-hoc on a host)


def status_command(project: Project, layout: Layout) -> str:
    """The scan a status needs (see the module docstring)."""
    return scan_command(layout, sizes=False, log=project.strategy == "pull")


def read_status(pool: HostPool, project: Project, environment: Environment,
                unreachable: Mapping[str, str] | None = None) -> FleetStatus:
    """Lock and releases of every connected host of `environment`, one command each;
    `unreachable` (host -> one line) says why the others are not connected."""

    def read(host: Host, transport: Transport
             ) -> tuple[LockInfo | None, HostScan, AdHocFreeze | None]:
        layout = Layout(project.host_deploy_to(host))
        holder, output = read_lock_and_probe(  # the ad-hoc freeze in the same command
            transport, layout, f"{freeze_text(layout)}\n{status_command(project, layout)}")
        freeze, output = split_output(output)
        if not is_scan_output(output):
            raise TransportError(host.name, "listing releases: "
                                            f"{failure_line(output) or 'no output'}")
        return holder, parse_scan(host.name, layout.deploy_to, output), freeze

    connected = [h for h in environment.hosts if h.name in pool.transports]
    outcomes = pool.map(read, connected, step="status")
    errors = {h.name: (unreachable or {}).get(h.name, f"{h.name}: not connected")
              for h in environment.hosts if h.name not in pool.transports}
    errors.update((name, str(failure)) for name, failure in outcomes.failed.items())
    locks: dict[str, LockInfo] = {}
    scans: dict[str, HostScan] = {}
    frozen = configured_freeze(environment)
    for name, (holder, scan, freeze) in outcomes.succeeded.items():
        scans[name] = scan
        if holder is not None:
            locks[name] = holder
        frozen = frozen or adhoc_frozen(freeze)
    fleet = build_fleet(project.name, environment.name, [h.name for h in environment.hosts],
                        scans, errors)
    return FleetStatus(locks, fleet, frozen)


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


def _health(pool: HostPool, project: Project, hosts: list[Host]) -> dict[str, str]:
    """Each reachable host's health checks, on the status pool (ms when they pass)."""
    if not has_checks(project, hosts):
        return {}
    results = check_hosts(pool, project, hosts, cwd_for=lambda h: serving_dir(project, h))
    health = {}
    for name, checks in results.items():
        bad = [r for r in checks if not r.healthy]
        health[name] = f"unhealthy: {bad[0].role}: {bad[0].saw}" if bad else "healthy"
    return health
