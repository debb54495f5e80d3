"""The one life cycle of every operation that changes servers: deploy, rollback, prune.

    check → begin (local work, e.g. resolving the commit, while every host's
          connection is already being made) → started event → lock (each host locked
          as soon as it is connected, all in one round) → phases → [on a Stop: on_stop]
          → unlock (in every case) → finished event → result

Capistrano's named-phase list (tasks/framework.rake) is the model. An operation is a
subclass of `Lifecycle`; the skeleton owns the events, the pool, the lock and the
outcome, the subclass owns only its work:

Declaring phases
    `operation` names it ("deploy" | "rollback" | "prune"); `phases()` returns the
    `Phase(name, run)` list that follows the built-in "preflight". The skeleton sends
    PhaseStarted / PhaseFinished around each; a phase sends them itself only for a
    phase it opens inside its own (verify's "rollback" of an unhealthy rollout). A phase
    reports "done but not ok" by returning False (prune with a failed deletion). To add
    a phase (health check after restart, a staged switch, a catch-up), put it in the
    list: nothing else changes.

Reporting
    `self.fail(failure, phase)` records one host's Failure (failure.py: host, step,
    reason, kind) and sends HostFailed; `self.record(failure)` records one already
    announced (a step's own HostFailed). `self.fail_all(pool_result, phase)` does that
    for every failed host of a `HostPool.map` and returns their names. A host whose
    failure is of kind "lost" is added to `self.lost` (no more commands go there).

Aborting
    `raise Stop(reason, host=..., step=..., kind=...)` from a hook or phase: the one
    early exit. The skeleton records it, sends PhaseFinished(ok=False), calls
    `on_stop(stop)` (a deploy's cleanup), unlocks, and reports the Stop as the error.
    Any other exception becomes a Stop("internal error: ...") the same way.

Locks
    Taken in the preflight on every host or none, in one round (remote/lock.take_locks:
    in order, the first host before the others, only when two operations meet; a host
    that cannot be connected stops the run, the locks taken meanwhile released), with
    `probe(host)` run in the same command once the lock is ours (its output is in
    `self.probed` when `after_lock()` runs). `wait_lock` seconds: wait for a live lock
    to be released, telling who holds it; a stale lock (this machine, process gone) is
    never waited for. A phase whose last command also releases the lock (finish,
    cleanup) adds the host to `self.unlocked`; every other locked, answering host is
    unlocked by the skeleton in `finally`; a lock that could not be released is a
    warning naming the command that clears it.

The fleet's record (remote/fleet_log.py)
    Every host reached gets one JSON line for the operation, written by the command
    that releases its lock (a phase's last command, or the skeleton's unlock): no
    extra round. `record_fields()` adds ref, sha, excluded; `forced` the overrides.

Freezes (freeze.py)
    A configured window is checked with `check()` (refused: nothing sent); the ad-hoc
    freeze is read in the lock command. `refuses_in_freeze` operations (deploy,
    catch-up) stop unless `force_freeze`; the others run and note the freeze.

The result (result.py)
    `result()` (required) builds the operation's own result object with its own facts
    (the release, the target, the deletions); the skeleton fills the common part:
    outcome, error line, failed hosts, warnings, duration, id, overrides, freeze,
    refused. `after(result)` is the last step (a deploy's after_* hooks): it runs once
    the locks are released and the finished event is sent, and may add warnings.

Other hooks, all optional: `check()` before anything (a Stop there sends no event at
all: the request was refused), `begin()` before the started event, `started_fields()`
the DeployStarted extras, `release()` local resources, `error_line()`,
`failed_hosts()` and `usage_error()` for the finished event and the result.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from deploytui.config.model import Config, Environment, Project
from deploytui.engine.clock import utc_iso
from deploytui.engine.events import (
    DeployFinished,
    DeployStarted,
    HostFailed,
    HostLine,
    OperationName,
    PhaseFinished,
    PhaseStarted,
    Sink,
)
from deploytui.engine.failure import Failure, Stop
from deploytui.engine.hosts.pool import HostPool, PoolResult, TransportFactory, failure_of
from deploytui.engine.hosts.transport import TransportError
from deploytui.engine.operations.freeze import (
    Frozen,
    adhoc_frozen,
    configured_freeze,
    refusal,
)
from deploytui.engine.operations.health import HealthResult, unhealthy_failures
from deploytui.engine.operations.result import OperationResult, Outcome
from deploytui.engine.redact import redact, redacting_sink
from deploytui.engine.remote import fleet_log
from deploytui.engine.remote.fleet_log import FleetRecord, ci_actor, new_operation_id
from deploytui.engine.remote.freeze import read_text as freeze_probe
from deploytui.engine.remote.freeze import split_output
from deploytui.engine.remote.layout import Layout
from deploytui.engine.remote.lock import (
    LOCK_POLL,
    Locked,
    LockInfo,
    NotConnected,
    lock_problem,
    release_locks,
    take_locks,
    unlock_remedy,
)
from deploytui.engine.remote.steps import StepFailed

__all__ = ["Failure", "Lifecycle", "Phase", "Stop"]


@dataclass(frozen=True)
class Phase:
    name: str
    run: Callable[[], bool | None]  # False: finished, but not ok
    hosts: tuple[str, ...] = ()  # the hosts it works on (a rollout stage); () = all


class Lifecycle:
    """One run of an operation; `execute()` once. See the module docstring."""

    operation: ClassVar[OperationName]
    # False (only without the lock: `run`): a host that cannot be connected fails alone
    every_host: ClassVar[bool] = True
    refuses_in_freeze: ClassVar[bool] = False  # deploy, catch-up: refused unless forced

    def __init__(self, config: Config, project: Project, environment: Environment, *,
                 sink: Sink, factory: TransportFactory, user: str, resolver: Any,
                 cancel: threading.Event | None = None, lock_ref: str = "",
                 take_lock: bool = True, break_lock: bool = False,
                 wait_lock: float = 0.0) -> None:
        self.config, self.project, self.environment = config, project, environment
        self.resolver = resolver
        self.sink = redacting_sink(sink, resolver)
        self.cancel = cancel or threading.Event()
        self.user = user
        self.hosts = list(environment.hosts)
        self.names = [h.name for h in self.hosts]
        self.layouts = {h.name: Layout(project.host_deploy_to(h)) for h in self.hosts}
        self.pool = HostPool(self.hosts, factory, max_parallel=config.ssh.max_parallel)
        self.lock = LockInfo(user=user, project=project.name, environment=environment.name,
                             ref=lock_ref, operation=self.operation)
        self.take_lock, self.break_lock, self.wait_lock = take_lock, break_lock, wait_lock
        self.release_id = ""
        self.probed: dict[str, str] = {}  # host -> the probe's output, taken under the lock
        self.held: set[str] = set()  # hosts whose lock is (or may be) ours
        self.unlocked: set[str] = set()  # hosts whose lock a phase's last command released
        self.lost: set[str] = set()  # hosts that stopped answering
        self.failures: dict[str, Failure] = {}  # host -> what went wrong there
        self.warnings: list[str] = []
        self.stopped: Stop | None = None
        self.started = time.monotonic()
        self.started_at = time.time()
        self.host_started: dict[str, float] = {}
        self.duration = 0.0
        self.op_id = new_operation_id(self.started_at)
        self.record_name: str = self.operation  # the fleet record's operation ("delete")
        self.force_freeze = False
        self.forced: list[str] = []  # overrides that took effect: break-lock, force-freeze
        self.frozen: Frozen | None = None  # the freeze in force while it ran
        self.note = ""  # one more fact for the record (whose lock was broken)
        self.record_failed: set[str] = set()  # hosts whose record could not be appended

    # -- hooks (override as needed) ------------------------------------------------
    def check(self) -> None:
        """Refuse the request before anything is sent or connected (raise Stop)."""

    def begin(self) -> None:
        """Local work before the started event (resolve a ref); a Stop ends the run."""

    def connects_ahead(self) -> bool:
        """Whether the hosts' connections start before `begin()` (connecting changes
        nothing on a host; a Stop in begin closes them unused)."""
        return True

    def started_fields(self) -> dict[str, Any]:
        """Extra DeployStarted fields: ref, sha, release_id."""
        return {}

    def probe(self, host: str) -> str | None:
        """Shell text to run in the lock command once the lock is ours, or None."""
        return None

    def after_lock(self) -> None:
        """Read `self.probed`; still part of the preflight."""

    def phases(self) -> list[Phase]:
        return []

    def on_stop(self, stop: Stop) -> None:
        """Undo what a stopped run left behind; locks are released afterwards."""

    def release(self) -> None:
        """Free local resources (a built artifact)."""

    def error_line(self) -> str:
        if self.stopped is not None:
            return str(self.stopped)
        first = next((self.failures[n] for n in self.names if n in self.failures), None)
        return str(first) if first else ""

    def failed_hosts(self) -> dict[str, str]:
        """host -> "step: reason" for the finished event."""
        return {n: f"{f.step}: {f.reason}" for n, f in self.failures.items()}

    def usage_error(self) -> bool:
        """Was the request refused because it is wrong in itself (the CLI's exit 2)?"""
        return False

    def result(self) -> OperationResult:
        """The operation's own result; the skeleton fills the common part."""
        raise NotImplementedError

    def after(self, result: OperationResult) -> None:
        """The last step, after the unlock and the finished event (after_* hooks)."""

    def record_fields(self) -> dict[str, Any]:
        """The fleet record's ref, sha, excluded (default: what the lock says)."""
        return {"ref": self.lock.ref}

    # -- the fleet's record ---------------------------------------------------------------
    def fleet_record(self) -> FleetRecord:
        """This operation as every host it reached records it, as it stands now (the
        record is written by the last command, once the outcome is known)."""
        fields = self.record_fields()
        return FleetRecord(
            id=self.op_id, operation=self.record_name, project=self.project.name,
            environment=self.environment.name, user=self.user, actor=ci_actor(),
            started=utc_iso(self.started_at), outcome=self.outcome,
            duration=time.monotonic() - self.started, release=self.release_id,
            forced=list(dict.fromkeys(self.forced)),
            freeze=self.frozen.describe() if self.frozen else "", note=self.note,
            error=self.redact(self.error_line()) if self.outcome != "success" else "",
            **fields)

    def record_command(self, host: str) -> str:
        """Shell text appending the record on `host` (inline: it never exits)."""
        return fleet_log.append_command(self.layouts[host], self.fleet_record())

    def _freeze(self, frozen: Frozen | None, host: str = "") -> None:
        """A freeze found in force: remembered for the record; a Stop for an operation
        that a freeze refuses, unless forced."""
        if frozen is None or self.frozen is not None:
            return
        self.frozen = frozen
        if not self.refuses_in_freeze:
            return
        if self.force_freeze:
            self.forced.append("force-freeze")
            return
        text = refusal(self.project.name, self.environment.name, frozen)
        raise Stop(frozen.reason, host=host, step="freeze", kind="refused", text=text)

    # -- what a phase uses --------------------------------------------------------------
    def record(self, failure: Failure) -> None:
        self.failures[failure.host] = failure
        if failure.kind == "lost":
            self.lost.add(failure.host)

    def fail(self, failure: Failure, phase: str) -> None:
        self.record(failure)
        self.sink(HostFailed(host=failure.host, phase=phase, step=failure.step,
                             reason=failure.reason))

    def fail_unhealthy(self, bad: list[HealthResult]) -> str:
        """Record every unhealthy host not failed already (phase verify); the one line
        naming the first, for the operation's error."""
        failures, error = unhealthy_failures(bad)
        for failure in failures:
            if failure.host not in self.failures:
                self.fail(failure, "verify")
        return error

    def fail_all(self, outcomes: PoolResult, phase: str) -> list[str]:
        """Record every failed host of a pool.map (announcing those no step announced)."""
        for name, failure in outcomes.failed.items():
            if isinstance(outcomes[name].error, StepFailed):
                self.record(failure)  # run_step sent its HostFailed already
            else:
                self.fail(failure, phase)
        return [n for n in self.names if n in outcomes.failed]

    def first_stop(self, names: list[str], kind: str | None = None) -> Stop:
        """A Stop for the first of `names` (configured order) that failed."""
        first = next(self.failures[n] for n in self.names if n in names and n in self.failures)
        return Stop(first.reason, host=first.host, step=first.step,
                    kind=kind or first.kind)  # type: ignore[arg-type]

    def live(self, names: list[str] | None = None) -> list[str]:
        """Hosts still answering (configured order)."""
        return [n for n in (names or self.names) if n not in self.lost
                and n in self.pool.transports]

    def redact(self, text: str) -> str:
        """Results reach terminals and screens too, not only through the sink."""
        return redact(text, self.resolver.known_values())

    @property
    def outcome(self) -> Outcome:
        """success | failed | cancelled | locked (an operation may say more)."""
        if self.stopped is not None:
            kind = self.stopped.failure.kind
            if kind == "cancelled" or self.cancel.is_set():
                return "cancelled"
            return "locked" if kind == "locked" else "failed"
        return "failed" if self.failures else "success"

    # -- the life cycle -----------------------------------------------------------------
    def execute(self) -> Any:
        try:
            self.check()
            self._freeze(configured_freeze(self.environment))
        except Stop as stop:  # refused: nothing sent, nothing connected
            self.stopped = stop
            return self._filled(self.result())
        try:
            if self.connects_ahead():
                self.pool.connect_ahead()
            self.begin()
        except Stop as stop:
            self.stopped = stop
        self.sink(DeployStarted(operation=self.operation, project=self.project.name,
                                environment=self.environment.name, hosts=tuple(self.names),
                                user=self.user, strategy=self.project.strategy,
                                op_id=self.op_id, **self.started_fields()))
        try:
            if self.stopped is not None:
                raise self.stopped
            self._phase(Phase("preflight", self._preflight))
            for phase in self.phases():
                self._phase(phase)
        except Stop as stop:
            self._stopped(stop)
        except Exception as exc:  # a bug must still release the locks and say one line
            self._stopped(Stop(f"internal error: {type(exc).__name__}: {exc}"))
        finally:
            try:
                self._unlock()
            finally:
                self.pool.close()
                self.release()
        self.duration = time.monotonic() - self.started
        self.warnings = [self.redact(w) for w in self.warnings]
        self.sink(DeployFinished(
            operation=self.operation, duration=self.duration, release_id=self.release_id,
            outcome="failed" if self.outcome == "locked" else self.outcome,
            failed_hosts=self.failed_hosts(),
            error=self.redact(self.error_line()), forced=tuple(dict.fromkeys(self.forced)),
            freeze=self.frozen.describe() if self.frozen else ""))
        result = self._filled(self.result())
        self.after(result)
        return result

    def _filled(self, result: OperationResult) -> OperationResult:
        """The common part of every result, worded once (and redacted) for all."""
        result.outcome = self.outcome
        result.error = self.redact(self.error_line())
        result.duration = self.duration
        result.failed_hosts = {h: self.redact(why) for h, why in self.failed_hosts().items()}
        result.warnings = [self.redact(w) for w in self.warnings]
        result.op_id = self.op_id
        result.forced = list(dict.fromkeys(self.forced))
        result.freeze = self.frozen.describe() if self.frozen else ""
        result.refused = self.stopped is not None and self.stopped.failure.kind == "refused"
        result.usage_error = result.refused and self.usage_error()
        return result

    def _phase(self, phase: Phase) -> None:
        self.sink(PhaseStarted(phase=phase.name, hosts=phase.hosts or tuple(self.names)))
        try:
            ok = phase.run()
        except Stop:
            self.sink(PhaseFinished(phase=phase.name, ok=False))
            raise
        self.sink(PhaseFinished(phase=phase.name, ok=ok is not False))

    def _stopped(self, stop: Stop) -> None:
        self.stopped = stop
        if stop.failure.host and stop.failure.host not in self.failures:
            self.record(stop.failure)
        self.on_stop(stop)

    def _preflight(self) -> None:
        now = time.monotonic()
        self.host_started = {name: now for name in self.names}
        if self.take_lock:
            self._take_locks()  # connects each host, and locks it as soon as it can
        elif self.every_host:
            self._not_connected(self.pool.connect())
        else:  # the hosts that answer go on; the others are failures of their own
            failed = self.pool.connect()
            for name in self.names:
                if name in failed:
                    self.fail(failure_of(name, failed[name], "connect"), "preflight")
        self.after_lock()

    def _not_connected(self, failed: Mapping[str, TransportError]) -> None:
        for name in self.names:
            if name in failed:
                self.fail(failure_of(name, failed[name], "connect"), "preflight")
        if failed:
            raise self.first_stop(list(failed))

    def _take_locks(self) -> None:
        deadline = time.monotonic() + self.wait_lock
        waiting_for: LockInfo | None = None
        def probe(name: str) -> str:  # the ad-hoc freeze is read in the same command
            return f"{freeze_probe(self.layouts[name])}\n{self.probe(name) or ''}"

        while True:
            try:
                taken = take_locks(self.pool, self.layouts, self.lock, break_lock=self.break_lock,
                                   probe=probe, connect=True)
                break
            except NotConnected as exc:
                self._not_connected(exc.failed)
            except Locked as exc:
                remaining = deadline - time.monotonic()
                if exc.holder.stale() or remaining <= 0:
                    why = lock_problem(exc, self.project.name, self.environment.name,
                                       waited=self.wait_lock)
                    self.record(Failure(exc.host, "lock", why, "locked"))
                    raise Stop.of(self.failures[exc.host], f"{exc.host}: {why}") from None
                if waiting_for is None or waiting_for.token != exc.holder.token:
                    waiting_for = exc.holder
                    self.sink(HostLine(host=exc.host, stream="info", line=(
                        f"waiting up to {remaining:.0f}s for the lock held by "
                        f"{exc.holder.describe()}")))
                if self.cancel.wait(min(LOCK_POLL, remaining)):
                    raise Stop("cancelled while waiting for the lock", host=exc.host,
                               step="lock", kind="cancelled") from None
            except TransportError as exc:
                raise Stop.of(failure_of(exc.host, exc, "lock")) from None
        self.held = set(self.layouts)
        for name, holder in taken.broken.items():
            note = f"broke the lock held by {holder.describe()}"
            self.warnings.append(f"{name}: {note}")
            self.sink(HostLine(host=name, line=note, stream="info"))
            self.forced.append("break-lock")
            self.note = self.note or note
        for name in self.names:  # configured order: the refusal names the first host
            found, self.probed[name] = split_output(taken.probed.get(name, ""))
            frozen = adhoc_frozen(found)
            if frozen is not None:
                self._freeze(frozen, host=name)
                self.sink(HostLine(host=name, stream="info", line=(
                    f"frozen: {frozen.describe()}; going on"
                    + (" (--force-freeze)" if self.refuses_in_freeze else ""))))

    def _unlock(self) -> None:
        remedy = unlock_remedy(self.project.name, self.environment.name)
        for name in self.names:
            if name in self.held and name in self.lost and name not in self.unlocked:
                self.warnings.append(f"{name}: lock left in place (host not answering); "
                                     f"{remedy}")
        still = {n: self.layouts[n] for n in self.names
                 if n in self.held and n not in self.unlocked and n not in self.lost}
        if not still:
            return
        errors = release_locks(self.pool, still, self.lock, before=self.record_command,
                               before_failed=self.record_failed)
        for _host, err in errors.items():
            self.warnings.append(f"lock not released: {err}; {remedy}")
        for name in self.names:
            if name in self.record_failed:
                self.warnings.append(f"{name}: fleet record: could not append")
