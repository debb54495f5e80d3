"""What every host holds: releases, their states and sizes, and where hosts disagree.

One remote command per host prints everything (release names, REVISION, metadata, `du`
sizes, `current`, free disk, the revisions.log tail) and the parsing happens here, so
listing 30 hosts costs about what listing one does. Capistrano layouts (no metadata)
are read too: their history comes from the release ids and revisions.log.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from deploytui.config.model import Config, Environment, Host, Project
from deploytui.engine.hostpool import HostPool, TransportFactory, transport_factory
from deploytui.engine.layout import Layout, ReleaseMeta
from deploytui.engine.safety import is_release_id, q
from deploytui.engine.transport import Transport, TransportError

LOG_TAIL = 500
# Capistrano's revisions.log wording (deploytui writes the same lines).
DEPLOY_LINE = re.compile(
    r"^Branch (?P<branch>\S*) \(at (?P<sha>[^)]*)\) deployed as release (?P<id>\d{14})"
    r" by (?P<user>.+?)\s*$")
ROLLBACK_LINE = re.compile(r"^(?P<user>.+?) rolled back to release (?P<id>\d{14})\s*$")

# Host-level states of a release, as shown and as in --json.
CURRENT, PREVIOUS, OK, FAILED, UNFINISHED, ROLLED_BACK = (
    "current", "previous", "ok", "failed", "unfinished", "rolled_back")
GOOD_STATES = (OK, PREVIOUS)


def scan_command(layout: Layout) -> str:
    """The single command that prints a host's whole release picture, line-tagged.

    Per release it forks only `du` (sizes must equal `du -sk` of each directory, so one
    du per directory: a single du over all would count shared hard links once); the
    rest is bash builtins, which keeps a 30-host listing cheap on the hosts' CPUs.
    """
    meta_dir = ".deploytui/releases"
    return (
        f"cd -- {q(layout.deploy_to)} 2>/dev/null || {{ echo 'X nodir'; exit 0; }}; "
        "if [ -L current ]; then echo \"C $(readlink current)\"; "
        "  if [ -e current ]; then echo \"R $(readlink -f current)\"; fi; "
        "elif [ -e current ]; then echo 'C!'; fi; "
        "echo \"P $(readlink -f releases 2>/dev/null)\"; "
        "echo \"F $(df -Pk . 2>/dev/null | { read -r _; read -r _ _ _ a _; echo \"$a\"; })\"; "
        "if [ -d .git ]; then echo \"G $(git rev-parse HEAD 2>/dev/null)\"; fi; "
        "for p in releases/*; do n=${p#releases/}; "
        "  [[ $n =~ ^[0-9]{14}$ ]] || continue; "
        "  if [ -L \"$p\" ]; then echo \"E $n l\"; "
        "  elif [ -d \"$p\" ]; then printf 'E %s d ' \"$n\"; du -sk -- \"$p\" 2>/dev/null || echo; "
        "    if [ -f \"$p/REVISION\" ] && [ ! -L \"$p/REVISION\" ]; then "
        "      v=; read -r v < \"$p/REVISION\"; echo \"V $n $v\"; fi; "
        "  else echo \"E $n o\"; fi; "
        f"  m={meta_dir}/$n.json; "
        "  if [ -f \"$m\" ] && [ ! -L \"$m\" ]; then "
        "    v=; IFS= read -r v < \"$m\"; echo \"M $n $v\"; fi; "
        "done; "
        f"if [ -f revisions.log ]; then tail -n {LOG_TAIL} revisions.log | sed 's/^/L /'; fi; "
        "true"
    )


@dataclass
class HostRelease:
    """One entry named like a release id under `releases/` on one host."""

    release_id: str
    kind: str  # dir | symlink | other | virtual (a pull deploy); symlink/other = drift
    size_bytes: int = 0
    revision: str = ""
    meta: ReleaseMeta | None = None


@dataclass
class LogEntry:
    release_id: str
    sha: str = ""
    user: str = ""
    branch: str = ""
    rollback: bool = False


@dataclass
class HostScan:
    """The parsed output of scan_command for one host."""

    host: str
    deploy_to: str
    exists: bool = True
    current: str | None = None  # release id `current` resolves to, when it is a release
    current_target: str | None = None  # readlink current, raw
    current_problem: str = ""  # dangling / outside releases/ / not a symlink
    free_bytes: int | None = None
    head_sha: str = ""  # pull projects: the working copy's HEAD
    entries: dict[str, HostRelease] = field(default_factory=dict)
    log: list[LogEntry] = field(default_factory=list)

    @property
    def releases(self) -> dict[str, HostRelease]:
        """Real release directories only (symlinks and files named like ids excluded);
        for a pull project, its deploys."""
        return {k: v for k, v in self.entries.items() if v.kind in ("dir", "virtual")}

    def state(self, release_id: str) -> str:
        """current, previous, ok, failed, unfinished or rolled_back on this host."""
        if release_id == self.current:
            return CURRENT
        state = self._base_state(release_id)
        if state == OK and release_id == self.previous:
            return PREVIOUS
        return state

    def _base_state(self, release_id: str) -> str:
        rel = self.entries[release_id]
        if rel.meta is not None:
            return {"preparing": UNFINISHED, "ready": UNFINISHED, "failed": FAILED,
                    "rolled_back": ROLLED_BACK}.get(rel.meta.state, OK)
        return OK if rel.revision else UNFINISHED

    @property
    def previous(self) -> str | None:
        """The rollback target on this host: the newest ok release before current."""
        if self.current is None:
            return None
        older = [rid for rid in self.releases if rid < self.current
                 and self._base_state(rid) == OK]
        return max(older, default=None)


def parse_scan(host: str, deploy_to: str, output: str) -> HostScan:
    scan = HostScan(host=host, deploy_to=deploy_to)
    resolved = releases_real = None
    current_flag = False
    for line in output.splitlines():
        tag, _, rest = line.partition(" ")
        rest = rest.rstrip()
        if tag == "X":
            scan.exists = False
        elif tag == "C":
            scan.current_target = rest
        elif tag == "C!":
            current_flag = True
        elif tag == "R":
            resolved = rest
        elif tag == "P":
            releases_real = rest
        elif tag == "F" and rest.isdigit():
            scan.free_bytes = int(rest) * 1024
        elif tag == "G":
            scan.head_sha = rest
        elif tag == "E":
            parts = rest.split()
            if len(parts) >= 2 and is_release_id(parts[0]):
                kind = {"d": "dir", "l": "symlink"}.get(parts[1], "other")
                size = int(parts[2]) * 1024 if len(parts) > 2 and parts[2].isdigit() else 0
                scan.entries[parts[0]] = HostRelease(parts[0], kind, size)
        elif tag in ("V", "M"):
            rid, _, value = rest.partition(" ")
            rel = scan.entries.get(rid)
            if rel is None:
                continue
            if tag == "V":
                rel.revision = value.strip()
            else:
                rel.meta = ReleaseMeta.from_json(value)
        elif tag == "L":
            entry = parse_log_line(rest)
            if entry is not None:
                scan.log.append(entry)
    _resolve_current(scan, resolved, releases_real, current_flag)
    if scan.head_sha and not scan.entries:
        _pull_history(scan)
    return scan


def _pull_history(scan: HostScan) -> None:
    """A pull project's working copy: its deploys (revisions.log) stand in for releases.

    They are `virtual` entries (nothing on disk to size or delete); current is the
    newest deploy of the working copy's HEAD.
    """
    for entry in scan.log:
        if not entry.rollback and entry.sha:
            scan.entries[entry.release_id] = HostRelease(entry.release_id, "virtual",
                                                         revision=entry.sha)
    heads = [rid for rid, rel in scan.entries.items()
             if scan.head_sha.startswith(rel.revision) or rel.revision.startswith(scan.head_sha)]
    scan.current = max(heads, default=None)


def _resolve_current(scan: HostScan, resolved: str | None, releases_real: str | None,
                     not_a_link: bool) -> None:
    if not_a_link:
        scan.current_problem = "current is not a symlink"
        return
    if scan.current_target is None:
        return
    if resolved is None:
        scan.current_problem = (f"current is dangling: it points at {scan.current_target},"
                                " which does not exist")
        return
    name = posixpath.basename(resolved)
    entry = scan.entries.get(name)
    if (releases_real and posixpath.dirname(resolved) == releases_real and entry
            and entry.kind == "dir"):
        scan.current = name
    else:
        scan.current_problem = f"current points outside releases/: {resolved}"


def parse_log_line(line: str) -> LogEntry | None:
    match = DEPLOY_LINE.match(line)
    if match:
        return LogEntry(match["id"], sha=match["sha"], user=match["user"],
                        branch=match["branch"])
    match = ROLLBACK_LINE.match(line)
    if match:
        return LogEntry(match["id"], user=match["user"], rollback=True)
    return None


def scan_host(transport: Transport, layout: Layout, timeout: float = 120.0) -> HostScan:
    """One round trip: run scan_command and parse it; raises TransportError on failure."""
    result = transport.run(scan_command(layout), capture=True, timeout=timeout)
    if not result.ok:
        raise TransportError(transport.name, f"listing releases: {result.last_line()}")
    return parse_scan(transport.name, layout.deploy_to, result.stdout)


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

    def to_json(self) -> dict:
        return {"id": self.release_id, "sha": self.sha, "subject": self.subject,
                "deployed_at": self.deployed_at, "deployed_by": self.deployed_by,
                "state": self.state, "states": dict(self.states),
                "size_bytes": dict(self.size_bytes), "hosts": list(self.hosts)}


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

    def to_json(self) -> dict:
        return {"current": self.current, "previous": self.previous,
                "free_bytes": self.free_bytes, "error": self.error or None,
                "current_target": self.current_target, "problem": self.problem or None,
                "ignored": list(self.ignored)}


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

    def row(self, release_id: str) -> ReleaseRow | None:
        return next((r for r in self.releases if r.release_id == release_id), None)

    def listed_hosts(self) -> list[str]:
        return [h for h, info in self.hosts.items() if not info.error]

    def rollback_target(self) -> str | None:
        """The newest release before `current` that is ok on every host."""
        for row in self.releases:
            if all(self._good_before_current(host, row.release_id) for host in self.hosts):
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
                "drift": list(self.drift), "rollback_target": self.rollback_target()}


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
    scans: dict[str, HostScan] = {}
    for name, outcome in outcomes.items():
        if outcome.error is not None:
            errors[name] = one_line(outcome.error)
        else:
            scans[name] = outcome.value  # type: ignore[assignment]
    return scans, errors


def one_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[-1] if text else type(error).__name__


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
