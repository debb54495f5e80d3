"""The deploy orchestrator: preflight → prepare → barrier → once → switch → restart → finish.

All-or-nothing: no host changes what it serves until every host has prepared; a
failed switch puts the hosts already switched back; a failed or cancelled deploy
removes its unfinished release directories, so nothing half-built is ever a rollback
target. Its metadata file is KEPT with state `failed`, so `releases` can show failed
deploys (the directory is gone, the record is not). The lock is released in every case.
"""

from __future__ import annotations

import threading
import time

from deploytui.config.model import Config, Host
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
from deploytui.engine.operations import strategies
from deploytui.engine.operations.cleanup import cleanup_hosts, move_back
from deploytui.engine.operations.finish import finish_hosts, plan_prunes
from deploytui.engine.operations.health import check_hosts
from deploytui.engine.operations.hooks import HookContext, run_hooks
from deploytui.engine.operations.preflight import probe_command, read_probes
from deploytui.engine.operations.prune import HostPrune
from deploytui.engine.operations.request import (
    DeployRequest,
    DeployResult,
    HostReport,
    host_env,
    resolve_env,
)
from deploytui.engine.operations.roles import once_hosts, run_once, run_restarts
from deploytui.engine.operations.source import (
    Artifact,
    Resolved,
    SourceError,
    build_artifact,
    resolve,
)
from deploytui.engine.operations.staged import Revert, StagedSwitch
from deploytui.engine.operations.strategies import HostContext
from deploytui.engine.redact import redact, redacting_sink
from deploytui.engine.remote.layout import Layout, ReleaseMeta, release_id_now
from deploytui.engine.remote.lock import (
    Locked,
    LockInfo,
    release_command,
    release_locks,
    take_locks,
)
from deploytui.engine.remote.release_meta import MetaWriter
from deploytui.engine.remote.revisions import deploy_line
from deploytui.engine.remote.scan import HostScan
from deploytui.engine.remote.script import ScriptStep, run_steps
from deploytui.engine.remote.steps import Step, StepFailed
from deploytui.engine.remote.switch import switch_all

FINISH_TIMEOUT = 30.0  # bookkeeping; the prune deletions get the project's step timeout


class _Abort(Exception):
    def __init__(self, outcome: str, error: str) -> None:
        super().__init__(error)
        self.outcome = outcome
        self.error = error


def _iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _default_resolver():
    from deploytui.config.secrets import SecretResolver

    return SecretResolver()


def run_deploy(config: Config, request: DeployRequest, *, sink: Sink = discard,
               cancel: threading.Event | None = None, resolver=None,
               factory: TransportFactory | None = None) -> DeployResult:
    """Deploy request.project to request.environment; never raises for a deploy failure."""
    resolver = resolver or _default_resolver()
    run = _Deploy(config, request, redacting_sink(sink, resolver), cancel or threading.Event(),
                  resolver, factory or transport_factory(config))
    result = run.execute()
    run.after_hooks(result)
    return result


class _Deploy:
    def __init__(self, config: Config, request: DeployRequest, sink: Sink,
                 cancel: threading.Event, resolver, factory: TransportFactory) -> None:
        self.config, self.request, self.sink, self.cancel = config, request, sink, cancel
        self.resolver, self.factory = resolver, factory
        self.project = request.project
        self.hosts: list[Host] = list(request.environment.hosts)
        self.names = [h.name for h in self.hosts]
        self.release_id = request.release_id or release_id_now()
        self.reports = {n: HostReport(n) for n in self.names}
        self.started = time.monotonic()
        self.host_started: dict[str, float] = {}
        self.layouts = {h.name: Layout(self.project.host_deploy_to(h)) for h in self.hosts}
        self.pool = HostPool(self.hosts, factory, max_parallel=config.ssh.max_parallel)
        self.lock = LockInfo(user=request.user, project=self.project.name,
                             environment=request.environment.name, ref="")
        self.locked = False
        self.lost: set[str] = set()  # hosts that stopped answering
        self.created: set[str] = set()  # hosts where our release dir exists
        self.previous_head: dict[str, str | None] = {}
        self.moved: set[str] = set()
        self.resolved: Resolved | None = None
        self.artifact: Artifact | None = None
        self.contexts: dict[str, HostContext] = {}
        self.env: dict[str, str] = {}
        self.warnings: list[str] = []
        self.meta: MetaWriter | None = None
        self.scans: dict[str, HostScan] = {}  # release listings taken under the lock
        self.unlocked: set[str] = set()  # hosts whose lock a finish/cleanup released
        self.staged: StagedSwitch | None = None
        self.revert: Revert | None = None  # the automatic rollback, when one ran
        self.hook_refused = False  # before_deploy said no: no after_* hooks either

    # -- the run -------------------------------------------------------------------
    def execute(self) -> DeployResult:
        outcome, error = "success", ""
        try:
            self._resolve()
            self._phase("preflight", self._preflight)
            self._phase("prepare", self._prepare)
            self._phase("barrier", self._barrier)
            if self.project.strategy == "pull":
                self._phase("switch", self._activate_pull)
                self._phase("once", self._once)
                self._phase("restart", self._restart)  # failures are recorded, never raised
                if self._proving():
                    self._phase("verify", self._verify_pull)
            else:
                self._phase("once", self._once)
                self._stages()
            self._phase("finish", self._finish)
        except _Abort as abort:
            outcome, error = abort.outcome, abort.error
            if outcome != "locked":
                self._cleanup(outcome)
        except Exception as exc:  # a bug must still release locks and report one line
            outcome, error = "failed", f"internal error: {type(exc).__name__}: {exc}"
            self._cleanup("failed")
        finally:
            if self.locked:
                still = {n: lay for n, lay in self._live_layouts().items()
                         if n not in self.unlocked}
                for _host, err in release_locks(self.pool, still, self.lock).items():
                    self.warnings.append(f"lock not released: {err}")
            self.pool.close()
            if self.artifact is not None:
                self.artifact.discard()
        if self.revert is not None and self.revert.ok and outcome == "failed":
            outcome = "rolled_back"
        if outcome == "success" and any(r.outcome == "failed" for r in self.reports.values()):
            outcome = "failed"
            error = error or next(r.error for r in self.reports.values() if r.error)
        return self._result(outcome, error)

    def _phase(self, name: str, fn, hosts: tuple[str, ...] | None = None) -> None:
        self.sink(PhaseStarted(phase=name, hosts=hosts or tuple(self.names)))
        try:
            fn()
        except _Abort:
            self.sink(PhaseFinished(phase=name, ok=False))
            raise
        self.sink(PhaseFinished(phase=name, ok=True))

    def _result(self, outcome: str, error: str) -> DeployResult:
        now = time.monotonic()
        error = self._redact(error)
        self.warnings = [self._redact(w) for w in self.warnings]
        for name, report in self.reports.items():
            report.duration = now - self.host_started.get(name, now)
        failed = {n: f"{r.step}: {r.error}" for n, r in self.reports.items() if r.error}
        self.sink(DeployFinished(operation="deploy", duration=now - self.started,
                                 outcome="failed" if outcome == "locked" else outcome,
                                 release_id=self.release_id, failed_hosts=failed, error=error))
        return DeployResult(outcome=outcome, release_id=self.release_id,
                            sha=self.resolved.sha if self.resolved else "", hosts=self.reports,
                            error=error, duration=now - self.started,
                            subject=self.resolved.subject if self.resolved else "",
                            warnings=self.warnings)

    def _fail(self, host: str, step: str, error: str, *, outcome: str = "failed") -> None:
        report = self.reports[host]
        report.outcome, report.step, report.error = outcome, step, self._redact(error)

    def _redact(self, text: str) -> str:
        """Results reach terminals and screens too, not only through the sink."""
        return redact(text, self.resolver.known_values())

    def _fail_from(self, outcomes: dict, phase: str) -> list[str]:
        """Record each host's failure; returns the failed hosts."""
        failed = []
        for name, outcome in outcomes.items():
            if outcome.error is None:
                continue
            err = outcome.error
            if isinstance(err, StepFailed):
                if err.lost:
                    self.lost.add(name)
                self._fail(name, err.step, err.reason,
                           outcome="cancelled" if err.cancelled else "failed")
            else:
                text = str(err).removeprefix(f"{name}: ")
                self._fail(name, phase, text)
                self.sink(HostFailed(host=name, phase=phase, step=phase, reason=text))
            failed.append(name)
        return failed

    def _first_error(self, failed: list[str]) -> str:
        for name in self.names:
            if name in failed:
                r = self.reports[name]
                return f"{name}: {r.step}: {r.error}"
        return "failed"

    # -- phases --------------------------------------------------------------------
    def _resolve(self) -> None:
        try:
            self.env = resolve_env(self.project, self.resolver)
        except Exception as exc:
            raise _Abort("failed", f"secrets: {exc}") from None
        try:
            self.resolved = resolve(self.project, self.request.environment, self.request.ref,
                                    sha=self.request.sha)
        except SourceError as exc:
            self.sink(DeployStarted(operation="deploy", project=self.project.name,
                                    environment=self.request.environment.name,
                                    hosts=tuple(self.names), user=self.request.user,
                                    strategy=self.project.strategy,
                                    ref=self.request.ref or "", release_id=self.release_id))
            raise _Abort("failed", f"resolve: {exc}") from None
        r = self.resolved
        self.lock.ref = r.ref
        self.meta = MetaWriter(ReleaseMeta(self.release_id, "preparing", sha=r.sha,
                                           subject=r.subject, ref=r.ref, deployed_at=_iso(),
                                           deployed_by=self.request.user), self.layouts)
        for h in self.hosts:
            self.contexts[h.name] = HostContext(self.project, h, self.layouts[h.name],
                                                self.release_id, r.sha, r.repo_url)
        self.sink(DeployStarted(operation="deploy", project=self.project.name,
                                environment=self.request.environment.name,
                                hosts=tuple(self.names), user=self.request.user,
                                strategy=self.project.strategy, ref=r.ref, sha=r.sha,
                                release_id=self.release_id))
        refused = run_hooks(self.project, "before_deploy", self._hook_context(),
                            sink=self.sink, cwd=self._hook_dir(), cancel=self.cancel)
        if refused is not None:
            self.hook_refused = True
            raise _Abort("cancelled" if self.cancel.is_set() else "failed", refused)

    def _env_for(self, host: str) -> dict[str, str]:
        return host_env(self.env, self.contexts[host], self.request.environment.name)

    def _live_layouts(self) -> dict[str, Layout]:
        return {n: lay for n, lay in self.layouts.items() if n not in self.lost}

    def _preflight(self) -> None:
        for name in self.names:
            self.host_started[name] = time.monotonic()
        failed = self.pool.connect()
        for name, err in failed.items():
            self._fail(name, "connect", err.message)
            self.sink(HostFailed(host=name, phase="preflight", step="connect", reason=err.message))
        if failed:
            raise _Abort("failed", self._first_error(list(failed)))
        try:
            taken = take_locks(self.pool, self.layouts, self.lock,
                               break_lock=self.request.break_lock,
                               probe=lambda name: probe_command(self.contexts[name]))
        except Locked as exc:
            self._fail(exc.host, "lock", f"locked by {exc.holder.describe()}")
            raise _Abort("locked", str(exc)) from None
        except TransportError as exc:
            self._fail(exc.host, "lock", exc.message)
            raise _Abort("failed", f"{exc.host}: lock: {exc.message}") from None
        self.locked = True
        for name, holder in taken.broken.items():
            note = f"broke the lock held by {holder.describe()}"
            self.warnings.append(f"{name}: {note}")
            self.sink(HostLine(host=name, line=note, stream="info"))
        probes, refused = read_probes(self.contexts, taken.probed)
        self.previous_head = {n: p.head for n, p in probes.items()}
        self.scans = {n: p.scan for n, p in probes.items() if p.scan is not None}
        for name, exc in refused.items():
            self._fail(name, exc.step, exc.reason)
            self.sink(HostFailed(host=name, phase="preflight", step=exc.step, reason=exc.reason))
        if refused:
            raise _Abort("failed", self._first_error(list(refused)))

    def _meta_step(self, host: str, state: str) -> ScriptStep:
        assert self.meta is not None
        return ScriptStep("write metadata", self.meta.command(host, state, host_clock=True),
                          quiet=True)

    def _run_steps(self, host: str, transport: Transport, phase: str, steps: list[Step], *,
                   first: tuple[ScriptStep, ...] = (), last: tuple[ScriptStep, ...] = ()
                   ) -> None:
        def done(step: ScriptStep) -> None:
            if step.name == "create release":
                self.created.add(host)

        run_steps(transport, phase, steps, sink=self.sink, cancel=self.cancel,
                  timeout=self.project.timeout, env=self._env_for(host), first=first,
                  last=last, on_done=done)

    def _prepare(self) -> None:
        if self.project.strategy == "artifact":
            try:
                self.artifact = build_artifact(self.project, self.resolved, dict(self.env),
                                               self.sink, self.cancel)
            except StepFailed as exc:
                for name in self.names:
                    self._fail(name, exc.step, exc.reason,
                               outcome="cancelled" if exc.cancelled else "skipped")
                raise _Abort("cancelled" if exc.cancelled else "failed", str(exc)) from None
            except SourceError as exc:
                raise _Abort("failed", f"local: build: {exc}") from None
            for name, ctx in self.contexts.items():
                self.contexts[name] = HostContext(
                    ctx.project, ctx.host, ctx.layout, ctx.release_id, ctx.sha, ctx.repo_url,
                    artifact=self.artifact.path, artifact_sha256=self.artifact.sha256)

        def prepare(host: Host, transport: Transport) -> None:
            self._run_steps(host.name, transport, "prepare",
                            strategies.prepare_steps(self.contexts[host.name]),
                            first=(self._meta_step(host.name, "preparing"),),
                            last=(self._meta_step(host.name, "ready"),))

        self._fail_from(self.pool.map(prepare), "prepare")

    def _barrier(self) -> None:
        failed = [n for n, r in self.reports.items() if r.error]
        if self.cancel.is_set():
            raise _Abort("cancelled", "cancelled before the switch; nothing was switched")
        if failed:
            raise _Abort("failed", self._first_error(failed))

    def _once(self) -> None:
        if self.meta is not None:  # recorded even if it fails: a migration may half-run
            self.meta.meta.once = [cmd for role in once_hosts(self.project, self.hosts)
                                   for cmd in self.project.roles[role].once]
        errors = run_once(self.pool, self.project, self.hosts, self.sink, self.cancel,
                          self._env_for)
        for host, err in errors.items():
            self._fail(host, "once", err.removeprefix(f"{host}: "))
        if errors:
            if self.project.strategy == "pull":
                self._move_back()
            raise _Abort("cancelled" if self.cancel.is_set() else "failed",
                         next(iter(errors.values())))

    # -- hooks ---------------------------------------------------------------------
    def _hook_context(self) -> HookContext:
        r = self.resolved
        return HookContext(self.project.name, self.request.environment.name, self.release_id,
                           sha=r.sha if r else "", ref=r.ref if r else self.request.ref or "",
                           user=self.request.user)

    def _hook_dir(self):
        return self.config.path.parent if self.config.path is not None else None

    def after_hooks(self, result: DeployResult) -> None:
        """after_deploy / after_failure / after_rollback; a failing one only warns."""
        if self.hook_refused or result.outcome == "locked":
            return
        names = {"success": ["after_deploy"], "rolled_back": ["after_failure",
                                                              "after_rollback"]}
        for name in names.get(result.outcome, ["after_failure"]):
            error = run_hooks(self.project, name, self._hook_context(), sink=self.sink,
                              cwd=self._hook_dir(), outcome=result.outcome)
            if error is not None:
                result.warnings.append(self._redact(f"hook {error}"))

    # -- switch, restart, verify: stage by stage --------------------------------------
    def _proving(self) -> bool:
        """Health checks or a staged rollout: a failed restart or check is undone."""
        return bool(self.request.environment.rollout) or any(
            role.health for h in self.hosts for role in self.project.roles_of(h))

    def _release_env(self, host: str, release_id: str) -> dict[str, str]:
        """The restart environment of another release (the one gone back to)."""
        ctx = self.contexts[host]
        scan = self.scans.get(host)
        entry = scan.entries.get(release_id) if scan else None
        sha = (entry.meta.sha if entry and entry.meta else "") or (entry.revision if entry
                                                                   else "")
        other = HostContext(ctx.project, ctx.host, ctx.layout, release_id, sha, ctx.repo_url)
        return host_env(self.env, other, self.request.environment.name)

    def _stages(self) -> None:
        staged = self.staged = StagedSwitch(
            self.pool, self.project, self.request.environment, self.layouts, self.release_id,
            sink=self.sink, cancel=self.cancel, env_for=self._env_for,
            env_for_release=self._release_env, hosts=self.hosts)
        for index, stage in enumerate(staged.stages):
            def switch(stage=stage, index=index) -> None:
                if not staged.wait_pause(index):
                    self._undo("cancelled between stages", cancelled=True)
                self._switch(stage)

            self._phase(staged.phase_name("switch", stage), switch, stage.hosts)
            self._phase(staged.phase_name("restart", stage),
                        lambda stage=stage: self._restart_stage(stage), stage.hosts)
            if staged.checks:
                self._phase(staged.phase_name("verify", stage),
                            lambda stage=stage: self._verify_stage(stage), stage.hosts)

    def _restart_stage(self, stage) -> None:
        assert self.staged is not None
        errors = self.staged.restart(stage, phase=self.staged.phase_name("restart", stage))
        for host, err in errors.items():
            self._fail(host, "restart", err.removeprefix(f"{host}: "))
        if errors and self._proving():
            first = next(n for n in self.names if n in errors)
            self._undo(errors[first])

    def _verify_stage(self, stage) -> None:
        assert self.staged is not None
        bad = self.staged.verify(stage)
        if not bad:
            return
        for result in bad:
            if not self.reports[result.host].error:
                self._fail(result.host, f"health {result.role}",
                           f"{result.check} -> {result.saw}")
        first = bad[0]
        self._undo(f"{first.host}: health {first.role}: {first.check} -> {first.saw}")

    def _undo(self, error: str, *, cancelled: bool = False) -> None:
        """Stop the rollout; with on_unhealthy: rollback, send every switched host back."""
        assert self.staged is not None
        keep = self.project.on_unhealthy_in(self.request.environment) == "keep"
        if keep and not cancelled:
            raise _Abort("failed", f"{error}; kept (on_unhealthy: keep): "
                                   f"{len(self.staged.switched)} host(s) serve "
                                   f"{self.release_id}")
        if not self.staged.switched:
            raise _Abort("cancelled" if cancelled else "failed", error)
        self.sink(PhaseStarted(phase="rollback", hosts=tuple(self.staged.switched)))
        revert = self.revert = self.staged.revert()
        self.sink(PhaseFinished(phase="rollback", ok=revert.ok))
        for name in revert.back:
            if not self.reports[name].error:
                self._fail(name, "rollback", "rolled back", outcome="rolled back")
        for name, why in revert.failed.items():
            self.warnings.append(f"{name}: rollback: {why}")
        if revert.ok:
            raise _Abort("cancelled" if cancelled else "failed",
                         f"{error}; rolled back: {len(revert.back)} host(s) serve their "
                         "previous release again")
        raise _Abort("failed", f"{error}; the way back failed too: {revert.describe()}")

    def _serving_new(self) -> set[str]:
        """Hosts whose `current` still points at this release (kept, or not got back)."""
        if self.staged is None:
            return set()
        if self.revert is None:
            return set(self.staged.switched)
        return {n for n, rel in self.revert.serving.items() if rel == self.release_id}

    def _verify_pull(self) -> None:
        results = check_hosts(self.pool, self.project, self.hosts,
                              cwd_for=lambda h: self.layouts[h.name].deploy_to,
                              env_for=lambda h: self._env_for(h.name), sink=self.sink,
                              cancel=self.cancel)
        bad = [r for h in self.hosts for r in results.get(h.name, []) if not r.healthy]
        if not bad:
            return
        for result in bad:
            self._fail(result.host, f"health {result.role}", f"{result.check} -> {result.saw}")
        first = bad[0]
        error = f"{first.host}: health {first.role}: {first.check} -> {first.saw}"
        if self.project.on_unhealthy_in(self.request.environment) == "keep":
            raise _Abort("failed", f"{error}; kept (on_unhealthy: keep)")
        self._move_back(exclude=[r.host for r in bad])
        errors = run_restarts(self.pool, self.project, self.hosts, self.sink, None,
                              self._env_for, phase="rollback")
        self.revert = Revert(back=[n for n in self.names if n not in errors],
                             failed={n: f"restart: {e}" for n, e in errors.items()})
        raise _Abort("failed", f"{error}; rolled back to the previous commit")

    def _switch(self, stage=None) -> None:
        if self.staged is not None and stage is not None:
            result = self.staged.switch(stage)
        else:
            targets = {n: (self.layouts[n], self.release_id) for n in self.names}
            result = switch_all(self.pool, targets, self.sink, self.cancel)
        if result.ok:
            return
        for name, reason in result.failed.items():
            self._fail(name, "switch", reason)
            if "connection lost" in reason or "stopped answering" in reason:
                self.lost.add(name)
        for name in result.switched_back:
            self._fail(name, "switch", "switched back", outcome="switched back")
        for name, reason in result.switch_back_failed.items():
            self._fail(name, "switch back", reason)
        first = next(iter(result.failed.items()))
        error = (f"{first[0]}: switch: {first[1]}; "
                 f"{len(result.switched_back)} host(s) switched back")
        if self.staged is not None and self.staged.switched:
            self._undo(error)  # earlier stages go back too
        raise _Abort("failed", error)

    def _activate_pull(self) -> None:
        def activate(host: Host, transport: Transport) -> None:
            self.moved.add(host.name)
            self._run_steps(host.name, transport, "switch",
                            strategies.activate_steps(self.contexts[host.name]))

        failed = self._fail_from(self.pool.map(activate), "switch")
        if failed:
            self._move_back(exclude=failed)
            raise _Abort("failed", self._first_error(failed))

    def _move_back(self, exclude: list[str] = ()) -> None:
        """pull: check the previous commit out again on every host that moved."""
        targets = [h for h in self.hosts if h.name in self.moved and h.name not in self.lost]
        errors = move_back(self.pool, targets, self.contexts, self.previous_head, self.sink,
                           self.project.timeout)
        for name, error in errors.items():
            if error is None and name not in exclude:
                self._fail(name, "switch", "switched back", outcome="switched back")
            elif error is not None:
                self.warnings.append(f"{name}: switch back failed: {error}")

    def _restart(self) -> None:
        errors = run_restarts(self.pool, self.project, self.hosts, self.sink, None,
                              self._env_for)
        for host, err in errors.items():
            self._fail(host, "restart", err.removeprefix(f"{host}: "))

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
            timeout=max(FINISH_TIMEOUT, self.project.timeout))
        self.warnings += warnings
        self.unlocked |= unlocked
        for _name, report in self.reports.items():
            if not report.error:
                report.outcome = "deployed"

    # -- cleanup -------------------------------------------------------------------
    def _cleanup(self, outcome: str) -> None:
        """Remove unfinished releases (metadata kept as failed) and release the locks on
        every live host, one command per host."""
        if outcome == "cancelled":
            for report in self.reports.values():
                if report.outcome == "skipped":
                    report.outcome = "cancelled"
        for name in self.lost & self.created:
            self.warnings.append(f"{name}: cleanup skipped (host not answering); release"
                                 f" {self.release_id} may be left unfinished there")
        if not self.locked:
            return
        live = [h for h in self.hosts if h.name not in self.lost
                and h.name in self.pool.transports]
        meta = self.meta
        marked = {h.name for h in live if meta is not None
                  and (h.name in self.created or self.project.strategy == "pull")}
        warnings, unlocked = cleanup_hosts(
            self.pool, live, self.layouts, self.release_id,
            remove=self.created - self._serving_new(),
            meta_command=(lambda name: meta.command(name, "failed")) if meta else None,
            marked=marked, unlock_command=self._unlock_command,
            timeout=max(FINISH_TIMEOUT, self.project.timeout))
        self.warnings += warnings
        self.unlocked |= unlocked
