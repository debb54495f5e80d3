"""Rollback: a deploy's preflight, switch, restart and finish with an existing release.

The target must be present (and, by default, ok) on every host; the switch is the same
all-or-nothing `switch_all` a deploy uses; the release left behind is kept and marked
`rolled_back`. A `pull` project moves its working copy back to the previous deployed
commit recorded in revisions.log instead.

Per host it costs four remote commands (plus one per restart command beyond the
first): the lock, whose probe reads the releases once the lock is ours (engine/scan.py,
trimmed); the switch; the restart; and ONE finish (metadata, the revisions.log line
and the lock release, each part reporting its own status, so a failed part is a
warning naming host and part, never a failed rollback: the switch is done by then).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from deploytui.config.model import Config, Environment, Project
from deploytui.config.secrets import SecretResolver
from deploytui.engine.events import (
    DeployFinished,
    DeployStarted,
    HostFailed,
    HostLine,
    PhaseFinished,
    PhaseStarted,
    Sink,
    discard,
)
from deploytui.engine.hosts.pool import HostPool, TransportFactory, transport_factory
from deploytui.engine.hosts.transport import Transport, TransportError
from deploytui.engine.operations.deploy import resolve_env
from deploytui.engine.operations.releases import FleetReleases, build_fleet, id_to_iso, select_names
from deploytui.engine.operations.roles import RELEASE_PATH_KEY, run_restarts
from deploytui.engine.redact import redact, redacting_sink
from deploytui.engine.remote.layout import Layout, ReleaseMeta, write_meta_command
from deploytui.engine.remote.lock import (
    Locked,
    LockInfo,
    local_user,
    release_command,
    release_locks,
    take_locks,
)
from deploytui.engine.remote.revisions import append_command, rollback_line
from deploytui.engine.remote.safety import is_release_id
from deploytui.engine.remote.scan import HostScan, is_scan_output, parse_scan, scan_command
from deploytui.engine.remote.script import tag_results, tagged
from deploytui.engine.remote.switch import switch_all
from deploytui.engine.shell import q

META_TIMEOUT = 30.0
_META, _REV, _UNLOCK = "Z-META", "Z-REV", "Z-UNLOCK"


@dataclass
class RollbackResult:
    outcome: str  # success | failed | cancelled
    target: str | None = None  # release id (pull: the release id or sha gone back to)
    previous: dict[str, str | None] = field(default_factory=dict)  # host -> left release
    hosts: list[str] = field(default_factory=list)
    error: str = ""  # one line when it failed
    duration: float = 0.0
    locked: bool = False  # failed because another operation holds the lock
    failed_hosts: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.outcome == "success"


class RollbackRefused(Exception):
    """Nothing was changed: no target, a target missing on some hosts, ..."""


def _iso_now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def choose_target(fleet: FleetReleases, to: str | None) -> str:
    """The release to roll back to, or RollbackRefused saying why not (one line)."""
    if to is None:
        target = fleet.rollback_target()
        if target is None:
            raise RollbackRefused("no earlier release is ok on every host; nothing to roll "
                                  "back to (name one with --to)")
        return target
    if not is_release_id(to):
        raise RollbackRefused(f"'{to}' is not a release id (14 digits)")
    missing = fleet.missing_on(to)
    if missing:
        raise RollbackRefused(f"release {to} is not on every host: missing on "
                              f"{', '.join(missing)}")
    if all(fleet.hosts[h].current == to for h in fleet.hosts):
        raise RollbackRefused(f"release {to} is already current on every host")
    return to


def meta_for(scan: HostScan, release_id: str, state: str, user: str) -> ReleaseMeta:
    """The release's metadata with a new state (created for a Capistrano release)."""
    rel = scan.releases[release_id]
    old = rel.meta
    meta = ReleaseMeta(release_id, state, sha=rel.revision, deployed_at=id_to_iso(release_id))
    if old is not None:
        meta = ReleaseMeta(release_id, state, sha=old.sha, subject=old.subject, ref=old.ref,
                           deployed_at=old.deployed_at, deployed_by=old.deployed_by,
                           history=list(old.history), once=list(old.once))
    meta.history.append(f"{state} at {_iso_now()} by {user}")
    return meta


def run_rollback(config: Config, project: str | Project, environment: str | Environment, *,
                 to: str | None = None, sink: Sink = discard,
                 cancel: threading.Event | None = None,
                 factory: TransportFactory | None = None, user: str | None = None,
                 resolver: SecretResolver | None = None) -> RollbackResult:
    """Roll every host of the environment back to one release, all or nothing."""
    proj, env = select_names(config, project, environment)
    user = user or local_user()
    resolver = resolver or SecretResolver()
    sink = redacting_sink(sink, resolver)
    started = time.monotonic()
    names = [h.name for h in env.hosts]
    result = RollbackResult("failed", hosts=names)
    sink(DeployStarted(operation="rollback", project=proj.name, environment=env.name,
                       hosts=tuple(names), user=user, strategy=proj.strategy))
    pool = HostPool(env.hosts, factory or transport_factory(config),
                    max_parallel=config.ssh.max_parallel)
    layouts = {h.name: Layout(proj.host_deploy_to(h)) for h in env.hosts}
    info = LockInfo(user=user, project=proj.name, environment=env.name,
                    ref=to or "previous release", operation="rollback")
    held: set[str] = set()  # hosts whose lock may be ours: released in `finally`
    finish = _Finish(pool, layouts, info, sink)  # releases the locks when it runs
    try:
        sink(PhaseStarted("preflight", tuple(names)))
        failed = pool.connect()
        if failed:
            for name, err in failed.items():
                sink(HostFailed(name, "preflight", "connect", err.message))
            result.failed_hosts = {n: str(e) for n, e in failed.items()}
            raise RollbackRefused(str(next(iter(failed.values()))))
        log = proj.strategy == "pull"  # a pull project's history is its revisions.log
        try:
            taken = take_locks(pool, layouts, info, probe=lambda name: scan_command(
                layouts[name], sizes=False, log=log))
        except Locked as exc:
            result.locked = True
            raise RollbackRefused(str(exc)) from None
        held = set(layouts)
        scans = read_scans(layouts, taken.probed)
        fleet = build_fleet(proj.name, env.name, names, scans, {})
        if proj.strategy == "pull":
            _pull_rollback(pool, proj, env.name, layouts, scans, to, sink, cancel, user,
                           result, resolver, finish)
        else:
            _release_rollback(pool, proj, env.name, layouts, fleet, to, sink, cancel, user,
                              result, resolver, finish)
    except RollbackRefused as exc:
        result.error = str(exc)
        sink(PhaseFinished("preflight", False))
    except TransportError as exc:
        result.error = str(exc)
    except Exception as exc:  # never a traceback to the user: one line
        result.error = f"{type(exc).__name__}: {exc}".splitlines()[0]
    finally:
        held -= finish.unlocked
        if held:
            release_locks(pool, {n: layouts[n] for n in layouts if n in held}, info)
        pool.close()
        result.duration = time.monotonic() - started
        secrets = resolver.known_values()
        result.error = redact(result.error, secrets)
        result.failed_hosts = {h: redact(e, secrets) for h, e in result.failed_hosts.items()}
        if result.outcome != "success" and cancel is not None and cancel.is_set():
            result.outcome = "cancelled"
        sink(DeployFinished(operation="rollback", outcome=result.outcome,  # type: ignore[arg-type]
                            duration=result.duration, release_id=result.target or "",
                            failed_hosts=dict(result.failed_hosts), error=result.error))
    return result


def read_scans(layouts: dict[str, Layout], probed: dict[str, str]) -> dict[str, HostScan]:
    """Each host's release scan from its lock probe; RollbackRefused names the first host
    whose scan did not run (one line)."""
    scans: dict[str, HostScan] = {}
    for name, layout in layouts.items():
        output = probed.get(name, "")
        if not is_scan_output(output):
            lines = output.strip().splitlines()
            raise RollbackRefused(f"{name}: listing releases: "
                                  f"{lines[-1] if lines else 'no listing from the host'}")
        scans[name] = parse_scan(name, layout.deploy_to, output)
    return scans


def _release_rollback(pool: HostPool, proj: Project, environment: str,
                      layouts: dict[str, Layout],
                      fleet: FleetReleases, to: str | None, sink: Sink,
                      cancel: threading.Event | None, user: str, result: RollbackResult,
                      resolver: SecretResolver, finish: _Finish) -> None:
    target = choose_target(fleet, to)
    result.target = target
    sink(PhaseFinished("preflight", True))
    names = list(layouts)
    sink(PhaseStarted("switch", tuple(names)))
    switched = switch_all(pool, {h: (layouts[h], target) for h in names}, sink, cancel)
    sink(PhaseFinished("switch", switched.ok))
    if not switched.ok:
        result.failed_hosts = dict(switched.failed)
        result.error = "switch failed on " + "; ".join(
            f"{h}: {why}" for h, why in switched.failed.items()) + " (hosts switched back)"
        return
    result.previous = {h: fleet.hosts[h].current for h in names}
    restart_errors = _restart(pool, proj, layouts, {h: layouts[h].release(target)
                                                    for h in names},
                              target, environment, sink, cancel, resolver)
    finish.run(rollback_line(user, target), {h: _marks(layouts[h], fleet.scans[h], target,
                                                        result.previous[h], user)
                                             for h in names})
    _conclude(result, restart_errors)


def _restart(pool: HostPool, proj: Project, layouts: dict[str, Layout], paths: dict[str, str],
             release_id: str, environment: str, sink: Sink, cancel: threading.Event | None,
             resolver: SecretResolver) -> dict[str, str]:
    """The roles' restart steps, with the same environment a deploy gives them."""
    names = list(paths)
    sink(PhaseStarted("restart", tuple(names)))
    base = resolve_env(proj, resolver)
    errors = run_restarts(pool, proj, [pool.host(n) for n in names], sink, cancel,
                          lambda h: {**base, RELEASE_PATH_KEY: paths[h],
                                     "DEPLOYTUI_RELEASE": release_id,
                                     "DEPLOYTUI_DEPLOY_TO": layouts[h].deploy_to,
                                     "DEPLOYTUI_HOST": h, "DEPLOYTUI_ENV": environment})
    sink(PhaseFinished("restart", not errors))
    return errors


def _conclude(result: RollbackResult, restart_errors: dict[str, str]) -> None:
    if restart_errors:
        result.failed_hosts = dict(restart_errors)
        result.error = ("switched, but restart failed: "
                        + next(iter(restart_errors.values())))
        result.outcome = "failed"
    else:
        result.outcome = "success"


def _marks(layout: Layout, scan: HostScan, target: str, left: str | None, user: str
           ) -> str:
    """Target -> ok, the release the host left -> rolled_back (kept, never deleted)."""
    commands = [write_meta_command(layout, meta_for(scan, target, "ok", user))]
    if left and left != target and left in scan.releases:
        commands.append(write_meta_command(layout, meta_for(scan, left, "rolled_back", user)))
    return " && ".join(commands)


class _Finish:
    """The finish phase: ONE command per host for metadata, revisions.log and unlock."""

    def __init__(self, pool: HostPool, layouts: dict[str, Layout], info: LockInfo,
                 sink: Sink) -> None:
        self.pool, self.layouts, self.info, self.sink = pool, layouts, info, sink
        self.unlocked: set[str] = set()  # hosts whose lock the finish released

    def command(self, host: str, line: str, marks: str) -> str:
        layout = self.layouts[host]
        parts = [tagged(_META, marks)] if marks else []
        parts += [tagged(_REV, append_command(layout, line)),
                  tagged(_UNLOCK, release_command(layout, self.info))]
        return "\n".join(parts)

    def run(self, line: str, marks: dict[str, str]) -> None:
        """Best effort: a failed part is an `err` line naming host and part."""
        names = list(self.layouts)
        self.sink(PhaseStarted("finish", tuple(names)))

        def finish(host, transport: Transport) -> None:
            name = host.name
            res = transport.run(self.command(name, line, marks.get(name, "")), capture=True,
                                timeout=META_TIMEOUT)
            status = tag_results(res.stdout, [*([_META] if marks.get(name) else []),
                                              _REV, _UNLOCK])
            if status[_UNLOCK] is None:
                self.unlocked.add(name)
            for tag, what in ((_META, "could not record release states"),
                              (_REV, "could not append to revisions.log")):
                if status.get(tag):
                    self.sink(HostLine(name, f"{what}: {status[tag]}", "err"))

        outcomes = self.pool.map(finish, [self.pool.host(n) for n in names])
        for name, outcome in outcomes.items():
            if outcome.error is not None:
                self.sink(HostLine(name, f"finish: {outcome.error}", "err"))
        self.sink(PhaseFinished("finish", True))


def pull_target(scan: HostScan, to: str | None) -> tuple[str, str]:
    """(release id or '', sha) of the commit a pull project goes back to."""
    deploys = [e for e in scan.log if not e.rollback and e.sha]
    if to is not None:
        for e in reversed(deploys):
            if to in (e.release_id, e.sha) or (len(to) >= 7 and e.sha.startswith(to)):
                return e.release_id, e.sha
        raise RollbackRefused(f"{scan.host}: '{to}' is not a deployed release or commit "
                              "in revisions.log")
    head = scan.head_sha
    shas = [e.sha for e in deploys]
    # Walk back from the newest deploy of HEAD to the deploy before it with another sha.
    idx = max((i for i, s in enumerate(shas) if head.startswith(s) or s.startswith(head)),
              default=len(shas))
    for e in reversed(deploys[:idx]):
        if not (head.startswith(e.sha) or e.sha.startswith(head)):
            return e.release_id, e.sha
    raise RollbackRefused(f"{scan.host}: no earlier deployed commit in revisions.log")


def _pull_rollback(pool: HostPool, proj: Project, environment: str,
                   layouts: dict[str, Layout],
                   scans: dict[str, HostScan], to: str | None, sink: Sink,
                   cancel: threading.Event | None, user: str, result: RollbackResult,
                   resolver: SecretResolver, finish: _Finish) -> None:
    targets = {h: pull_target(scans[h], to) for h in layouts}
    shas = {sha for _, sha in targets.values()}
    if len(shas) > 1:
        raise RollbackRefused("hosts disagree on the previous commit: " + ", ".join(
            f"{h} {sha[:8]}" for h, (_, sha) in targets.items()))
    release_id, sha = next(iter(targets.values()))
    result.target = release_id or sha
    result.previous = {h: scans[h].head_sha or None for h in layouts}
    sink(PhaseFinished("preflight", True))
    sink(PhaseStarted("switch", tuple(layouts)))
    outcomes = pool.map(lambda h, t: t.run(
        f"cd {q(layouts[h.name].deploy_to)} && git checkout -q -f --detach {q(sha)}",
        capture=True, timeout=proj.timeout), [pool.host(n) for n in layouts])
    failed = {n: (str(o.error) if o.error else o.value.last_line())
              for n, o in outcomes.items() if not (o.ok and o.value and o.value.ok)}
    if failed:
        back = {n: scans[n].head_sha for n in layouts if n not in failed and scans[n].head_sha}
        pool.map(lambda h, t: t.run(f"cd {q(layouts[h.name].deploy_to)} && git checkout -q -f"
                                    f" --detach {q(back[h.name])}", timeout=proj.timeout),
                 [pool.host(n) for n in back])
        for n, why in failed.items():
            sink(HostFailed(n, "switch", "git checkout", why))
        sink(PhaseFinished("switch", False))
        result.failed_hosts = failed
        result.error = f"git checkout failed: {next(iter(failed.values()))}"
        return
    sink(PhaseFinished("switch", True))
    restart_errors = _restart(pool, proj, layouts, {h: layouts[h].deploy_to for h in layouts},
                              release_id or sha, environment, sink, cancel, resolver)
    finish.run(rollback_line(user, release_id or sha), {})
    _conclude(result, restart_errors)

