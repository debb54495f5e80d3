"""Rollback: a deploy's preflight, switch, restart and finish with an existing release.

The target must be present (and, by default, ok) on every host; the switch is the same
all-or-nothing `switch_all` a deploy uses; the release left behind is kept and marked
`rolled_back`. A `pull` project moves its working copy back to the previous deployed
commit recorded in revisions.log instead. The life cycle (events, pool, lock, unlock in
every case) is lifecycle.Lifecycle's; this module is the phases.

Per host it costs four remote commands (plus one per restart command beyond the
first): the lock, whose probe reads the releases once the lock is ours (remote/scan.py,
trimmed); the switch; the restart; and ONE finish (metadata, the revisions.log line
and the lock release, each part reporting its own status, so a failed part is a
warning naming host and part, never a failed rollback: the switch is done by then).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from deploytui.config.model import Config, Environment, Project
from deploytui.config.secrets import SecretResolver, resolver_for
from deploytui.engine.clock import utc_iso
from deploytui.engine.events import HostLine, Sink, discard
from deploytui.engine.hosts.pool import TransportFactory, transport_factory
from deploytui.engine.operations.behind import rollback_steps
from deploytui.engine.operations.deploy.shipping import rollback_shipping
from deploytui.engine.operations.finish import Part, run_last_commands
from deploytui.engine.operations.health import (
    HealthResult,
    check_hosts,
    has_checks,
)
from deploytui.engine.operations.hooks import HookContext, run_hooks
from deploytui.engine.operations.lifecycle import Failure, Lifecycle, Phase, Stop
from deploytui.engine.operations.migrations import migration_warnings
from deploytui.engine.operations.pull_switch import checkout_all
from deploytui.engine.operations.release_env import (
    env_of_release,
    release_env,
    rollback_env_lines,
)
from deploytui.engine.operations.releases import FleetReleases, build_fleet, id_to_iso, select_names
from deploytui.engine.operations.request import host_env, resolve_env
from deploytui.engine.operations.result import OperationResult, Outcome
from deploytui.engine.operations.roles import run_restarts
from deploytui.engine.operations.rollback_target import (
    RollbackRefused,
    check_release_id,
    choose_target,
    pull_target,
)
from deploytui.engine.operations.strategies import HostContext
from deploytui.engine.remote.layout import Layout, ReleaseMeta, ReleaseState, write_meta_command
from deploytui.engine.remote.lock import local_user, release_command
from deploytui.engine.remote.revisions import append_command, rollback_line
from deploytui.engine.remote.scan import HostScan, is_scan_output, parse_scan, scan_command
from deploytui.engine.remote.switch import switch_all

META_TIMEOUT = 30.0
_META, _REV = "Z-META", "Z-REV"


@dataclass(kw_only=True)
class RollbackResult(OperationResult):
    """A rollback's result: the common part, and where every host went."""

    target: str | None = None  # release id (pull: the release id or sha gone back to)
    previous: dict[str, str | None] = field(default_factory=dict)  # host -> left release
    hosts: list[str] = field(default_factory=list)
    health: dict[str, list[HealthResult]] = field(default_factory=dict)  # after the restart


def meta_for(scan: HostScan, release_id: str, state: ReleaseState, user: str) -> ReleaseMeta:
    """The release's metadata with a new state (created for a Capistrano release)."""
    rel = scan.releases[release_id]
    old = rel.meta
    meta = ReleaseMeta(release_id, state, sha=rel.revision, deployed_at=id_to_iso(release_id))
    if old is not None:
        meta = ReleaseMeta(release_id, state, sha=old.sha, subject=old.subject, ref=old.ref,
                           deployed_at=old.deployed_at, deployed_by=old.deployed_by,
                           history=list(old.history), excluded=list(old.excluded),
                           once=list(old.once), env=old.env)
    meta.history = capped_history([*meta.history, f"{state} at {utc_iso()} by {user}"])
    return meta


HISTORY_FIRST_KEPT = 8  # the deploy's own transitions: how the release came to be
HISTORY_LAST_KEPT = 32  # the newest rollbacks to and from it


def capped_history(history: list[str]) -> list[str]:
    """Every rollback adds a line to two releases' metadata, and every lock probe reads
    that metadata back: going back and forth must not grow it without bound."""
    if len(history) <= HISTORY_FIRST_KEPT + HISTORY_LAST_KEPT:
        return history
    return history[:HISTORY_FIRST_KEPT] + history[-HISTORY_LAST_KEPT:]


def run_rollback(config: Config, project: str | Project, environment: str | Environment, *,
                 to: str | None = None, sink: Sink = discard,
                 cancel: threading.Event | None = None,
                 factory: TransportFactory | None = None, user: str | None = None,
                 resolver: SecretResolver | None = None,
                 wait_lock: float = 0.0) -> RollbackResult:
    """Roll every host of the environment back to one release, all or nothing."""
    proj, env = select_names(config, project, environment)
    resolver = resolver or resolver_for(config)
    rollback = _Rollback(config, proj, env, to=to, sink=sink, cancel=cancel,
                         factory=factory or transport_factory(config, resolver=resolver),
                         user=user or local_user(), resolver=resolver,
                         wait_lock=wait_lock)
    return rollback.execute()


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


def _marks(layout: Layout, scan: HostScan, target: str, left: str | None, user: str
           ) -> str:
    """Target -> ok, the release the host left -> rolled_back (kept, never deleted)."""
    commands = [write_meta_command(layout, meta_for(scan, target, "ok", user))]
    if left and left != target and left in scan.releases:
        commands.append(write_meta_command(layout, meta_for(scan, left, "rolled_back", user)))
    return " && ".join(commands)


class _Rollback(Lifecycle):
    operation = "rollback"

    def __init__(self, config: Config, project: Project, environment: Environment, *,
                 to: str | None, **kwargs) -> None:
        super().__init__(config, project, environment, lock_ref=to or "previous release",
                         **kwargs)
        self.to = to
        self.pull = project.strategy == "pull"
        self.scans: dict[str, HostScan] = {}
        self.fleet: FleetReleases | None = None
        self.target: str | None = None  # release id (pull: release id or sha)
        self.sha = ""  # pull: the commit gone back to
        self.previous: dict[str, str | None] = {}
        self.restart_failures: dict[str, Failure] = {}
        self.moving: list[str] = list(self.names)  # hosts not already on the target
        self.base_env: dict[str, str] = {}
        self.health: dict[str, list[HealthResult]] = {}

    def check(self) -> None:
        if self.to is not None and not self.pull:
            check_release_id(self.to)

    def started_fields(self) -> dict[str, str]:
        return {"ref": self.to or "previous release"}  # what was asked for: header, journal

    def record_fields(self) -> dict[str, str]:
        return {"ref": self.to or "previous release", "sha": self.sha or self._target_sha()}

    def _target_sha(self) -> str:
        for scan in self.scans.values():
            rel = scan.releases.get(self.target or "")
            if rel is not None:
                return rel.meta.sha if rel.meta is not None and rel.meta.sha else rel.revision
        return ""

    def probe(self, host: str) -> str:
        # a pull project's history is its revisions.log
        return scan_command(self.layouts[host], sizes=False, log=self.pull)

    def after_lock(self) -> None:
        self.scans = read_scans(self.layouts, self.probed)
        if self.pull:
            targets = {h: pull_target(self.scans[h], self.to) for h in self.names}
            shas = {sha for _, sha in targets.values()}
            if len(shas) > 1:
                raise RollbackRefused("hosts disagree on the previous commit: " + ", ".join(
                    f"{h} {sha[:8]}" for h, (_, sha) in targets.items()))
            release_id, self.sha = next(iter(targets.values()))
            self.target = release_id or self.sha
            self.previous = {h: self.scans[h].head_sha or None for h in self.names}
        else:
            self.fleet = build_fleet(self.project.name, self.environment.name, self.names,
                                     self.scans, {})
            self.target = choose_target(self.fleet, self.to)
            self._plan(self.fleet, self.target)
            for warning in migration_warnings(self.scans.values(), self.target):
                self.warnings.append(warning)
                self.sink(HostLine("local", f"warning: {warning}", "info"))
        self.release_id = self.target
        self._target_env()
        self.sink(rollback_shipping(self.project, self.scans, self.target, self.sha))

    def _target_env(self) -> None:
        """The target release's env for its restarts and checks, resolved now, before
        any host is switched (a secret gone from the vault stops here, nothing changed)."""
        found, recorded = release_env(self.scans, self.target)
        current = (self.fleet.hosts[self.moving[0]].current
                   if self.fleet is not None and self.moving else None)
        for line in rollback_env_lines(self.scans, current, self.target):
            self.sink(HostLine("local", f"env: {line}", "info"))
        try:
            self.base_env = (env_of_release(self.project, recorded, self.resolver) if found
                             else resolve_env(self.project, self.resolver))
        except Exception as exc:  # SecretUnavailable: one line, no value
            raise Stop(f"secrets: {exc}", step="env") from None

    def _plan(self, fleet: FleetReleases, target: str) -> None:
        """With a host behind (left out of a deploy), say what each host will do; a host
        already serving the target is left alone: not switched, not restarted."""
        currents = {h: fleet.hosts[h].current for h in self.names}
        if fleet.position.behind:
            for host, step in rollback_steps(currents, target, fleet.position).items():
                self.sink(HostLine(host, f"rollback plan: {step}", "info"))
        self.moving = [h for h in self.names if currents[h] != target]

    def phases(self) -> list[Phase]:
        switch = self._checkout if self.pull else self._switch
        verify = [Phase("verify", self._verify)] if has_checks(self.project, self.hosts) else []
        return [Phase("switch", switch), Phase("restart", self._restart), *verify,
                Phase("finish", self._finish)]

    # -- phases --------------------------------------------------------------------------
    def _switch(self) -> None:
        assert self.target is not None and self.fleet is not None
        switched = switch_all(self.pool, {h: (self.layouts[h], self.target)
                                          for h in self.moving}, self.sink, self.cancel)
        if not switched.ok:
            for failure in switched.failures.values():
                self.record(failure)
            for host, why in switched.switch_back_failed.items():
                self.record(Failure(host, "switch back", why))
            failed = "; ".join(f"{h}: {why}" for h, why in switched.failed.items())
            if switched.switch_back_failed:
                stuck = ", ".join(switched.switch_back_failed)
                text = (f"switch failed on {failed}; switching back FAILED on {stuck}:"
                        " the hosts are on different releases")
            else:
                text = f"switch failed on {failed} (hosts switched back)"
            raise Stop("switch failed", step="switch", text=text)
        self.previous = {h: self.fleet.hosts[h].current for h in self.moving}

    def _checkout(self) -> None:
        """pull: every working copy to the target commit; if one cannot, the others back."""
        def deploy_to(name: str) -> str:
            return self.layouts[name].deploy_to

        moved = checkout_all(self.pool, self.hosts, deploy_to, lambda _: self.sha,
                             sink=self.sink, timeout=self.project.timeout)
        if moved.ok:
            return
        failed = moved.failed
        moved_back = checkout_all(
            self.pool, [h for h in self.hosts if h.name not in failed], deploy_to,
            lambda n: self.scans[n].head_sha or None, sink=self.sink,
            timeout=self.project.timeout, step="switch back")
        for failure in failed.values():
            self.fail(failure, "switch")
        for failure in moved_back.failed.values():
            self.fail(failure, "switch")
        first = next(iter(failed.values()))
        text = f"git checkout failed: {first.reason}"
        if moved_back.failed:
            text += (f"; moving back FAILED on {', '.join(moved_back.failed)}: the hosts are"
                     " on different commits")
        raise Stop("git checkout failed", step="switch", text=text)

    def _env_for(self, host: str) -> dict[str, str]:
        """Every variable a deploy's steps get, with the target release's values."""
        target = self.target or ""
        sha = self.sha
        if not self.pull:
            rel = self.scans[host].releases[target]
            sha = rel.meta.sha if rel.meta is not None and rel.meta.sha else rel.revision
        ctx = HostContext(self.project, self.pool.host(host), self.layouts[host], target, sha,
                          self.project.repo)
        return host_env(self.base_env, ctx, self.environment.name)

    def _restart(self) -> bool:
        """The roles' restart steps, with the environment the target was deployed with."""
        moving = [h for h in self.hosts if h.name in self.moving]
        self.restart_failures = run_restarts(self.pool, self.project, moving, self.sink,
                                             self.cancel, self._env_for).failed
        for failure in self.restart_failures.values():
            self.record(failure)
        return not self.restart_failures

    def _verify(self) -> bool:
        """The same health checks a deploy runs, reported; the rollback itself stands."""
        cwd = (lambda h: self.layouts[h.name].deploy_to) if self.pull else (
            lambda h: self.layouts[h.name].current)
        restarted = [h for h in self.hosts
                     if h.name in self.moving and h.name not in self.restart_failures]
        self.health = check_hosts(self.pool, self.project, restarted, cwd_for=cwd,
                                  env_for=lambda h: self._env_for(h.name), sink=self.sink,
                                  cancel=self.cancel)
        bad = [r for h in restarted for r in self.health.get(h.name, []) if not r.healthy]
        if not bad:
            return True
        self.fail_unhealthy(bad)
        return False

    def _finish(self) -> None:
        """ONE command per host: release states, the revisions.log line, the unlock."""
        assert self.target is not None
        line = rollback_line(self.user, self.target)

        def parts(name: str) -> list[Part]:
            layout = self.layouts[name]
            marks = ("" if self.pull or name not in self.moving else
                     _marks(layout, self.scans[name], self.target or "",
                            self.previous.get(name), self.user))
            return [*([Part(_META, marks, "could not record release states", inline=True)]
                      if marks else []),
                    Part(_REV, append_command(layout, line), "could not append to revisions.log",
                         inline=True)]

        done = run_last_commands(self.pool, self.names, parts,
                                 lambda n: release_command(self.layouts[n], self.lock),
                                 step="finish", timeout=META_TIMEOUT,
                                 record=self.record_command)
        self.unlocked |= done.unlocked
        for name, problems in done.problems.items():
            for problem in problems:
                self.sink(HostLine(name, problem.removeprefix(f"{name}: "), "err"))

    # -- the result ----------------------------------------------------------------------
    def error_line(self) -> str:
        if self.stopped is None and self.restart_failures:
            return "switched, but restart failed: " + str(
                next(iter(self.restart_failures.values())))
        if self.stopped is None and self.failures:
            first = next(self.failures[n] for n in self.names if n in self.failures)
            return f"switched, but unhealthy: {first}"
        return super().error_line()

    @property
    def outcome(self) -> Outcome:
        """A cancel that stopped the restart after the switch is a cancelled rollback
        (switched and recorded), not a failed one."""
        outcome = super().outcome
        return "cancelled" if outcome == "failed" and self.cancel.is_set() else outcome

    def usage_error(self) -> bool:
        return isinstance(self.stopped, RollbackRefused) and self.stopped.usage

    def after(self, result: OperationResult) -> None:
        """after_rollback, unless nothing was attempted; a failing hook only warns."""
        if result.refused or result.locked:
            return
        context = HookContext(self.project.name, self.environment.name, self.target or "",
                              user=self.user)
        error = run_hooks(self.project, "after_rollback", context, sink=self.sink,
                          cwd=self.config.path.parent if self.config.path else None,
                          outcome=result.outcome)
        if error is not None:
            result.warnings.append(self.redact(f"hook {error}"))

    def result(self) -> RollbackResult:
        return RollbackResult(target=self.target, previous=self.previous,
                              hosts=list(self.names), health=self.health)
