"""Deleting old releases without ever touching what must stay.

Never `current`, never the rollback target (the newest ok release before current),
never, on any host, a release another host serves or the fleet's current (a host left
out of a deploy still serves the old one and will catch up to the new one),
never anything but a real directory directly under `releases/` named like a release id
(safety.delete_release_command checks that again on the host, at deletion time).
Failed and unfinished releases go first and do not count toward `keep`. The same code
runs after a successful deploy (prune_hosts) and from `deploytui prune`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from deploytui.config.model import Config, Environment, Host, Project
from deploytui.engine.events import (
    HostFailed,
    HostLine,
    Sink,
    discard,
)
from deploytui.engine.hosts.pool import HostPool, TransportFactory, transport_factory
from deploytui.engine.operations.behind import fleet_position
from deploytui.engine.operations.lifecycle import Lifecycle, Phase, Stop
from deploytui.engine.operations.releases import select_names
from deploytui.engine.operations.result import OperationResult, Outcome
from deploytui.engine.remote.layout import Layout
from deploytui.engine.remote.lock import local_user
from deploytui.engine.remote.safety import delete_release_command, release_path
from deploytui.engine.remote.scan import FAILED, UNFINISHED, HostScan, scan_host
from deploytui.engine.shell import q


@dataclass
class Deletion:
    release_id: str
    size_bytes: int
    reason: str  # "failed", "unfinished", "beyond keep=N", "requested"
    deleted: bool = False
    error: str = ""


@dataclass
class HostPrune:
    host: str
    deletions: list[Deletion] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    error: str = ""  # one line: the host could not be listed or a deletion failed

    @property
    def bytes_freed(self) -> int:
        return sum(d.size_bytes for d in self.deletions if d.deleted)

    @property
    def bytes_planned(self) -> int:
        return sum(d.size_bytes for d in self.deletions)

    def to_json(self) -> dict:
        return {"delete": [{"id": d.release_id, "size_bytes": d.size_bytes,
                            "reason": d.reason, "deleted": d.deleted,
                            "error": d.error or None} for d in self.deletions],
                "kept": list(self.kept), "bytes_planned": self.bytes_planned,
                "bytes_freed": self.bytes_freed, "error": self.error or None}


@dataclass(kw_only=True)
class PruneResult(OperationResult):
    """Per-host plan and outcome; `dry_run` plans carry nothing deleted."""

    hosts: dict[str, HostPrune] = field(default_factory=dict)
    dry_run: bool = False

    @property
    def ok(self) -> bool:
        return super().ok and not any(h.error for h in self.hosts.values())

    @property
    def errors(self) -> dict[str, str]:
        return {name: h.error for name, h in self.hosts.items() if h.error}

    @property
    def bytes_freed(self) -> int:
        return sum(h.bytes_freed for h in self.hosts.values())

    def to_json(self) -> dict:
        return {"dry_run": self.dry_run, "ok": self.ok, "error": self.error or None,
                "locked": self.locked, "bytes_freed": self.bytes_freed,
                "hosts": {name: h.to_json() for name, h in self.hosts.items()}}


def plan_host(scan: HostScan, keep: int, protect: Iterable[str] = ()) -> HostPrune:
    """What to delete on one host; pure, so the rules are testable without a host."""
    keep = max(1, keep)
    protected = set(protect)
    if scan.current:
        protected.add(scan.current)
    if scan.previous:
        protected.add(scan.previous)
    plan = HostPrune(scan.host)
    good_seen = 0
    for rid in sorted(scan.releases, reverse=True):
        if scan.releases[rid].kind != "dir":  # a pull project's deploys: nothing on disk
            continue
        state = scan.state(rid)
        if state in (FAILED, UNFINISHED) and rid not in protected:
            plan.deletions.append(Deletion(rid, scan.releases[rid].size_bytes, state))
            continue
        if state not in (FAILED, UNFINISHED):
            good_seen += 1
        if rid in protected or good_seen <= keep:
            plan.kept.append(rid)
        else:
            plan.deletions.append(
                Deletion(rid, scan.releases[rid].size_bytes, f"beyond keep={keep}"))
    return plan


def delete_command(layout: Layout, release_ids: Iterable[str]) -> str:
    """One command deleting several releases, each through safety's checked command.

    Each deletion runs in its own subshell and reports `@@ ID RC LAST-LINE`; the
    metadata file goes only when its directory went.
    """
    parts = []
    for rid in release_ids:
        check = delete_release_command(layout.deploy_to, rid)
        parts.append(
            f"out=$( ( {check} ) 2>&1 ); rc=$?; "
            f"if [ $rc -eq 0 ]; then rm -f -- {q(layout.metadata(rid))}; fi; "
            f"echo \"@@ {rid} $rc $(printf '%s' \"$out\" | tail -n 1 | tr '\\n' ' ')\"")
    return "; ".join(parts) + "; true"


def apply_deletions(transport, layout: Layout, plan: HostPrune, sink: Sink,
                    timeout: float = 600.0) -> None:
    """Run the deletions of one host's plan; fills deleted/error per release."""
    if not plan.deletions:
        return
    result = transport.run(delete_command(layout, [d.release_id for d in plan.deletions]),
                           capture=True, timeout=timeout)
    record_deletions(plan, result.stdout, sink)


def record_deletions(plan: HostPrune, output: str, sink: Sink) -> None:
    """Read delete_command's `@@ ID RC LAST-LINE` reports (also when it ran inside a
    larger command, as a deploy's finish does) into the plan; events for each."""
    by_id = {d.release_id: d for d in plan.deletions}
    for line in output.splitlines():
        if not line.startswith("@@ "):
            continue
        _, rid, rc, *rest = [*line.split(" ", 3), ""]
        deletion = by_id.get(rid)
        if deletion is None:
            continue
        if rc == "0":
            deletion.deleted = True
            sink(HostLine(plan.host, f"deleted release {rid} ({human_bytes(deletion.size_bytes)})",
                          "info"))
        else:
            deletion.error = (rest[0].strip() if rest else "") or f"exit status {rc}"
    failed = [d for d in plan.deletions if not d.deleted]
    for d in failed:
        d.error = d.error or "no report from the host"
    if failed:
        plan.error = "; ".join(f"could not delete release {d.release_id}: {d.error}"
                               for d in failed)
        sink(HostFailed(plan.host, "prune", "delete release", plan.error))


def prune_hosts(pool: HostPool, project: Project, hosts: Iterable[Host] | Iterable[str] | None,
                *, keep: int, sink: Sink = discard, protect: Iterable[str] = (),
                dry_run: bool = False) -> PruneResult:
    """Plan and (unless dry_run) delete on every host in parallel; never raises.

    The caller holds the deploy lock. `protect` names releases kept whatever their
    state (a deploy passes the release it just switched to).
    """
    protected = set(protect)
    return _per_host(pool, project, hosts, sink, dry_run,
                     lambda scan, fleet: plan_host(scan, keep, protected | fleet))


def fleet_protected(scans: dict[str, HostScan], host_order: list[str]) -> set[str]:
    """Releases no host may delete: the fleet's current (behind.py) and every release
    some host serves. With a host behind (left out of a deploy), the release it still
    serves stays everywhere, and the release it will catch up to stays on every host."""
    keep = {s.current for s in scans.values() if s.current}
    release = fleet_position(host_order, scans).release
    if release:
        keep.add(release)
    return keep


def _per_host(pool: HostPool, project: Project, hosts: Iterable[Host] | Iterable[str] | None,
              sink: Sink, dry_run: bool, planner: Callable[[HostScan, set[str]], HostPrune]
              ) -> PruneResult:
    """Scan every host first, so each host's plan knows what the others serve."""
    targets = _hosts(pool, hosts)
    result = PruneResult(dry_run=dry_run)
    layouts = {h.name: Layout(project.host_deploy_to(h)) for h in targets}
    scanned = pool.map(lambda h, t: scan_host(t, layouts[h.name]), targets,
                       step="list releases")
    scans = {n: o.value for n, o in scanned.items() if o.failure is None and o.value}
    fleet = fleet_protected(scans, [h.name for h in targets])

    def one(host: Host, transport) -> HostPrune:
        plan = planner(scans[host.name], fleet)
        if plan.error:
            sink(HostFailed(host.name, "prune", "plan", plan.error))
            return plan
        for d in plan.deletions:
            verb = "would delete" if dry_run else "deleting"
            sink(HostLine(host.name, f"{verb} release {d.release_id}"
                                     f" ({human_bytes(d.size_bytes)}, {d.reason})", "info"))
        if not dry_run:
            apply_deletions(transport, layouts[host.name], plan, sink,
                            timeout=project.timeout)
        return plan

    outcomes = pool.map(one, [h for h in targets if h.name in scans], step="prune")
    for host in targets:
        outcome = outcomes[host.name] if host.name in outcomes else scanned[host.name]
        failure = outcome.failure
        if failure is not None:
            result.hosts[host.name] = HostPrune(host.name, error=failure.reason)
            sink(HostFailed(host.name, "prune", failure.step, failure.reason))
        else:
            result.hosts[host.name] = outcome.value  # type: ignore[assignment]
    return result


def _hosts(pool: HostPool, hosts: Iterable[Host] | Iterable[str] | None) -> list[Host]:
    if hosts is None:
        return list(pool.hosts)
    return [pool.host(h) if isinstance(h, str) else h for h in hosts]


def human_bytes(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


def plan_single(scan: HostScan, release_id: str, fleet: Iterable[str] = ()) -> HostPrune:
    """Delete one named release on this host, never the current one, nor one that
    `fleet` protects (fleet_protected: served by some host, or the fleet's current)."""
    plan = HostPrune(scan.host)
    if release_id == scan.current:
        plan.error = f"refusing to delete release {release_id}: it is current"
    elif release_id in set(fleet):
        plan.error = (f"refusing to delete release {release_id}: another host serves it"
                      " or catches up to it")
    elif release_id in scan.releases:
        plan.deletions.append(Deletion(release_id, scan.releases[release_id].size_bytes,
                                       "requested"))
    plan.kept = [rid for rid in scan.releases if rid != release_id]
    return plan


class _Prune(Lifecycle):
    """Connect, take the lock (unless dry_run), run `body` as the "prune" phase."""

    operation = "prune"

    def __init__(self, config: Config, project: Project, environment: Environment, *,
                 dry_run: bool, ref: str,
                 body: Callable[[HostPool, Project, list[Host]], PruneResult], **kwargs
                 ) -> None:
        super().__init__(config, project, environment, lock_ref=ref, take_lock=not dry_run,
                         **kwargs)
        self.dry_run, self.body = dry_run, body
        self.pruned = PruneResult(dry_run=dry_run)

    def check(self) -> None:
        if self.project.strategy == "pull":
            raise Stop("pull strategy", kind="refused", text=(
                f"project {self.project.name} uses the pull strategy: it keeps no releases"
                " to prune"))

    def phases(self) -> list[Phase]:
        return [Phase("prune", self._prune)]

    def _prune(self) -> bool:
        """A cancel stops prune before it deletes; once the deletions run, they finish
        (half a `rm -rf` is worse than a whole one) and then the lock is released."""
        if self.cancel.is_set():
            raise Stop("cancelled", step="prune", kind="cancelled",
                       text="cancelled before anything was deleted")
        self.pruned = self.body(self.pool, self.project, list(self.hosts))
        return self.pruned.ok

    def failed_hosts(self) -> dict[str, str]:
        return self.pruned.errors

    def error_line(self) -> str:
        if self.stopped is not None:
            return str(self.stopped)
        return next(iter(self.pruned.errors.values()), "")

    @property
    def outcome(self) -> Outcome:
        outcome = super().outcome
        return "failed" if outcome == "success" and not self.pruned.ok else outcome

    def result(self) -> PruneResult:
        return self.pruned


def _run(config: Config, project: str | Project, environment: str | Environment, *,
         sink: Sink, factory: TransportFactory | None, user: str | None, resolver: Any,
         record_name: str = "prune", **kwargs) -> PruneResult:
    proj, env = select_names(config, project, environment)
    if resolver is None:
        from deploytui.config.secrets import resolver_for

        resolver = resolver_for(config)
    prune = _Prune(config, proj, env, sink=sink,
                   factory=factory or transport_factory(config, resolver=resolver),
                   user=user or local_user(), resolver=resolver, **kwargs)
    prune.record_name = record_name  # the fleet record tells a prune from a deletion
    return prune.execute()


def run_prune(config: Config, project: str | Project, environment: str | Environment, *,
              keep: int | None = None, dry_run: bool = False, sink: Sink = discard,
              factory: TransportFactory | None = None, user: str | None = None,
              wait_lock: float = 0.0, cancel: threading.Event | None = None,
              resolver: Any = None) -> PruneResult:
    """`deploytui prune`: keep `keep` (default keep_releases) good releases per host."""
    proj, _ = select_names(config, project, environment)
    count = keep if keep is not None else proj.keep_releases
    return _run(config, project, environment, sink=sink, factory=factory, user=user,
                resolver=resolver, dry_run=dry_run, ref=f"keep {count}", wait_lock=wait_lock,
                cancel=cancel, body=lambda pool, p, hosts: prune_hosts(
                    pool, p, hosts, keep=count, sink=sink, dry_run=dry_run))


def delete_release(config: Config, project: str | Project, environment: str | Environment,
                   release_id: str, *, sink: Sink = discard,
                   factory: TransportFactory | None = None, user: str | None = None,
                   dry_run: bool = False, wait_lock: float = 0.0,
                   cancel: threading.Event | None = None, resolver: Any = None
                   ) -> PruneResult:
    """The console's "delete one": this release on every host that has it, never current."""
    release_path("/x", release_id)  # validates the id before anything connects
    return _run(config, project, environment, sink=sink, factory=factory, user=user,
                resolver=resolver, dry_run=dry_run, ref=release_id, wait_lock=wait_lock,
                cancel=cancel, record_name="delete",
                body=lambda pool, p, hosts: _per_host(
                    pool, p, hosts, sink, dry_run,
                    lambda scan, fleet: plan_single(scan, release_id, fleet)))
