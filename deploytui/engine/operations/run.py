"""`run`: one shell command on some hosts of an environment, in the release they serve.

What an operator does after a deploy (`manage.py showmigrations` on the once-host,
`uptime` everywhere), with what a deploy's steps have: the project's `env:` (secrets
resolved on this machine, sent on stdin, redacted from every line), the same
connections (jump hosts, strict host keys), the same bounded fan-out and events, so
the CLI printer, the journal and the console's log panels show it like a deploy.

It takes no lock: it is read-mostly, and during an incident an operator must not wait
behind a stuck deploy; a command that changes servers is the operator's to choose
(named commands can ask first: `confirm: true`). A host that cannot be reached fails
alone; the others still run. A host where nothing is deployed yet is not run on
(`nothing deployed yet`), and when no chosen host has a release the run is refused.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field, replace
from typing import ClassVar

from deploytui.config.model import Config, Environment, Host, NamedCommand, Project
from deploytui.engine.events import Sink, discard
from deploytui.engine.failure import Refused
from deploytui.engine.hosts.pool import TransportFactory, transport_factory
from deploytui.engine.hosts.transport import Transport
from deploytui.engine.operations.health import serving_dir
from deploytui.engine.operations.lifecycle import Failure, Lifecycle, Phase, Stop
from deploytui.engine.operations.request import resolve_env
from deploytui.engine.operations.result import OperationResult, Outcome
from deploytui.engine.operations.roles import once_host, role_hosts
from deploytui.engine.remote.layout import Layout
from deploytui.engine.remote.lock import local_user
from deploytui.engine.remote.steps import StepFailed, in_dir, run_step
from deploytui.engine.shell import q

NOTHING_DEPLOYED = "nothing deployed yet"
PHASE = "run"
STEP = "command"  # the step's name in events: "FAILED in run at command: ..."


class RunRefused(Refused):
    """The hosts asked for do not exist or do not fit together; str() is one line."""


@dataclass(frozen=True)
class RunRequest:
    project: Project
    environment: Environment
    command: str  # shell text, run in the serving directory
    hosts: tuple[str, ...] = ()  # the hosts chosen (in the environment's order)
    name: str = ""  # the named command it came from, if any
    user: str = field(default_factory=local_user)

    verb: ClassVar[str] = "run"
    notifies: ClassVar[bool] = False  # takes no lock, changes no release: no webhook

    @property
    def target(self) -> tuple[str, str]:
        return self.project.name, self.environment.name

    @property
    def label(self) -> str:
        """What ran, in one line: the command, or `NAME: command`."""
        return f"{self.name}: {self.command}" if self.name else self.command


@dataclass
class HostRun:
    host: str
    exit_code: int | None = None  # None: the command did not run or did not end there
    error: str = ""  # why it did not run or did not end: unreachable, nothing deployed...
    duration: float = 0.0

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    def describe(self) -> str:
        """`exit 3`, or why the command did not run (`unreachable: ...`)."""
        return f"exit {self.exit_code}" if self.exit_code is not None else self.error


@dataclass(kw_only=True)
class RunResult(OperationResult):
    """A run's result: the common part, and each host's exit code. `error` is the one
    line when the run as a whole stopped (nothing deployed yet); `refused`: nothing ran
    anywhere, by design (nothing deployed, no host chosen)."""

    command: str = ""
    hosts: dict[str, HostRun] = field(default_factory=dict)  # the chosen ones, in order

    @property
    def failed(self) -> dict[str, HostRun]:
        return {n: r for n, r in self.hosts.items() if not r.ok}


def choose_hosts(project: Project, environment: Environment, *, hosts: tuple[str, ...] = (),
                 role: str | None = None, once: bool = False) -> list[Host]:
    """The hosts a run goes to: every host, the named ones, a role's, or the once-host
    (as a deploy picks it for `once` steps); RunRefused names what does not fit."""
    every = list(environment.hosts)
    where = f"{project.name}/{environment.name}"
    unknown = [h for h in hosts if h not in {x.name for x in every}]
    if unknown:
        raise RunRefused(f"no host '{unknown[0]}' in {where} (hosts: "
                         f"{', '.join(h.name for h in every)})")
    if role is not None and role not in project.roles:
        raise RunRefused(f"no role '{role}' in project {project.name} (roles: "
                         f"{', '.join(project.roles) or 'none'})")
    if once:
        if hosts:
            raise RunRefused("--once picks the host itself: give --once or --host, not both")
        host = once_host(project, every, role)
        if host is None:
            raise RunRefused(f"no host of role '{role}' in {where}")
        return [host]
    chosen = [h for h in every if not hosts or h.name in hosts]
    if role is not None:
        chosen = role_hosts(project, chosen, role)
        if not chosen:
            among = f" among {', '.join(hosts)}" if hosts else ""
            raise RunRefused(f"no host of role '{role}'{among} in {where}")
    return chosen


def named_command(project: Project, name: str) -> NamedCommand:
    if name not in project.commands:
        known = ", ".join(project.commands) or "none defined"
        raise RunRefused(f"no command named '{name}' in project {project.name} (commands: "
                         f"{known}); to run a program, put it after --: "
                         f"-- {name} ...")
    return project.commands[name]


def named_hosts(project: Project, environment: Environment, command: NamedCommand
                ) -> list[Host]:
    """Where a named command runs by default: its `on` (all, once, or a role)."""
    if command.on == "all":
        return choose_hosts(project, environment)
    if command.on == "once":
        return choose_hosts(project, environment, once=True)
    return choose_hosts(project, environment, role=command.on)


def run_command(config: Config, request: RunRequest, *, sink: Sink = discard,
                cancel: threading.Event | None = None, resolver=None,
                factory: TransportFactory | None = None) -> RunResult:
    """Run request.command on request.hosts (all of the environment when empty), in
    parallel; never raises for a host's failure."""
    if resolver is None:
        from deploytui.config.secrets import resolver_for

        resolver = resolver_for(config)
    run = _Run(config, request, sink=sink, cancel=cancel, resolver=resolver,
               factory=factory or transport_factory(config, resolver=resolver))
    return run.execute()


def deployed_check(project: Project, host: Host) -> str:
    """Exit 0 when the host serves a release: `current` (a pull: its working copy)."""
    layout = Layout(project.host_deploy_to(host))
    if project.strategy == "pull":
        return f"test -d {q(layout.deploy_to + '/.git')}"
    return f"test -d {q(layout.current)}"


def host_env(base: dict[str, str], project: Project, environment: Environment, host: Host
             ) -> dict[str, str]:
    """The project's env plus where the command runs (`run` and `ssh` alike)."""
    return {**base, "DEPLOYTUI_HOST": host.name, "DEPLOYTUI_ENV": environment.name,
            "DEPLOYTUI_DEPLOY_TO": Layout(project.host_deploy_to(host)).deploy_to,
            "DEPLOYTUI_RELEASE_PATH": serving_dir(project, host)}


class _Run(Lifecycle):
    operation = "run"
    every_host = False

    def __init__(self, config: Config, request: RunRequest, *, sink: Sink,
                 cancel: threading.Event | None, resolver, factory: TransportFactory) -> None:
        env = request.environment
        chosen = [h for h in env.hosts if not request.hosts or h.name in request.hosts]
        super().__init__(config, request.project, replace(env, hosts=tuple(chosen)),
                         sink=sink, factory=factory, user=request.user, resolver=resolver,
                         cancel=cancel, take_lock=False, lock_ref=request.label)
        self.request = request
        self.env: dict[str, str] = {}
        self.ready: list[Host] = []  # reachable, with a release
        self.runs = {h.name: HostRun(h.name) for h in chosen}

    def check(self) -> None:
        if not self.request.command.strip():
            raise Stop("nothing to run: the command is empty", kind="refused")

    def begin(self) -> None:
        try:
            self.env = resolve_env(self.project, self.resolver)
        except Exception as exc:
            raise Stop(f"secrets: {exc}") from None

    def started_fields(self) -> dict[str, object]:
        return {"ref": self.redact(self.request.label)}  # a secret typed into it, too

    def after_lock(self) -> None:
        """Which reachable host serves a release: the others are not run on."""
        live = [h for h in self.hosts if h.name in self.live()]
        if not live:
            raise self.first_stop(self.names)
        checked = self.pool.map(
            lambda h, t: t.run(deployed_check(self.project, h), capture=True), live,
            step="current")
        for host in live:
            outcome = checked[host.name]
            if outcome.error is not None:
                self.fail(outcome.failure or Failure(host.name, "current", "no answer"),
                          "preflight")
            elif outcome.value is not None and outcome.value.ok:
                self.ready.append(host)
            else:
                self.fail(Failure(host.name, "current", NOTHING_DEPLOYED, "refused"),
                          "preflight")
        if not self.ready:
            empty = [n for n, f in self.failures.items() if f.reason == NOTHING_DEPLOYED]
            if len(empty) == len(self.names):
                where = f"{self.project.name}/{self.environment.name}"
                raise Stop(NOTHING_DEPLOYED, kind="refused",
                           text=f"{where}: {NOTHING_DEPLOYED} (deploy first: deploytui "
                                f"deploy {self.project.name} {self.environment.name})")
            raise self.first_stop(self.names)

    def phases(self) -> list[Phase]:
        return [Phase(PHASE, self._run, tuple(h.name for h in self.ready))]

    def _env_for(self, host: Host) -> dict[str, str]:
        return host_env(self.env, self.project, self.environment, host)

    def _run(self) -> bool:
        def one(host: Host, transport: Transport) -> int:
            started = time.monotonic()
            try:
                result = run_step(transport, PHASE, STEP,
                                  in_dir(serving_dir(self.project, host), self.request.command),
                                  sink=self.sink, cancel=self.cancel,
                                  timeout=self.project.timeout, env=self._env_for(host))
            except StepFailed as exc:
                self.runs[host.name].exit_code = exc.exit_code
                raise
            finally:
                self.runs[host.name].duration = time.monotonic() - started
            self.runs[host.name].exit_code = result.exit_code
            return result.exit_code

        outcomes = self.pool.map(one, self.ready, step=STEP)
        self.fail_all(outcomes, PHASE)
        return not outcomes.failed

    def result(self) -> RunResult:
        for name, failure in self.failures.items():
            run = self.runs.get(name)
            if run is not None and run.exit_code is None:
                run.error = self.redact(f"{failure.step}: {failure.reason}"
                                        if failure.step not in ("", STEP) else failure.reason)
        if self.stopped is not None and not self.failures:
            for run in self.runs.values():
                run.error = run.error or self.redact(self.stopped.failure.reason)
        return RunResult(command=self.request.command, hosts=self.runs)

    def error_line(self) -> str:
        """Only a stop of the whole run: a host's own failure is its exit code."""
        return str(self.stopped) if self.stopped is not None else ""

    @property
    def outcome(self) -> Outcome:
        """No lock is taken: a run is done, failed or cancelled."""
        if self.cancel.is_set():
            return "cancelled"
        outcome = super().outcome
        return "failed" if outcome == "locked" else outcome
