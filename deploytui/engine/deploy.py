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
from dataclasses import dataclass, field

from deploytui.config.model import Config, Environment, Host, Project
from deploytui.engine import strategies
from deploytui.engine.events import (
    DeployFinished,
    DeployStarted,
    HostFailed,
    HostLine,
    HostStepDone,
    HostStepStarted,
    PhaseFinished,
    PhaseStarted,
    Sink,
    discard,
)
from deploytui.engine.hostpool import HostPool, TransportFactory, transport_factory
from deploytui.engine.layout import Layout, ReleaseMeta, release_id_now, write_meta_command
from deploytui.engine.lock import Locked, LockInfo, acquire_locks, local_user, release_locks
from deploytui.engine.prune import prune_hosts
from deploytui.engine.redact import redact, redacting_sink
from deploytui.engine.revisions import append_revisions, deploy_line
from deploytui.engine.roles import StepFailed, run_once, run_restarts, run_step
from deploytui.engine.safety import delete_release_command, q
from deploytui.engine.source import Artifact, Resolved, SourceError, build_artifact, resolve
from deploytui.engine.strategies import HostContext, Step
from deploytui.engine.strategies.pull import head_command, move_step
from deploytui.engine.switch import switch_all
from deploytui.engine.transport import Transport, TransportError

META_TIMEOUT = 30.0


@dataclass
class DeployRequest:
    project: Project
    environment: Environment
    ref: str | None = None
    break_lock: bool = False
    user: str = field(default_factory=local_user)
    release_id: str | None = None  # tests may pin it; normally made once per deploy


@dataclass
class HostReport:
    host: str
    outcome: str = "skipped"  # deployed | failed | cancelled | switched back | skipped
    duration: float = 0.0
    step: str = ""
    error: str = ""


@dataclass
class DeployResult:
    outcome: str  # success | failed | cancelled | locked
    release_id: str
    sha: str
    hosts: dict[str, HostReport]
    error: str = ""
    duration: float = 0.0
    subject: str = ""
    warnings: list[str] = field(default_factory=list)  # cleanup/prune problems, broken locks


class _Abort(Exception):
    def __init__(self, outcome: str, error: str) -> None:
        super().__init__(error)
        self.outcome = outcome
        self.error = error


def _iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def resolve_env(project: Project, resolver) -> dict[str, str]:
    """The project's `env:` and sudo password as plain strings (secrets resolved)."""
    env = {key: resolver.resolve(value) if not isinstance(value, str) else value
           for key, value in project.env.items()}
    if project.sudo_password is not None:
        pw = project.sudo_password
        pw = pw if isinstance(pw, str) else resolver.resolve(pw)
        if hasattr(resolver, "remember"):
            resolver.remember(pw)
        env["DEPLOYTUI_SUDO_PASSWORD"] = pw
    return env


def host_env(base: dict[str, str], ctx: HostContext, environment: str) -> dict[str, str]:
    return {**base, "DEPLOYTUI_RELEASE": ctx.release_id,
            "DEPLOYTUI_RELEASE_PATH": ctx.release_path,
            "DEPLOYTUI_DEPLOY_TO": ctx.layout.deploy_to, "DEPLOYTUI_HOST": ctx.host.name,
            "DEPLOYTUI_SHA": ctx.sha, "DEPLOYTUI_ENV": environment}


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
    return run.execute()


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
        self.meta: ReleaseMeta | None = None
        self.history: dict[str, list[str]] = {}  # host -> metadata state transitions

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
            else:
                self._phase("once", self._once)
                self._phase("switch", self._switch)
            self._phase("restart", self._restart, fatal=False)
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
                for _host, err in release_locks(self.pool, self._live_layouts(), self.lock).items():
                    self.warnings.append(f"lock not released: {err}")
            self.pool.close()
            if self.artifact is not None:
                self.artifact.discard()
        if outcome == "success" and any(r.outcome == "failed" for r in self.reports.values()):
            outcome = "failed"
            error = error or next(r.error for r in self.reports.values() if r.error)
        return self._result(outcome, error)

    def _phase(self, name: str, fn, *, fatal: bool = True) -> None:
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
            self.resolved = resolve(self.project, self.request.environment, self.request.ref)
        except SourceError as exc:
            self.sink(DeployStarted(operation="deploy", project=self.project.name,
                                    environment=self.request.environment.name,
                                    hosts=tuple(self.names), user=self.request.user,
                                    strategy=self.project.strategy,
                                    ref=self.request.ref or "", release_id=self.release_id))
            raise _Abort("failed", f"resolve: {exc}") from None
        r = self.resolved
        self.lock.ref = r.ref
        self.meta = ReleaseMeta(self.release_id, "preparing", sha=r.sha, subject=r.subject,
                                ref=r.ref, deployed_at=_iso(), deployed_by=self.request.user)
        for h in self.hosts:
            self.contexts[h.name] = HostContext(self.project, h, self.layouts[h.name],
                                                self.release_id, r.sha, r.repo_url)
        self.sink(DeployStarted(operation="deploy", project=self.project.name,
                                environment=self.request.environment.name,
                                hosts=tuple(self.names), user=self.request.user,
                                strategy=self.project.strategy, ref=r.ref, sha=r.sha,
                                release_id=self.release_id))

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
            broken = acquire_locks(self.pool, self.layouts, self.lock,
                                   break_lock=self.request.break_lock)
        except Locked as exc:
            self._fail(exc.host, "lock", f"locked by {exc.holder.describe()}")
            raise _Abort("locked", str(exc)) from None
        except TransportError as exc:
            self._fail(exc.host, "lock", exc.message)
            raise _Abort("failed", f"{exc.host}: lock: {exc.message}") from None
        self.locked = True
        for name, holder in broken.items():
            note = f"broke the lock held by {holder.describe()}"
            self.warnings.append(f"{name}: {note}")
            self.sink(HostLine(host=name, line=note, stream="info"))
        outcomes = self.pool.map(self._check_host)
        failed_hosts = self._fail_from(outcomes, "preflight")
        if failed_hosts:
            raise _Abort("failed", self._first_error(failed_hosts))

    def _check_host(self, host: Host, transport: Transport) -> None:
        lay = self.layouts[host.name]
        cmd = (f"df -Pk {q(lay.deploy_to)} | awk 'NR==2 {{print \"FREE:\" $4}}'; "
               f"if [ -e {q(lay.release(self.release_id))} ]; then echo CLASH; fi")
        if self.project.strategy == "pull":
            cmd += f"; echo HEAD:$({head_command(self.contexts[host.name])})"
        res = run_step(transport, "preflight", "check disk", cmd, sink=discard,
                       timeout=self.project.timeout)
        lines = res.stdout.splitlines()
        free = next((ln[5:] for ln in lines if ln.startswith("FREE:")), "")
        if free.isdigit() and int(free) < self.project.min_free_mb * 1024:
            raise StepFailed(host.name, "check disk", f"only {int(free) // 1024} MB free on"
                             f" {lay.deploy_to} (min_free_mb {self.project.min_free_mb})")
        if "CLASH" in lines:
            raise StepFailed(host.name, "check release id",
                             f"release {self.release_id} already exists")
        head = next((ln[5:] for ln in lines if ln.startswith("HEAD:")), "")
        self.previous_head[host.name] = head or None

    def _write_meta(self, transport: Transport, host: str, state: str) -> None:
        assert self.meta is not None
        history = self.history.setdefault(host, [])
        history.append(f"{state} at {_iso()}")
        meta = ReleaseMeta(**{**self.meta.__dict__, "state": state, "history": list(history)})
        res = transport.run(write_meta_command(self.layouts[host], meta), timeout=META_TIMEOUT)
        if not res.ok:
            raise StepFailed(host, "write metadata", res.last_line())

    def _run_steps(self, host: str, transport: Transport, phase: str, steps: list[Step]) -> None:
        env = self._env_for(host)
        for step in steps:
            if step.upload is not None:
                self.sink(HostStepStarted(host=host, phase=phase, step=step.name))
                began = time.monotonic()
                try:
                    transport.upload(step.upload, step.remote, cancel=self.cancel)
                except TransportError as exc:
                    self.sink(HostFailed(host=host, phase=phase, step=step.name,
                                         reason=exc.message))
                    raise StepFailed(host, step.name, exc.message,
                                     cancelled=self.cancel.is_set()) from None
                self.sink(HostStepDone(host=host, phase=phase, step=step.name,
                                       duration=time.monotonic() - began))
                continue
            run_step(transport, phase, step.name, step.command, sink=self.sink,
                     cancel=self.cancel, timeout=self.project.timeout, env=env)
            if step.name == "create release":
                self.created.add(host)

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
            self._write_meta(transport, host.name, "preparing")
            self._run_steps(host.name, transport, "prepare",
                            strategies.prepare_steps(self.contexts[host.name]))
            self._write_meta(transport, host.name, "ready")

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
        def back(host: Host, transport: Transport) -> None:
            prev = self.previous_head.get(host.name)
            if prev:
                step = move_step(self.contexts[host.name], prev)
                run_step(transport, "switch", "switch back", step.command, sink=self.sink,
                         timeout=self.project.timeout)
        targets = [h for h in self.hosts if h.name in self.moved and h.name not in self.lost]
        outcomes = self.pool.map(back, targets)
        for name, outcome in outcomes.items():
            if outcome.error is None and name not in exclude:
                self._fail(name, "switch", "switched back", outcome="switched back")
            elif outcome.error is not None:
                self.warnings.append(f"{name}: switch back failed: {outcome.error}")

    def _restart(self) -> None:
        errors = run_restarts(self.pool, self.project, self.hosts, self.sink, None,
                              self._env_for)
        for host, err in errors.items():
            self._fail(host, "restart", err.removeprefix(f"{host}: "))

    def _finish(self) -> None:
        def finish(host: Host, transport: Transport) -> None:
            self._write_meta(transport, host.name, "ok")

        for _name, outcome in self.pool.map(finish).items():
            if outcome.error is not None:
                self.warnings.append(str(outcome.error))
        r = self.resolved
        line = deploy_line(r.branch, r.sha, self.release_id, self.request.user)
        for err in append_revisions(self.pool, self.layouts, line).values():
            self.warnings.append(err)
        for _name, report in self.reports.items():
            if not report.error:
                report.outcome = "deployed"
        if self.project.strategy != "pull":
            self._prune()

    def _prune(self) -> None:
        try:
            result = prune_hosts(self.pool, self.project, self.hosts,
                                 keep=self.project.keep_releases, sink=self.sink,
                                 protect={self.release_id})
        except Exception as exc:  # a failed prune never fails a deploy that is live
            self.warnings.append(f"prune: {exc}")
            return
        for host, error in result.errors.items():
            self.warnings.append(f"{host}: prune: {error}")

    # -- cleanup -------------------------------------------------------------------
    def _cleanup(self, outcome: str) -> None:
        """Remove unfinished releases (metadata kept as failed) on every live host."""
        if outcome == "cancelled":
            for report in self.reports.values():
                if report.outcome == "skipped":
                    report.outcome = "cancelled"
        for name in self.lost & self.created:
            self.warnings.append(f"{name}: cleanup skipped (host not answering); release"
                                 f" {self.release_id} may be left unfinished there")
        hosts = [h for h in self.hosts if h.name not in self.lost and h.name in self.pool.transports
                 and (h.name in self.created or self.project.strategy == "pull")]
        if self.meta is None or not hosts:
            return

        def clean(host: Host, transport: Transport) -> None:
            if host.name in self.created:
                lay = self.layouts[host.name]
                path = q(lay.release(self.release_id))
                cmd = (f"if [ -e {path} ] || [ -L {path} ]; then "
                       f"{delete_release_command(lay.deploy_to, self.release_id)}; fi")
                res = transport.run(cmd, timeout=self.project.timeout, capture=True)
                if not res.ok:
                    raise StepFailed(host.name, "remove unfinished release", res.last_line())
            self._write_meta(transport, host.name, "failed")

        for _name, outcome in self.pool.map(clean, hosts).items():
            if outcome.error is not None:
                self.warnings.append(f"cleanup: {outcome.error}")
