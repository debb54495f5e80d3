"""The deploy: preflight → prepare → barrier → once → switch → restart → finish.

All-or-nothing: no host changes what it serves until every host has prepared; a
failed switch puts the hosts already switched back; a failed or cancelled deploy
removes its unfinished release directories, so nothing half-built is ever a rollback
target. Its metadata file is KEPT with state `failed`, so `releases` can show failed
deploys (the directory is gone, the record is not). The life cycle (events, pool,
lock, unlock in every case) is lifecycle.Lifecycle's; this module is the phases.

The package holds everything only a deploy does: its state (state.py), the preflight
probe (preflight.py), the guards a plan also shows (guards.py), the release id and
metadata (release_identity.py), shipping a built artifact (shipping.py) and its fan-out
among hosts (fanout.py), the staged switch with health checks and the automatic
rollback (verify.py, staged.py), the pull strategy's activation (pull_activation.py),
cleaning up a failed deploy (cleanup.py), and the catch-up, which is this deploy run
again for the hosts left behind (catch_up.py).
"""

from __future__ import annotations

import threading
from dataclasses import replace

from deploytui.config.model import Config, Host
from deploytui.engine.clock import utc_iso
from deploytui.engine.events import HostLine, Sink, discard
from deploytui.engine.hosts.pool import TransportFactory, transport_factory
from deploytui.engine.hosts.transport import Transport
from deploytui.engine.operations import strategies
from deploytui.engine.operations.deploy.cleanup import cleanup_hosts
from deploytui.engine.operations.deploy.fanout import Fanout, relays
from deploytui.engine.operations.deploy.guards import (
    already_served,
    commit_warning,
    serving_shas,
    unchanged_line,
)
from deploytui.engine.operations.deploy.preflight import probe_command, read_probes
from deploytui.engine.operations.deploy.pull_activation import PullActivation
from deploytui.engine.operations.deploy.release_identity import next_release_id, release_meta
from deploytui.engine.operations.deploy.shipping import serving_sha, shipping
from deploytui.engine.operations.deploy.verify import Verifying
from deploytui.engine.operations.exclusion import exclude_hint
from deploytui.engine.operations.finish import finish_hosts, plan_prunes
from deploytui.engine.operations.hooks import HookContext, run_hooks
from deploytui.engine.operations.lifecycle import Phase, Stop
from deploytui.engine.operations.prune import HostPrune
from deploytui.engine.operations.release_env import record_env
from deploytui.engine.operations.request import (
    DeployRequest,
    DeployResult,
    HostReport,
    resolve_env,
)
from deploytui.engine.operations.result import OperationResult, Outcome
from deploytui.engine.operations.roles import once_hosts, run_once
from deploytui.engine.operations.source import (
    SourceError,
    build_artifact,
    resolve,
)
from deploytui.engine.operations.strategies import HostContext
from deploytui.engine.remote.lock import release_command
from deploytui.engine.remote.release_meta import MetaWriter
from deploytui.engine.remote.revisions import deploy_line
from deploytui.engine.remote.script import ScriptStep
from deploytui.engine.remote.steps import StepFailed

FINISH_TIMEOUT = 30.0  # bookkeeping; the prune deletions get the project's step timeout

__all__ = ["DeployRequest", "DeployResult", "run_deploy"]


def _default_resolver(config: Config):
    from deploytui.config.secrets import resolver_for

    return resolver_for(config)


def run_deploy(config: Config, request: DeployRequest, *, sink: Sink = discard,
               cancel: threading.Event | None = None, resolver=None,
               factory: TransportFactory | None = None) -> DeployResult:
    """Deploy request.project to request.environment; never raises for a deploy failure."""
    resolver = resolver or _default_resolver(config)
    deploy = _Deploy(config, request, sink=sink, cancel=cancel, resolver=resolver,
                     factory=factory or transport_factory(config, resolver=resolver))
    return deploy.execute()


class _Deploy(PullActivation, Verifying):
    operation = "deploy"
    refuses_in_freeze = True

    def phases(self) -> list[Phase]:
        # a catch-up runs no `once` steps: the fleet ran them when it switched
        once = [] if self.request.catch_up else [Phase("once", self._once)]
        pull = self.project.strategy == "pull"
        switch = self.pull_phases(once) if pull else [*once, *self.stage_phases()]
        return [Phase("prepare", self._prepare), Phase("barrier", self._barrier), *switch,
                Phase("finish", self._finish)]

    # -- the skeleton's hooks ------------------------------------------------------------
    def check(self) -> None:
        if self.refused:
            raise Stop("exclude", kind="refused", text=self.refused)

    def begin(self) -> None:
        try:
            self.env = resolve_env(self.project, self.resolver)
            recorded = record_env(self.project, self.env, self.resolver)
        except Exception as exc:
            raise Stop(f"secrets: {exc}") from None
        again = self.request.catch_up
        try:
            self.resolved = resolve(self.project, self.request.environment,
                                    (again.ref or None) if again else self.request.ref,
                                    sha=again.sha if again else self.request.sha)
        except SourceError as exc:
            raise Stop(f"resolve: {exc}") from None
        r = self.resolved
        self.lock.ref = r.ref
        self.meta = MetaWriter(release_meta(self.release_id, r, self.request, self.excluded,
                                            recorded), self.layouts)
        if again is not None:
            for name in self.names:
                self.meta.history[name] = [f"catch-up at {utc_iso()} by {self.user}"]
        for h in self.hosts:
            self.contexts[h.name] = HostContext(self.project, h, self.layouts[h.name],
                                                self.release_id, r.sha, r.repo_url)
        refused = run_hooks(self.project, "before_deploy", self._hook_context(),
                            sink=self.sink, cwd=self._hook_dir(), cancel=self.cancel)
        if refused is not None:  # before any connection: nothing touched, no lock
            self.hook_refused = True
            raise Stop(refused, host="local", step="before_deploy", text=refused,
                       kind="cancelled" if self.cancel.is_set() else "failed")

    def connects_ahead(self) -> bool:
        # a before_deploy hook may be a whole test run, or refuse: no host is
        # contacted for a deploy it refuses (the hooks' contract, docs)
        return not self.project.hooks.of("before_deploy")

    def started_fields(self) -> dict:
        r = self.resolved
        return {"ref": r.ref if r else self.request.ref or "", "sha": r.sha if r else "",
                "release_id": self.release_id,
                # a catch-up leaves out the up-to-date hosts, which is not news
                "excluded": () if self.request.catch_up else tuple(self.excluded)}

    def record_fields(self) -> dict:
        r = self.resolved
        return {"ref": r.ref if r else self.request.ref or "", "sha": r.sha if r else "",
                "excluded": [] if self.request.catch_up else list(self.excluded)}

    def probe(self, host: str) -> str:
        return probe_command(self.contexts[host])

    def _guards(self) -> None:
        """Nothing to ship (refused unless --force); too much to ship (a warning)."""
        if self.request.catch_up is not None or self.resolved is None:
            return
        serving = serving_shas(self.project, self.names, self.scans, self.previous_head)
        if already_served(serving, self.resolved.sha):
            if self.request.if_changed:
                self.unchanged = True
                raise Stop("unchanged", kind="refused", text=unchanged_line(
                    self.project.name, self.environment.name, self.resolved.sha))
            self.forced.append("force")
        warning = commit_warning(self.project, self.resolved, serving)
        if warning:
            self.warnings.append(warning)
            self.sink(HostLine("local", f"warning: {warning}", "info"))

    def after_lock(self) -> None:
        probes, refused = read_probes(self.contexts, self.probed)
        self.previous_head = {n: p.head for n, p in probes.items()}
        self.scans = {n: p.scan for n, p in probes.items() if p.scan is not None}
        clashes = [n for n, exc in refused.items() if exc.step == "check release id"]
        renumber = self.request.release_id is None and self.request.catch_up is None
        if clashes and renumber and self._next_release_id(clashes):  # never a catch-up's id
            refused = {n: exc for n, exc in refused.items() if n not in clashes}
        for exc in refused.values():
            self.fail(exc.failure, "preflight")
        if refused:
            raise self.first_stop(list(refused))
        self._guards()
        if self.resolved is not None:  # the chat message lists what ships
            previous = serving_sha(self.scans.values(), self.previous_head.values())
            self.sink(shipping(self.resolved, previous, self.project.repo))

    def _next_release_id(self, clashes: list[str]) -> bool:
        """Take the next free release id (release_identity.py); False if there is none
        near enough to wait for."""
        fresh = next_release_id(self.release_id, self.scans.values())
        if fresh is None:
            return False
        old, self.release_id = self.release_id, fresh
        assert self.meta is not None
        self.meta = MetaWriter(replace(self.meta.meta, release_id=fresh), self.layouts)
        self.contexts = {n: replace(ctx, release_id=fresh) for n, ctx in self.contexts.items()}
        for name in clashes:
            self.sink(HostLine(host=name, stream="info", line=(
                f"release {old} already exists (a deploy in the same second);"
                f" this deploy is release {fresh}")))
        return True

    def release(self) -> None:
        if self.artifact is not None:
            self.artifact.discard()

    def failed_hosts(self) -> dict[str, str]:
        return {n: f"{r.step}: {r.error}" for n, r in self.reports.items() if r.error}

    def error_line(self) -> str:
        if self.stopped is not None:
            unreachable = [n for n in self.names if n in self.failures
                           and self.failures[n].kind == "unreachable"]
            # name the way on, only where it is one: not when no host would be left
            if unreachable and len(unreachable) < len(self.names) \
                    and self.request.catch_up is None:
                return f"{self.stopped}; {exclude_hint(unreachable)}"
            return str(self.stopped)
        return next((r.error for r in self.reports.values() if r.error), "")

    @property
    def outcome(self) -> Outcome:
        if self.unchanged:
            return "unchanged"
        if self.stopped is None and any(r.outcome == "failed" for r in self.reports.values()):
            return "failed"
        if self.revert is not None and self.revert.ok and super().outcome == "failed":
            return "rolled_back"
        return super().outcome

    # -- hooks ---------------------------------------------------------------------------
    def _hook_context(self) -> HookContext:
        r = self.resolved
        return HookContext(self.project.name, self.request.environment.name, self.release_id,
                           sha=r.sha if r else "", ref=r.ref if r else self.request.ref or "",
                           user=self.request.user)

    def _hook_dir(self):
        return self.config.path.parent if self.config.path is not None else None

    def after(self, result: OperationResult) -> None:
        """after_deploy / after_failure (+ after_rollback); a failing one only warns."""
        if self.hook_refused or result.outcome == "locked":
            return
        names = {"success": ["after_deploy"],
                 "rolled_back": ["after_failure", "after_rollback"]}
        for name in names.get(result.outcome, ["after_failure"]):
            error = run_hooks(self.project, name, self._hook_context(), sink=self.sink,
                              cwd=self._hook_dir(), outcome=result.outcome)
            if error is not None:
                result.warnings.append(self.redact(f"hook {error}"))

    def result(self) -> DeployResult:
        end = self.started + self.duration
        for name, report in self.reports.items():
            report.duration = end - self.host_started.get(name, end)
        if self.request.catch_up is None:
            for name in self.excluded:
                self.reports[name] = HostReport(name, "excluded")
        return DeployResult(release_id=self.release_id,
                            sha=self.resolved.sha if self.resolved else "", hosts=self.reports,
                            subject=self.resolved.subject if self.resolved else "")

    # -- phases --------------------------------------------------------------------
    def _meta_step(self, host: str, state: str) -> ScriptStep:
        assert self.meta is not None
        return ScriptStep("write metadata", self.meta.command(host, state, host_clock=True),
                          quiet=True, inline=True)

    def _prepare(self) -> None:
        if self.project.strategy == "artifact":
            assert self.resolved is not None  # begin() resolved the ref, or stopped
            try:
                self.artifact = build_artifact(self.project, self.resolved, dict(self.env),
                                               self.sink, self.cancel)
            except StepFailed as exc:
                for name in self.names:
                    self._fail(name, exc.step, exc.reason,
                               outcome="cancelled" if exc.cancelled else "skipped")
                raise Stop(exc.reason, host=exc.host, step=exc.step,
                           kind="cancelled" if exc.cancelled else "failed") from None
            except SourceError as exc:
                raise Stop(str(exc), host="local", step="build") from None
            for name, ctx in self.contexts.items():
                self.contexts[name] = HostContext(
                    ctx.project, ctx.host, ctx.layout, ctx.release_id, ctx.sha, ctx.repo_url,
                    artifact=self.artifact.path, artifact_sha256=self.artifact.sha256)
            if relays(self.project, self.hosts):
                self.fanout = Fanout(self.project, self.hosts, size=self.artifact.size,
                                     sha256=self.artifact.sha256, sink=self.sink,
                                     stall=self.config.ssh.connect_timeout)

        def prepare(host: Host, transport: Transport) -> None:
            self._run_steps(host.name, transport, "prepare",
                            strategies.prepare_steps(self.contexts[host.name]),
                            first=(self._meta_step(host.name, "preparing"),),
                            last=(self._meta_step(host.name, "ready"),))

        try:
            self.fail_all(self.pool.map(prepare, step="prepare"), "prepare")
        finally:
            fanout, self.fanout = self.fanout, None
            if fanout is not None:  # no server outlives the prepare phase
                fanout.close()
                self.sink(HostLine(host="local", line=fanout.summary(), stream="info"))

    def _barrier(self) -> None:
        if self.cancel.is_set():
            raise Stop("cancelled before the switch; nothing was switched", kind="cancelled")
        if self.failures:
            raise self.first_stop(list(self.failures))

    def _once(self) -> None:
        if self.meta is not None:  # recorded even if it fails: a migration may half-run
            self.meta.meta.once = [cmd for role in once_hosts(self.project, self.hosts)
                                   for cmd in self.project.roles[role].once]
        failed = run_once(self.pool, self.project, self.hosts, self.sink, self.cancel,
                          self._env_for).failed
        for failure in failed.values():
            self.record(failure)
        if failed:
            if self.project.strategy == "pull":
                self._move_back()
            raise Stop(str(next(iter(failed.values()))),
                       kind="cancelled" if self.cancel.is_set() else "failed")

    def _unlock_command(self, host: str) -> str:
        return release_command(self.layouts[host], self.lock)

    def _finish(self) -> None:
        assert self.meta is not None and self.resolved is not None
        r = self.resolved
        prunes: dict[str, HostPrune] = {}
        if self.project.strategy != "pull":
            prunes, skipped = plan_prunes(self.names, self.scans, self.release_id, r.sha,
                                          self.project.keep_releases)
            self.warnings += skipped
        meta = self.meta
        warnings, unlocked = finish_hosts(
            self.pool, [h for h in self.hosts if h.name not in self.lost], self.layouts,
            meta_command=lambda name: meta.command(name, "ok"),
            revisions_line=deploy_line(r.branch, r.sha, self.release_id, self.request.user),
            prunes=prunes, unlock_command=self._unlock_command, sink=self.sink,
            timeout=max(FINISH_TIMEOUT, self.project.timeout), record=self.record_command)
        self.warnings += warnings
        self.unlocked |= unlocked
        for _name, report in self.reports.items():
            if not report.error:
                report.outcome = "deployed"

    # -- cleanup -------------------------------------------------------------------
    def on_stop(self, stop: Stop) -> None:
        """Remove unfinished releases (metadata kept as failed) and release the locks on
        every live host, one command per host."""
        if self.unchanged:  # nothing was started: the skeleton releases the locks
            return
        if stop.failure.kind == "cancelled" or self.cancel.is_set():
            for report in self.reports.values():
                if report.outcome == "skipped":
                    report.outcome = "cancelled"
        for name in self.names:
            if name in self.lost and name in self.created:
                self.warnings.append(f"{name}: cleanup skipped (host not answering); release"
                                     f" {self.release_id} may be left unfinished there")
        if not self.held:
            return
        live = [h for h in self.hosts if h.name in self.live()]
        meta = self.meta
        marked = {h.name for h in live if meta is not None
                  and (h.name in self.created or self.project.strategy == "pull")}
        warnings, unlocked = cleanup_hosts(
            self.pool, live, self.layouts, self.release_id,
            remove=self.created - self.serving_new(),
            meta_command=(lambda name: meta.command(name, "failed")) if meta else None,
            marked=marked, unlock_command=self._unlock_command,
            timeout=max(FINISH_TIMEOUT, self.project.timeout), record=self.record_command)
        self.warnings += warnings
        self.unlocked |= unlocked
