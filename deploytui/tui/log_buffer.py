"""Per-host output buffers between engine threads and the console's one UI timer.

Engine threads call the buffer as a sink: it only appends under a lock and records
status changes. The console drains it on a timer (docs/console.md: never one UI
call per line). No Textual import here, so it is testable on its own.
"""

from __future__ import annotations

import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from deploytui.engine.events import (
    DeployFinished,
    DeployStarted,
    Event,
    HealthChecked,
    HostFailed,
    HostLine,
    HostLines,
    HostStepDone,
    HostStepStarted,
    LogFollow,
    PhaseFinished,
    PhaseStarted,
    Switched,
    SwitchedBack,
)

_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]")
# every escape sequence except SGR (colour/bold: `ESC [ … m`), which the log pane renders
_NOT_SGR = re.compile(r"\x1b\[[0-?]*[ -/]*[@-ln-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)"
                      r"|\x1b[@-Z\\-_]|\x1b(?!\[)")
_SGR = re.compile(r"\x1b\[[0-?]*[ -/]*m")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_CONTROL_BUT_ESC = re.compile(r"[\x00-\x08\x0b-\x1a\x1c-\x1f\x7f]")


def clean_line(line: str, *, colour: bool = False) -> str:
    """One printable line: a `\\r` progress redraw reduced to its last state, escape
    sequences removed, except (with `colour`) SGR colour codes for the log pane."""
    if line.isprintable():  # the common case (no ESC, \r, \t or control): no regex work
        return line
    line = (_NOT_SGR if colour else _ANSI).sub("", line)
    if "\r" in line:
        parts = [p for p in line.split("\r") if p]
        line = parts[-1] if parts else ""
    return (_CONTROL_BUT_ESC if colour else _CONTROL).sub("", line.replace("\t", "    "))


SHOWN_CHARS = 10_000  # a longer line is shortened in the console (whole in the log file)


def shortened(line: str) -> str:
    if len(line) <= SHOWN_CHARS:
        return line
    return f"{line[:SHOWN_CHARS]}… ({len(line) - SHOWN_CHARS} more characters in the log file)"


def plain(line: str) -> str:
    """`line` without its colour codes (for one-line summaries such as the hosts table)."""
    return _SGR.sub("", line) if "\x1b" in line else line


@dataclass(frozen=True)
class HostState:
    """What the hosts table shows for one host during an operation."""

    status: str = "idle"  # idle, running, done, failed, switched
    phase: str = ""
    step: str = ""
    started: float | None = None
    finished: float | None = None
    last_line: str = ""
    error: str = ""
    health: str = ""  # "", "healthy" or "unhealthy": the last check seen for the host


@dataclass(frozen=True)
class PhaseProgress:
    phase: str = ""
    total: int = 0
    done: int = 0
    ok: bool | None = None  # None while running


@dataclass
class Drained:
    """What changed since the last tick."""

    lines: dict[str, list[str]] = field(default_factory=dict)  # host -> new lines
    all_lines: list[str] = field(default_factory=list)  # "host │ line"
    states: dict[str, HostState] = field(default_factory=dict)  # changed hosts only
    progress: PhaseProgress | None = None  # when it changed
    started: DeployStarted | None = None
    finished: DeployFinished | None = None

    @property
    def empty(self) -> bool:
        return not (self.lines or self.states or self.progress or self.started
                    or self.finished)


class LogBuffer:
    """Thread-safe sink keeping the last `max_lines` per host and the pending changes."""

    def __init__(self, max_lines: int = 5000, clock: Callable[[], float] = time.monotonic,
                 ) -> None:
        self.max_lines = max(1, max_lines)
        self._clock = clock
        self._lock = threading.Lock()
        self._lines: dict[str, deque[str]] = {}
        self._all: deque[str] = deque(maxlen=self.max_lines)
        self._pending: dict[str, deque[str]] = {}
        self._pending_all: deque[str] = deque(maxlen=self.max_lines)
        self._states: dict[str, HostState] = {}
        # host -> newest non-blank line: kept apart from HostState so that a line costs a
        # dict store, not a new (GC-tracked) dataclass; merged when the UI reads states
        self._last: dict[str, str] = {}
        self._prefixes: dict[str, str] = {}  # host -> "host         │ " (all-hosts view)
        self._changed: set[str] = set()
        self._phase_hosts: dict[str, set[str]] = {}
        self._busy: set[str] = set()
        self._switched: set[str] = set()  # hosts that switched in this operation
        self._progress = PhaseProgress()
        self._progress_changed = False
        self._started: DeployStarted | None = None
        self._finished: DeployFinished | None = None
        self.prefix_width = 12

    # -- engine side (any thread) ------------------------------------------------------
    def __call__(self, event: Event) -> None:
        with self._lock:
            self._apply(event)

    def reset(self) -> None:
        with self._lock:
            self._lines.clear()
            self._all.clear()
            self._pending.clear()
            self._pending_all.clear()
            self._states.clear()
            self._switched.clear()
            self._last.clear()
            self._changed.clear()
            self._busy.clear()  # a host cancelled mid-step is not busy in the next operation
            self._phase_hosts.clear()
            self._progress = PhaseProgress()
            self._progress_changed = True
            self._started = self._finished = None

    def _apply(self, event: Event) -> None:
        if isinstance(event, HostLines):
            lines = list(event.lines)
            if not "".join(lines).isprintable():  # one C-speed scan for the whole batch
                lines = [clean_line(ln, colour=True) for ln in lines]
            if max(map(len, lines), default=0) > SHOWN_CHARS:
                lines = [shortened(ln) for ln in lines]
            self._extend(event.host, lines)
        elif isinstance(event, HostLine):
            self._append(event.host, shortened(clean_line(event.line, colour=True)))
        elif isinstance(event, HostStepStarted):
            self._busy.add(event.host)
            state = self._state(event.host)
            self._set(event.host, replace(state, status="running", phase=event.phase,
                                          step=event.step,
                                          started=state.started or self._clock()))
            self._count_phase()
        elif isinstance(event, HostStepDone):
            self._busy.discard(event.host)
            self._set(event.host, replace(self._state(event.host), step=event.step))
            self._count_phase()
        elif isinstance(event, HostFailed):
            self._busy.discard(event.host)
            self._set(event.host, replace(self._state(event.host), status="failed",
                                          phase=event.phase, step=event.step,
                                          error=event.reason, finished=self._clock()))
            self._append(event.host, f"FAILED in {event.phase} ({event.step}): {event.reason}")
            self._count_phase()
        elif isinstance(event, Switched):
            self._switched.add(event.host)
            self._set(event.host, replace(self._state(event.host), status="switched"))
            self._append(event.host, f"switched current -> {event.release_id}")
        elif isinstance(event, SwitchedBack):
            self._append(event.host, f"switched back current -> {event.release_id or '-'}")
        elif isinstance(event, HealthChecked):
            verdict = "healthy" if event.healthy else "unhealthy"
            self._set(event.host, replace(self._state(event.host), health=verdict))
            shown = verdict if event.healthy else verdict.upper()
            self._append(event.host, f"health {event.role}: {shown}: {event.check} -> {event.saw}")
        elif isinstance(event, LogFollow):  # `logs`: following, lost, ended, failed
            self._set(event.host, replace(self._state(event.host), status=event.state))
            if event.text:
                self._append(event.host, event.text)
        elif isinstance(event, PhaseStarted):
            hosts = set(event.hosts) or set(self._states)
            self._phase_hosts[event.phase] = hosts
            self._progress = PhaseProgress(event.phase, len(hosts), 0)
            self._progress_changed = True
            for host in hosts:
                state = self._state(host)
                if state.status != "failed":
                    self._set(host, replace(state, phase=event.phase))
        elif isinstance(event, PhaseFinished):
            p = self._progress
            if p.phase == event.phase:  # a phase that stopped short is not shown as 100%
                self._progress = replace(p, done=p.total if event.ok else p.done, ok=event.ok)
                self._progress_changed = True
        elif isinstance(event, DeployStarted):
            self._started = event
            self._switched.clear()
            now = self._clock()
            for host in event.hosts:
                self._set(host, HostState(status="running", phase="preflight", started=now))
        elif isinstance(event, DeployFinished):
            self._finished = event
            now = self._clock()
            for host, state in list(self._states.items()):
                if state.status == "failed":
                    continue
                status = {"success": "done", "cancelled": "cancelled"}.get(event.outcome,
                                                                           "stopped")
                if event.outcome == "rolled_back" and host in self._switched:
                    status = "rolled back"  # the others never switched: stopped
                self._set(host, replace(state, status=status, step="", finished=now))

    def _count_phase(self) -> None:
        p = self._progress
        hosts = self._phase_hosts.get(p.phase, set())
        done = sum(1 for h in hosts if h not in self._busy
                   and (self._states.get(h, HostState()).phase == p.phase
                        or self._states.get(h, HostState()).status == "failed"))
        if done != p.done:
            self._progress = replace(p, done=done)
            self._progress_changed = True

    def _state(self, host: str) -> HostState:
        return self._states.get(host) or HostState()

    def _set(self, host: str, state: HostState) -> None:
        self._states[host] = state
        self._changed.add(host)

    def _append(self, host: str, line: str) -> None:
        self._extend(host, [line])

    def _extend(self, host: str, lines: list[str]) -> None:
        """A batch: plain strings into bounded deques (strings are not GC-tracked); only
        the last `max_lines` of a flood are ever kept, so only they are prefixed."""
        kept = self._lines.get(host)
        if kept is None:
            kept = self._lines[host] = deque(maxlen=self.max_lines)
            self._pending[host] = deque(maxlen=self.max_lines)
            self._prefixes[host] = f"{host:<{self.prefix_width}} │ "
        recent = lines[-self.max_lines:]
        kept.extend(recent)
        self._pending[host].extend(recent)
        prefix = self._prefixes[host]
        tagged = [prefix + line for line in recent]
        self._all.extend(tagged)
        self._pending_all.extend(tagged)
        for line in reversed(recent):
            if line.strip():
                self._last[host] = plain(line)
                if host not in self._states:
                    self._states[host] = HostState()
                self._changed.add(host)
                break

    def _view(self, host: str) -> HostState:
        """The state with its newest line merged in (stored back: read again, no copy)."""
        state = self._states[host]
        last = self._last.get(host)
        if last is not None and last != state.last_line:
            state = self._states[host] = replace(state, last_line=last)
        return state

    # -- UI side (the timer) -----------------------------------------------------------
    def drain(self) -> Drained:
        """Everything new since the last call; cheap when nothing happened."""
        with self._lock:
            out = Drained()
            for host, pending in self._pending.items():
                if pending:
                    out.lines[host] = list(pending)
                    pending.clear()
            if self._pending_all:
                out.all_lines = list(self._pending_all)
                self._pending_all.clear()
            out.states = {h: self._view(h) for h in self._changed if h in self._states}
            self._changed.clear()
            if self._progress_changed:
                out.progress = self._progress
                self._progress_changed = False
            out.started, self._started = self._started, None
            out.finished, self._finished = self._finished, None
            return out

    def lines(self, host: str | None) -> list[str]:
        """The kept lines of one host, or of all hosts (prefixed) when host is None."""
        with self._lock:
            if host is None:
                return list(self._all)
            return list(self._lines.get(host, ()))

    def states(self) -> dict[str, HostState]:
        with self._lock:
            return {h: self._view(h) for h in self._states}

    def progress(self) -> PhaseProgress:
        with self._lock:
            return self._progress
