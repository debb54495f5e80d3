"""One named command on one host: the unit every operation runs and reports.

Every remote step of an operation goes through `run_step` (or the framed script of
several steps, remote/script.py), so every step reports the same events (started, each
output line, done or failed) and fails the same way: a StepFailed whose message is one
line naming the host and the step.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from deploytui.engine.events import (
    HostFailed,
    HostLines,
    HostStepDone,
    HostStepStarted,
    Sink,
)
from deploytui.engine.failure import Failure, Kind
from deploytui.engine.hosts.transport import (
    Cancelled,
    CommandResult,
    ConnectionLost,
    Transport,
    TransportError,
    Unreachable,
)
from deploytui.engine.shell import q


@dataclass(frozen=True)
class Step:
    name: str  # short, shown in events and errors: "fetch", "build: make"
    command: str = ""  # shell text run on the host ("" for an upload)
    upload: Path | None = None  # a local file to upload to `remote`
    remote: str = ""
    # deploytui's own text that never `cd`s or sets shell options: in a script it runs in
    # the script's shell, without a subshell's fork (remote/script.py). The user's
    # commands (build, tasks, hooks) never are.
    inline: bool = False

    def display(self) -> str:
        if self.upload is not None:
            return f"upload {self.upload.name} -> {self.remote}"
        return self.command



class StepFailed(Exception):
    """A step failed on a host; str() is `host: step: reason`, one line."""

    def __init__(self, host: str, step: str, reason: str, *, cancelled: bool = False,
                 lost: bool = False, exit_code: int | None = None) -> None:
        super().__init__(f"{host}: {step}: {reason}")
        self.host = host
        self.step = step
        self.reason = reason
        self.cancelled = cancelled
        self.lost = lost  # the host stopped answering: later cleanup is best effort
        self.exit_code = exit_code  # the command ran and exited with this (non-zero)

    @property
    def failure(self) -> Failure:
        kind: Kind = "cancelled" if self.cancelled else "lost" if self.lost else "failed"
        return Failure(self.host, self.step, self.reason, kind)


def in_dir(cwd: str, command: str) -> str:
    """`command` (the user's shell text) run inside `cwd` (quoted)."""
    return f"cd {q(cwd)} || exit 1\n{command}"


def run_step(transport: Transport, phase: str, step: str, command: str, *, sink: Sink,
             cancel: threading.Event | None = None, timeout: float | None = None,
             env: Mapping[str, str] | None = None) -> CommandResult:
    """Run one command as a named step; raises StepFailed unless it exits 0."""
    host = transport.name
    sink(HostStepStarted(host=host, phase=phase, step=step))
    if cancel is not None and cancel.is_set():
        raise StepFailed(host, step, "cancelled", cancelled=True)

    def lines(batch: list[str], stream: str) -> None:
        sink(HostLines(host=host, lines=tuple(batch), stream="err" if stream == "err" else "out"))

    started = time.monotonic()
    try:
        result = transport.run(command, on_lines=lines, timeout=timeout, cancel=cancel,
                               env=dict(env) if env else None)
    except Cancelled:
        raise StepFailed(host, step, "cancelled", cancelled=True) from None
    except TransportError as exc:
        reason = exc.message
        sink(HostFailed(host=host, phase=phase, step=step, reason=reason))
        raise StepFailed(host, step, reason,
                         lost=isinstance(exc, ConnectionLost | Unreachable)) from None
    sink(HostStepDone(host=host, phase=phase, step=step, duration=time.monotonic() - started,
                      exit_code=result.exit_code))
    if not result.ok:
        reason = result.last_line()
        if reason != f"exit status {result.exit_code}":
            reason = f"{reason} (exit {result.exit_code})"
        sink(HostFailed(host=host, phase=phase, step=step, reason=reason))
        raise StepFailed(host, step, reason, exit_code=result.exit_code)
    return result
