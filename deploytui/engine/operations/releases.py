"""What every host holds, merged across the fleet: releases, states, sizes, drift.

Each host is read in one remote command (engine/scan.py: release names, REVISION,
metadata, `du` sizes, `current`, free disk, the revisions.log tail), so listing 30
hosts costs about what listing one does. The scan's names are re-exported here for
the modules and tests that import them from releases.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from deploytui.config.model import Config, Environment, Host, Project
from deploytui.engine.hosts.pool import HostPool, TransportFactory, transport_factory
from deploytui.engine.operations.behind import FleetPosition, fleet_position
from deploytui.engine.remote.layout import Layout
from deploytui.engine.remote.scan import (
    CURRENT,
    DEPLOY_LINE,
    FAILED,
    GOOD_STATES,
    LOG_TAIL,
    OK,
    PREVIOUS,
    ROLLBACK_LINE,
    ROLLED_BACK,
    UNFINISHED,
    HostRelease,
    HostScan,
    LogEntry,
    parse_log_line,
    parse_scan,
    scan_command,
    scan_host,
)

__all__ = [
    "CURRENT", "DEPLOY_LINE", "FAILED", "GOOD_STATES", "LOG_TAIL", "OK", "PREVIOUS",
    "ROLLBACK_LINE", "ROLLED_BACK", "UNFINISHED", "FleetReleases", "HostRelease",
    "HostReleases", "HostScan", "LogEntry", "ReleaseRow", "build_fleet", "id_to_iso",
    "list_releases", "parse_log_line", "parse_scan", "scan_command",
    "scan_host", "scan_hosts", "select_names",
]


def id_to_iso(release_id: str) -> str:
    r = release_id
    return f"{r[0:4]}-{r[4:6]}-{r[6:8]}T{r[8:10]}:{r[10:12]}:{r[12:14]}Z"


@dataclass
class ReleaseRow:
    """One release across the fleet (newest first in FleetReleases.releases)."""

    release_id: str
    sha: str = ""
    subject: str = ""
    deployed_at: str = ""
    deployed_by: str = ""
    state: str = OK  # summary; `states` has it per host
    states: dict[str, str] = field(default_factory=dict)
    size_bytes: dict[str, int] = field(default_factory=dict)
    hosts: list[str] = field(default_factory=list)
    excluded: list[str] = field(default_factory=list)  # hosts its deploy left out

    def to_json(self) -> dict:
        return {"id": self.release_id, "sha": self.sha, "subject": self.subject,
                "deployed_at": self.deployed_at, "deployed_by": self.deployed_by,
                "state": self.state, "states": dict(self.states),
                "size_bytes": dict(self.size_bytes), "hosts": list(self.hosts),
                "excluded": list(self.excluded)}


@dataclass
class HostReleases:
    host: str
    current: str | None = None
    previous: str | None = None
    free_bytes: int | None = None
    error: str = ""  # one line when the host could not be listed
    current_target: str | None = None
    problem: str = ""  # dangling / outside current
    ignored: list[str] = field(default_factory=list)  # ids that are symlinks or files
    behind: bool = False  # does not serve the fleet's release (behind.py)
    excluded_from: str | None = None  # ...because that release's deploy left it out

    def to_json(self) -> dict:
        return {"current": self.current, "previous": self.previous,
                "free_bytes": self.free_bytes, "error": self.error or None,
                "current_target": self.current_target, "problem": self.problem or None,
                "ignored": list(self.ignored), "behind": self.behind,
                "excluded_from": self.excluded_from}


# When hosts disagree, the summary shows the most telling state.
STATE_PRIORITY = (CURRENT, FAILED, UNFINISHED, ROLLED_BACK, PREVIOUS, OK)


@dataclass
class FleetReleases:
    project: str
    environment: str
    releases: list[ReleaseRow] = field(default_factory=list)
    hosts: dict[str, HostReleases] = field(default_factory=dict)
    drift: list[str] = field(default_factory=list)
    scans: dict[str, HostScan] = field(default_factory=dict)
    position: FleetPosition = field(default_factory=FleetPosition)

    @property
    def fleet_current(self) -> str | None:
        """The release the fleet serves (behind hosts aside); None when they disagree."""
        return self.position.release

    def behind_hosts(self) -> list[str]:
        return list(self.position.behind)

    def row(self, release_id: str) -> ReleaseRow | None:
        return next((r for r in self.releases if r.release_id == release_id), None)

    def listed_hosts(self) -> list[str]:
        return [h for h, info in self.hosts.items() if not info.error]

    def rollback_target(self) -> str | None:
        """The newest release before `current` that is ok on every host; a host that is
        behind counts when it already serves that release (it has nothing to do)."""
        behind = self.position.behind
        for row in self.releases:
            if all(self._good_before_current(host, row.release_id)
                   or (host in behind and self.hosts[host].current == row.release_id)
                   for host in self.hosts):
                return row.release_id
        return None

    def _good_before_current(self, host: str, release_id: str) -> bool:
        scan = self.scans.get(host)
        if scan is None or release_id not in scan.releases:
            return False
        if scan.current is not None and release_id >= scan.current:
            return False
        return scan.state(release_id) in GOOD_STATES

    def missing_on(self, release_id: str) -> list[str]:
        """Hosts (listed or not) that do not hold release_id as a directory."""
        return [h for h in self.hosts
                if h not in self.scans or release_id not in self.scans[h].releases]

    def to_json(self) -> dict:
        return {"project": self.project, "environment": self.environment,
                "releases": [r.to_json() for r in self.releases],
                "hosts": {h: info.to_json() for h, info in self.hosts.items()},
                "drift": list(self.drift), "rollback_target": self.rollback_target(),
                "fleet_current": self.fleet_current,
                "disagreement": self.position.disagreement or None}


def build_fleet(project: str, environment: str, host_order: list[str],
                scans: dict[str, HostScan], errors: dict[str, str]) -> FleetReleases:
    """Merge per-host scans into rows, per-host summaries and drift lines."""
    fleet = FleetReleases(project, environment, scans=scans)
    for host in host_order:
        if host in errors:
            fleet.hosts[host] = HostReleases(host, error=errors[host])
            continue
        scan = scans[host]
        fleet.hosts[host] = HostReleases(
            host, current=scan.current, previous=scan.previous, free_bytes=scan.free_bytes,
            current_target=scan.current_target, problem=scan.current_problem,
            ignored=sorted(k for k, v in scan.entries.items()
                           if v.kind not in ("dir", "virtual")))
    ids = sorted({rid for s in scans.values() for rid in s.releases}, reverse=True)
    for rid in ids:
        fleet.releases.append(_row(rid, [h for h in host_order if h in scans], scans))
    fleet.position = fleet_position(host_order, scans, errors)
    for name, late in fleet.position.behind.items():
        fleet.hosts[name].behind = True
        if late.excluded:
            fleet.hosts[name].excluded_from = fleet.position.release
    fleet.drift = _drift(fleet, host_order, scans, errors)
    return fleet


def _row(rid: str, hosts: list[str], scans: dict[str, HostScan]) -> ReleaseRow:
    row = ReleaseRow(rid)
    for host in hosts:
        scan = scans[host]
        rel = scan.releases.get(rid)
        if rel is None:
            continue
        row.hosts.append(host)
        row.states[host] = scan.state(rid)
        row.size_bytes[host] = rel.size_bytes
        log = next((e for e in reversed(scan.log) if e.release_id == rid and not e.rollback),
                   None)
        meta = rel.meta
        row.sha = row.sha or (meta.sha if meta else "") or rel.revision or (log.sha if log else "")
        row.subject = row.subject or (meta.subject if meta else "")
        row.deployed_at = row.deployed_at or (meta.deployed_at if meta else "")
        row.deployed_by = (row.deployed_by or (meta.deployed_by if meta else "")
                           or (log.user if log else ""))
        for left in (meta.excluded if meta else []):
            if left not in row.excluded:
                row.excluded.append(left)
    row.deployed_at = row.deployed_at or id_to_iso(rid)
    distinct = set(row.states.values())
    row.state = next((s for s in STATE_PRIORITY if s in distinct), OK)
    return row


def _drift(fleet: FleetReleases, host_order: list[str], scans: dict[str, HostScan],
           errors: dict[str, str]) -> list[str]:
    lines = [f"{host}: could not list releases: {errors[host]}" for host in host_order
             if host in errors]
    currents: dict[str | None, list[str]] = {}
    for host in host_order:
        scan = scans.get(host)
        if scan is None:
            continue
        if scan.current_problem:
            lines.append(f"{host}: {scan.current_problem}")
        currents.setdefault(scan.current, []).append(host)
        for rid, entry in sorted(scan.entries.items()):
            if entry.kind not in ("dir", "virtual"):
                kind = "a symlink" if entry.kind == "symlink" else "not a directory"
                lines.append(f"{host}: releases/{rid} is {kind} (ignored, never deleted)")
    position = fleet.position
    if position.release is not None:
        lines.extend(late.describe(position.release) for late in position.behind.values())
    elif position.disagreement:
        lines.append(position.disagreement)
    if len(currents) > 1:
        parts = [f"{', '.join(hs)} on {cur or 'no release'}" for cur, hs in currents.items()]
        lines.append("current differs between hosts: " + "; ".join(parts))
    for row in fleet.releases:
        missing = [h for h in host_order if h in scans and h not in row.hosts]
        if missing:
            lines.append(f"release {row.release_id} is missing on {', '.join(missing)}"
                         f" (present on {', '.join(row.hosts)})")
    return lines


def select_names(config: Config, project: str | Project, environment: str | Environment
                 ) -> tuple[Project, Environment]:
    """Accept names or the objects themselves; raises KeyError for an unknown name."""
    proj = project if isinstance(project, Project) else config.projects[project]
    env = (environment if isinstance(environment, Environment)
           else proj.environments[environment])
    return proj, env


def scan_hosts(pool: HostPool, project: Project, hosts: Iterable[Host] | None = None
               ) -> tuple[dict[str, HostScan], dict[str, str]]:
    """Scan every (connected) host of the pool in parallel: (scans, one-line errors)."""
    targets = list(pool.hosts if hosts is None else hosts)
    missing = [h for h in targets if h.name not in pool.transports]
    failed = pool.connect(missing) if missing else {}
    errors = {name: str(err) for name, err in failed.items()}
    outcomes = pool.map(lambda h, t: scan_host(t, Layout(project.host_deploy_to(h))),
                        [h for h in targets if h.name not in errors])
    errors.update((name, str(failure)) for name, failure in outcomes.failed.items())
    return outcomes.succeeded, errors


def list_releases(config: Config, project: str | Project, environment: str | Environment,
                  *, factory: TransportFactory | None = None, pool: HostPool | None = None
                  ) -> FleetReleases:
    """Every host's releases, merged; hosts that fail carry an error, others go on."""
    proj, env = select_names(config, project, environment)
    own = pool is None
    if pool is None:
        pool = HostPool(env.hosts, factory or transport_factory(config),
                        max_parallel=config.ssh.max_parallel)
    try:
        scans, errors = scan_hosts(pool, proj, env.hosts)
    finally:
        if own:
            pool.close()
    return build_fleet(proj.name, env.name, [h.name for h in env.hosts], scans, errors)
