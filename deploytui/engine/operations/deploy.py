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
from deploytui.engine.operations.exclusion import ExcludeRefused, exclude_hint
from deploytui.engine.operations.finish import finish_hosts, plan_prunes
from deploytui.engine.operations.preflight import probe_command, read_probes
from deploytui.engine.operations.prune import HostPrune
from deploytui.engine.operations.request import (
    DeployRequest,
    DeployResult,
    HostReport,
    host_env,
    resolve_env,
)
from deploytui.engine.operations.roles import run_once, run_restarts
from deploytui.engine.operations.source import (
    Artifact,
    Resolved,
    SourceError,
    build_artifact,
    resolve,
)
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
    try:
        request.hosts  # noqa: B018 - a bad --exclude is refused before anything runs
    except ExcludeRefused as exc:
        return DeployResult(outcome="failed", release_id=request.release_id or "", sha="",
                            hosts={}, error=str(exc))
    run = _Deploy(config, request, redacting_sink(sink, resolver), cancel or threading.Event(),
                  resolver, factory or transport_factory(config))
    return run.execute()


class _Deploy:
    def __init__(self, config: Config, request: DeployRequest, sink: Sink,
                 cancel: threading.Event, resolver, factory: TransportFactory) -> None:
        self.config, self.request, self.sink, self.cancel = config, request, sink, cancel
        self.resolver, self.factory = resolver, factory
        self.project = request.project
        self.hosts: list[Host] = request.hosts  # without the hosts left out (--exclude)
        self.names = [h.name for h in self.hosts]
        self.excluded = [h.name for h in request.environment.hosts if h not in self.hosts]
        self.operation = request.operation
        again = request.catch_up
        self.release_id = (again.release_id if again else request.release_id) or release_id_now()
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

    # -- the run -------------------------------------------------------------------
    def execute(self) -> DeployResult:
        outcome, error = "success", ""
        try:
            self._resolve()
            self._phase("preflight", self._preflight)
            self._phase("prepare", self._prepare)
            self._phase("barrier", self._barrier)
            once = self.request.catch_up is None  # a catch-up: the fleet ran them already
            if self.project.strategy == "pull":
                self._phase("switch", self._activate_pull)
                if once:
                    self._phase("once", self._once)
            else:
                if once:
                    self._phase("once", self._once)
                self._phase("switch", self._switch)
            self._phase("restart", self._restart)  # failures are recorded, never raised
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
        if outcome == "success" and any(r.outcome == "failed" for r in self.reports.values()):
            outcome = "failed"
            error = error or next(r.error for r in self.reports.values() if r.error)
        if self.request.catch_up is None:
            for name in self.excluded:
                self.reports[name] = HostReport(name, "excluded")
        return self._result(outcome, error)

    def _phase(self, name: str, fn) -> None:
        self.sink(PhaseStarted(phase=name, hosts=tuple(self.names)))
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
        self.sink(DeployFinished(operation=self.operation,  # type: ignore[arg-type]
                                 duration=now - self.started,
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
        again = self.request.catch_up
        try:
            self.resolved = resolve(self.project, self.request.environment,
                                    (again.ref or None) if again else self.request.ref,
                                    sha=again.sha if again else self.request.sha)
        except SourceError as exc:
            self.sink(DeployStarted(operation=self.operation,  # type: ignore[arg-type]
                                    project=self.project.name,
                                    environment=self.request.environment.name,
                                    hosts=tuple(self.names), user=self.request.user,
                                    strategy=self.project.strategy,
                                    ref=self.request.ref or "", release_id=self.release_id,
                                    excluded=self._announced_excluded()))
            raise _Abort("failed", f"resolve: {exc}") from None
        r = self.resolved
        self.lock.ref = r.ref
        self.meta = MetaWriter(self._release_meta(r), self.layouts)
        if self.request.catch_up is not None:
            for name in self.names:
                self.meta.history[name] = [f"catch-up at {_iso()} by {self.request.user}"]
        for h in self.hosts:
            self.contexts[h.name] = HostContext(self.project, h, self.layouts[h.name],
                                                self.release_id, r.sha, r.repo_url)
        self.sink(DeployStarted(operation=self.operation,  # type: ignore[arg-type]
                                project=self.project.name,
                                environment=self.request.environment.name,
                                hosts=tuple(self.names), user=self.request.user,
                                strategy=self.project.strategy, ref=r.ref, sha=r.sha,
                                release_id=self.release_id,
                                excluded=self._announced_excluded()))

    def _announced_excluded(self) -> tuple[str, ...]:
        """A deploy names the hosts it leaves out; a catch-up leaves out the up-to-date
        hosts, which are not news."""
        return () if self.request.catch_up else tuple(self.excluded)

    def _release_meta(self, r: Resolved) -> ReleaseMeta:
        """What every host records about this release: a catch-up carries the fleet's
        record (who deployed it, when, who was left out) and adds that it caught up."""
        again = self.request.catch_up
        if again is None:
            return ReleaseMeta(self.release_id, "preparing", sha=r.sha, subject=r.subject,
                               ref=r.ref, deployed_at=_iso(), deployed_by=self.request.user,
                               excluded=list(self.excluded))
        return ReleaseMeta(self.release_id, "preparing", sha=r.sha,
                           subject=again.subject or r.subject, ref=again.ref or r.ref,
                           deployed_at=again.deployed_at or _iso(),
                           deployed_by=again.deployed_by or self.request.user,
                           excluded=list(again.excluded))

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
            hint = "" if self.request.catch_up else f"; {exclude_hint(list(failed))}"
            raise _Abort("failed", self._first_error(list(failed)) + hint)
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
        errors = run_once(self.pool, self.project, self.hosts, self.sink, self.cancel,
                          self._env_for)
        for host, err in errors.items():
            self._fail(host, "once", err.removeprefix(f"{host}: "))
        if errors:
            if self.project.strategy == "pull":
                self._move_back()
            raise _Abort("cancelled" if self.cancel.is_set() else "failed",
                         next(iter(errors.values())))

    def _switch(self) -> None:
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
        raise _Abort("failed", f"{first[0]}: switch: {first[1]}; "
                               f"{len(result.switched_back)} host(s) switched back")

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
            self.pool, live, self.layouts, self.release_id, remove=self.created,
            meta_command=(lambda name: meta.command(name, "failed")) if meta else None,
            marked=marked, unlock_command=self._unlock_command,
            timeout=max(FINISH_TIMEOUT, self.project.timeout))
        self.warnings += warnings
        self.unlocked |= unlocked
