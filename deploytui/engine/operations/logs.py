"""`deploytui logs`: the last lines of each chosen host's logs, then (follow) new ones.

Reading logs changes nothing, so no lock is taken, and a running deploy does not stop
anyone from watching it. Each host is one thread of the operation's HostPool (the
fan-out every operation uses) running one script (remote/logs.py) through its
transport, so the output path is the deploy's: lines in batches as a read delivers
them (HostLines), to a sink, in the same `[host] line` words.

Following survives the host: a connection that drops (or a host that stops answering,
which liveness notices) is said once (`lost connection; retrying`), retried with a
growing pause, and said once more when it is back; the backlog that a reconnect
prints again is cut after the last line already shown, so a blip shows no line twice
(for files; a logs_command is run again as it started). A cancel terminates the
script's whole process group on every host: nothing is left running there.
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from deploytui.config.model import Config, Environment, Host, Project
from deploytui.engine.events import HostLines, LogFollow, Sink
from deploytui.engine.hosts.pool import HostPool, TransportFactory, failure_of, transport_factory
from deploytui.engine.hosts.transport import (
    AuthFailed,
    Cancelled,
    HostKeyChanged,
    HostKeyRevoked,
    HostKeyUnknown,
    Stream,
    Transport,
    TransportError,
)
from deploytui.engine.operations.health import serving_dir
from deploytui.engine.redact import redacting_sink
from deploytui.engine.remote.logs import BACKLOG_END, LogSources, logs_script, resolve

RETRY = 1.0  # seconds before the first reconnect; doubled up to RETRY_MAX
RETRY_MAX = 5.0
# what no retry mends: said once, and that host is no longer followed
PERMANENT = (AuthFailed, HostKeyUnknown, HostKeyChanged, HostKeyRevoked)
RESUME_LINES = 1000  # backlog asked for on a reconnect, to find where we were


class LogsRefused(Exception):
    """The request names nothing to show (unknown host or role, no logs configured);
    str() is one line."""


@dataclass(frozen=True)
class LogsRequest:
    project: Project
    environment: Environment
    hosts: tuple[str, ...] = ()  # () = every host of the environment with logs
    roles: tuple[str, ...] = ()  # () = every role; else only these roles' logs
    lines: int = 10  # backlog per source, as tail's default
    follow: bool = False
    since: float | None = None  # seconds
    grep: str | None = None  # POSIX extended regex, applied on the host


@dataclass
class LogsResult:
    outcome: str  # success | failed | cancelled
    hosts: tuple[str, ...]
    failed: dict[str, str] = field(default_factory=dict)  # host -> one line


def sources(request: LogsRequest) -> dict[str, LogSources]:
    """Host name -> what it shows, in the environment's order; raises LogsRefused."""
    project, env = request.project, request.environment
    names = [h.name for h in env.hosts]
    for name in request.hosts:
        if name not in names:
            raise LogsRefused(f"no host '{name}' in {project.name}/{env.name} "
                              f"(hosts: {', '.join(names)})")
    for role in request.roles:
        if role not in project.roles:
            raise LogsRefused(f"no role '{role}' in project {project.name} "
                              f"(roles: {', '.join(project.roles) or 'none'})")
    chosen = [h for h in env.hosts if not request.hosts or h.name in request.hosts]
    if request.roles:
        chosen = [h for h in chosen if set(request.roles) & set(h.roles)]
        if not chosen:
            raise LogsRefused(f"no chosen host of {project.name}/{env.name} has role "
                              f"{', '.join(request.roles)}")
    out: dict[str, LogSources] = {}
    for host in chosen:
        found = _host_sources(project, host, request.roles)
        if found is not None:
            out[host.name] = found
        elif request.hosts:
            raise LogsRefused(f"{host.name}: no logs configured for its roles "
                              f"({', '.join(host.roles) or 'none'}); add `logs:` or "
                              "`logs_command:` to a role")
    if not out:
        raise LogsRefused(f"no logs configured in {project.name}/{env.name}: add `logs:` "
                          "or `logs_command:` to a role (see config.example.yml)")
    return out


def _host_sources(project: Project, host: Host, roles: Sequence[str]) -> LogSources | None:
    serving = serving_dir(project, host)
    files: list[str] = []
    commands: list[str] = []
    for role in project.roles_of(host):
        if roles and role.name not in roles:
            continue
        files.extend(resolve(path, serving) for path in role.logs)
        if role.logs_command:
            commands.append(role.logs_command)
    if not files and not commands:
        return None
    return LogSources(tuple(dict.fromkeys(files)), tuple(dict.fromkeys(commands)), serving)


def check_grep(pattern: str) -> str | None:
    """A one-line problem with the pattern, or None. Checked here (Python's syntax is a
    superset of grep -E's for what people write) so a typo fails before any host."""
    try:
        re.compile(pattern)
    except re.error as exc:
        return f"--grep: not a valid regular expression: {exc}"
    return None


def show_logs(config: Config, request: LogsRequest, *, sink: Sink,
              cancel: threading.Event | None = None, factory: TransportFactory | None = None,
              resolver: Any = None, retry: float = RETRY) -> LogsResult:
    """Show (and with `request.follow`, follow until `cancel`) the chosen hosts' logs,
    the project's secrets (those `resolver` knows; by default project_secrets) masked.
    Raises LogsRefused before connecting anything when there is nothing to show."""
    chosen = sources(request)
    cancel = cancel or threading.Event()
    sink = redacting_sink(sink, resolver or project_secrets(request.project))
    hosts = [h for h in request.environment.hosts if h.name in chosen]
    pool = HostPool(hosts, factory or transport_factory(config),
                    max_parallel=max(config.ssh.max_parallel, len(hosts)))
    try:
        outcomes = pool.map(
            lambda host, _t: _Follower(pool, host, chosen[host.name], request, sink, cancel,
                                       retry).run(),
            need_transport=False, step="logs")
    finally:
        pool.close()
    failed = {name: o.failure.reason for name, o in outcomes.items() if o.failure}
    failed.update({name: o.value for name, o in outcomes.items() if o.ok and o.value})
    outcome = "cancelled" if cancel.is_set() else "failed" if failed else "success"
    return LogsResult(outcome, tuple(chosen), failed)


def project_secrets(project: Project) -> Any:
    """A resolver that knows the project's secrets (its `env:` and sudo password), so an
    app that logs them shows ****. Best effort and quiet: reading logs needs no secret,
    so one that cannot be had (no keyring, no DEPLOYTUI_SECRET_*) is only not redacted,
    and nothing is ever prompted for."""
    from deploytui.config.secrets import SecretResolver

    resolver = SecretResolver(warn=lambda _message: None)
    for value in (*project.env.values(), project.sudo_password):
        if value is not None and not isinstance(value, str):
            with contextlib.suppress(Exception):
                resolver.resolve(value)
    return resolver


class _Follower:
    """One host: connect, run the script, and (following) come back after a drop.
    `run` returns None, or one line saying why this host's logs could not be shown."""

    def __init__(self, pool: HostPool, host: Host, sources: LogSources, request: LogsRequest,
                 sink: Sink, cancel: threading.Event, retry: float) -> None:
        self.pool, self.host, self.name = pool, host, host.name
        self.sources, self.request, self.sink, self.cancel = sources, request, sink, cancel
        self.retry = retry
        self.last: str | None = None  # the newest stdout line shown
        self.lost = False
        self.connected = False  # once: a later drop is "lost", an early one "cannot connect"

    def say(self, state: str, text: str = "") -> None:
        self.sink(LogFollow(host=self.name, state=state, text=text))  # type: ignore[arg-type]

    def run(self) -> str | None:
        delay, resumed = self.retry, False
        while not self.cancel.is_set():
            try:
                transport = self.pool.transports.get(self.name) or self.pool.open(self.host)
                if self.lost:
                    self.lost, delay = False, self.retry
                    self.say("following", "back; following again" if self.connected
                             else "connected; following")
                elif not resumed:
                    self.say("following")
                self.connected = True
                result = self._run(transport, resumed)
            except Cancelled:
                return None
            except TransportError as exc:
                reason = failure_of(self.name, exc, "logs").reason
                if not self.request.follow or isinstance(exc, PERMANENT):
                    self.say("failed", f"could not show logs: {reason}")
                    return reason
                self._drop()
                if not self.lost:
                    self.lost = True
                    said = "" if reason.startswith("connection lost") else f" ({reason})"
                    what = "lost connection" if self.connected else "cannot connect"
                    self.say("lost", f"{what}{said}; retrying")
                resumed = True
                if self.cancel.wait(delay):
                    return None
                delay = min(delay * 2, RETRY_MAX)
                continue
            if self.request.follow and not self.cancel.is_set():
                self.say("ended", f"logs ended (exit {result.exit_code}); no longer followed")
            return None
        return None

    def _drop(self) -> None:
        transport = self.pool.transports.pop(self.name, None)
        if transport is not None:
            transport.close()

    def _run(self, transport: Transport, resumed: bool):
        request = self.request
        lines = max(request.lines, RESUME_LINES) if resumed else request.lines
        script = logs_script(self.sources, lines=lines, follow=request.follow,
                             since=request.since, grep=request.grep)
        reader = _Lines(self, backlog=request.follow,
                        after=self.last if resumed else None, resumed=resumed)
        return transport.run(script, on_lines=reader, cancel=self.cancel)


class _Lines:
    """The transport's line callback for one run of the script: batches to the sink,
    the backlog marker taken out, and after a reconnect the backlog cut after `after`."""

    def __init__(self, follower: _Follower, *, backlog: bool, after: str | None,
                 resumed: bool) -> None:
        self.f = follower
        self.in_backlog = backlog
        self.resumed = resumed
        self.after = after
        self.held: list[str] = []

    def __call__(self, lines: list[str], stream: Stream) -> None:
        if stream == "err":
            self.f.sink(HostLines(host=self.f.name, lines=tuple(lines), stream="err"))
            return
        if self.in_backlog:
            if BACKLOG_END not in lines:
                self._backlog(lines)
                return
            at = lines.index(BACKLOG_END)
            self._backlog(lines[:at])
            self.in_backlog = False
            self._end_backlog()
            lines = lines[at + 1:]
        self._emit(lines)

    def _backlog(self, lines: list[str]) -> None:
        if self.resumed:
            self.held.extend(lines)  # cut once it is whole (at the marker)
        else:
            self._emit(lines)

    def _end_backlog(self) -> None:
        if not self.resumed:
            return
        held, self.held = self.held, []
        if self.after is not None and self.after in held:
            held = held[len(held) - held[::-1].index(self.after):]
        elif self.after is None:  # nothing shown before the drop: the usual backlog
            n = self.f.request.lines
            held = held[len(held) - n:] if n else []
        elif len(held) >= RESUME_LINES:  # more was written meanwhile than we read back
            self.f.say("following", f"more than {len(held)} lines were written while it was"
                                    f" away: only the last {len(held)} are shown")
        self._emit(held)

    def _emit(self, lines: list[str]) -> None:
        if lines:
            self.f.last = lines[-1]
            self.f.sink(HostLines(host=self.f.name, lines=tuple(lines)))
