"""The engine's one output channel: typed events sent to a sink callable.

The engine never knows who listens (CLI printer, console, journal, notifier). Sinks are
called from engine threads, so they must be thread-safe and cheap: a sink that needs
to do slow work (HTTP, UI repaint) queues the event and returns.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Literal

OperationName = Literal["deploy", "rollback", "prune", "catch-up", "run"]
Outcome = Literal["success", "failed", "cancelled", "rolled_back", "unchanged"]
# rolled_back: unhealthy, undone; unchanged: every host already served that commit


@dataclass(frozen=True)
class Event:
    at: float = field(default_factory=time.time, kw_only=True)


@dataclass(frozen=True)
class DeployStarted(Event):
    operation: OperationName
    project: str
    environment: str
    hosts: tuple[str, ...]
    user: str  # user@machine
    strategy: str = ""
    ref: str = ""
    sha: str = ""
    release_id: str = ""
    excluded: tuple[str, ...] = ()  # hosts left out on purpose (deploy --exclude)
    op_id: str = ""  # the operation's id: the fleet record's and the journal's key


@dataclass(frozen=True)
class PhaseStarted(Event):
    phase: str  # preflight, prepare, barrier, once, switch, restart, finish
    hosts: tuple[str, ...] = ()


@dataclass(frozen=True)
class PhaseFinished(Event):
    phase: str
    ok: bool


@dataclass(frozen=True)
class HostLine(Event):
    host: str
    line: str
    stream: Literal["out", "err", "info"] = "out"


@dataclass(frozen=True)
class HostLines(Event):
    """Several consecutive lines of one host's stream, as one read delivered them.

    Output travels in batches so that a flood costs one hand-off per read, not per line
    (every sink takes one lock and makes one write per batch). Order within a host and
    stream is the order of `lines`.
    """

    host: str
    lines: tuple[str, ...]
    stream: Literal["out", "err", "info"] = "out"


@dataclass(frozen=True)
class HostStepStarted(Event):
    host: str
    phase: str
    step: str  # a short description or the command


@dataclass(frozen=True)
class HostStepDone(Event):
    host: str
    phase: str
    step: str
    duration: float
    exit_code: int = 0


@dataclass(frozen=True)
class HostFailed(Event):
    host: str
    phase: str
    step: str
    reason: str  # one line, already redacted


@dataclass(frozen=True)
class Switched(Event):
    host: str
    release_id: str
    previous: str | None


@dataclass(frozen=True)
class SwitchedBack(Event):
    host: str
    release_id: str | None  # what `current` points at again


@dataclass(frozen=True)
class HealthChecked(Event):
    """A role's health check on a host passed or gave up; `saw` is its last attempt."""

    host: str
    role: str
    healthy: bool
    check: str  # "GET http://10.0.0.1:8000/up" or "$ systemctl is-active shop"
    saw: str  # one line: "HTTP 200: ok", "connection refused (not healthy within 30s...)"
    duration: float = 0.0


@dataclass(frozen=True)
class Commit:
    sha: str  # abbreviated
    subject: str
    author: str


@dataclass(frozen=True)
class Shipping(Event):
    """What a deploy ships: the commits between the release the hosts serve and the new
    one, sent once the hosts are locked and their current release is known."""

    previous_sha: str  # "" when unknown: a first deploy, a release without REVISION
    sha: str
    direction: str  # forward | back | diverged | same | unknown (old sha not in the repo)
    commits: tuple[Commit, ...] = ()  # newest first, at most shipping.SHIPPED_LIMIT
    total: int = 0  # every commit in that direction (commits may be cut)
    compare_url: str = ""  # GitHub/GitLab compare page, when the repo is on one


@dataclass(frozen=True)
class DeployFinished(Event):
    operation: OperationName
    outcome: Outcome
    duration: float
    release_id: str = ""
    failed_hosts: dict[str, str] = field(default_factory=dict)  # host -> "step: reason"
    error: str = ""  # one line for the whole run, when it failed
    forced: tuple[str, ...] = ()  # overrides used: break-lock, force-freeze, force
    freeze: str = ""  # the freeze in force while it ran (a forced deploy, a rollback)


@dataclass(frozen=True)
class LogFollow(Event):
    """A host's log stream (`deploytui logs`) changed: following (again), lost (retrying),
    ended by itself, or failed (it could not be shown). `text` is what to say, or ""."""

    host: str
    state: Literal["following", "lost", "ended", "failed"]
    text: str = ""


Sink = Callable[[Event], None]


def each_line(events: Iterable[Event]) -> Iterator[HostLine]:
    """Every output line in `events`, batches unpacked (for listeners that read lines)."""
    for event in events:
        if isinstance(event, HostLine):
            yield event
        elif isinstance(event, HostLines):
            for line in event.lines:
                yield HostLine(host=event.host, line=line, stream=event.stream, at=event.at)


def discard(event: Event) -> None:
    """A sink that drops everything (tests, dry runs)."""


class Broadcast:
    """Fan one event out to several sinks; a failing sink never breaks a deploy."""

    def __init__(self, sinks: Iterable[Sink]) -> None:
        self._sinks = list(sinks)
        self.errors: list[str] = []

    def add(self, sink: Sink) -> None:
        self._sinks.append(sink)

    def __call__(self, event: Event) -> None:
        for sink in self._sinks:
            try:
                sink(event)
            except Exception as exc:  # a listener's bug must not abort a deploy
                self.errors.append(f"{type(exc).__name__}: {exc}")


class Recorder:
    """Keeps every event; the tests' and the console's way to read what happened."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.events: list[Event] = []

    def __call__(self, event: Event) -> None:
        with self._lock:
            self.events.append(event)

    def of(self, kind: type) -> list:
        with self._lock:
            return [e for e in self.events if isinstance(e, kind)]

    def lines(self) -> list[HostLine]:
        """Every output line, one HostLine each (batches unpacked), in order."""
        with self._lock:
            return list(each_line(self.events))
